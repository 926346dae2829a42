"""The help text of each job, read from its Processing algorithm module without importing QGIS.

The algorithm modules (``processing_provider/algorithms``) hold the one help text of each capability
(``SHORT_HELP``, shown beside the QGIS dialog); ``serac <job> --help`` shows the same text. Those
modules import QGIS, which the command line must not need, so their source is parsed, not imported:
string literals, their concatenation with ``+``, and names assigned such strings in the module or
imported from a sibling module (``from .segmentation_common import REVIEW_FIELDS_HELP``).
"""

import ast
import functools
import os

ALGORITHMS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "processing_provider",
                          "algorithms")


def _value(node, names):
    """The string ``node`` evaluates to, with ``names`` for the names it uses; None if not such a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _value(node.left, names), _value(node.right, names)
        return left + right if left is not None and right is not None else None
    return None


def _assignments(body, names):
    """{name: string} of the ``NAME = <string expression>`` statements of ``body``."""
    out = {}
    for item in body:
        if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
            value = _value(item.value, {**names, **out})
            if value is not None:
                out[item.targets[0].id] = value
    return out


@functools.lru_cache(maxsize=None)
def _module(folder, name):
    """(module-level strings, {class name: its strings}) of ``folder/name.py``."""
    path = os.path.join(folder, f"{name}.py")
    if not os.path.isfile(path):
        return {}, {}
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), filename=path)
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            sibling, _ = _module(folder, node.module)
            names.update({a.asname or a.name: sibling[a.name] for a in node.names if a.name in sibling})
    names.update(_assignments(tree.body, names))
    classes = {node.name: _assignments(node.body, names) for node in tree.body if isinstance(node, ast.ClassDef)}
    return names, classes


def help_texts(folder=ALGORITHMS):
    """{job name: help text} of every algorithm class with a ``JOB_NAME`` and a ``SHORT_HELP`` string."""
    texts = {}
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                for constants in _module(folder, name[:-3])[1].values():
                    if "JOB_NAME" in constants and "SHORT_HELP" in constants:
                        texts[constants["JOB_NAME"]] = constants["SHORT_HELP"]
    return texts
