"""Qt 6 / QGIS 4 readiness of every Python file (metadata.txt says supportsQt6=True).

Static checks, no QGIS needed:
* Qt only through ``qgis.PyQt`` (no ``PyQt5``/``PyQt6``/``sip`` imports), and no names that
  moved in Qt 6 imported from their Qt 5 module (QAction & co. are in QtGui there);
* no ``exec_()`` (gone in PyQt6);
* enums scoped: ``Qt.AlignmentFlag.AlignLeft``, not ``Qt.AlignLeft``. PyQt6 and QGIS 4 drop
  the unscoped names. An access ``Class.Name`` on a class imported from Qt or QGIS, where
  ``Name`` is capitalised and neither a constant (ALL_CAPS) nor itself scoped further
  (``Class.Enum.Value``) nor called, is an unscoped enum value.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".venv", "build", "dist", ".git", "demo_output", "__pycache__"}
QT_MODULES = ("PyQt5", "PyQt6", "qgis.PyQt", "qgis.core", "qgis.gui", "qgis.analysis", "qgis._core", "qgis._gui")
MOVED_TO_QTGUI = {"QAction", "QActionGroup", "QShortcut", "QUndoCommand", "QUndoStack", "QFileSystemModel"}
# Capitalised attributes of Qt/QGIS classes that are not enum values: nested enum types named
# on their own (to look a member up by name, or as the QGIS < 3.36 fallback of a scoped Qgis enum).
NOT_ENUM_VALUES = {"QMetaType": {"Type"}, "QgsProcessingParameterNumber": {"Type"}, "QgsSymbolLayer": {"Property"}}


def python_files():
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
            yield path


def _qt_names(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(QT_MODULES):
            names.update(a.asname or a.name for a in node.names)
    return names


def problems(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    qt_names = _qt_names(tree)
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("PyQt5", "PyQt6", "sip"):
                    found.append(f"{where}: 'import {alias.name}' (use qgis.PyQt)")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in ("PyQt5", "PyQt6", "sip"):
                found.append(f"{where}: 'from {node.module} import' (use qgis.PyQt)")
            in_try = isinstance(parents.get(node), ast.Try)  # a try/except ImportError shim
            if node.module == "qgis.PyQt.QtWidgets" and not in_try:
                for alias in node.names:
                    if alias.name in MOVED_TO_QTGUI:
                        found.append(f"{where}: {alias.name} is in QtGui in Qt 6 (import it from qgis.PyQt.QtGui)")
        elif isinstance(node, ast.Attribute):
            if node.attr == "exec_":
                found.append(f"{where}: exec_() is gone in PyQt6 (use exec())")
                continue
            if not (isinstance(node.value, ast.Name) and node.value.id in qt_names):
                continue
            name = node.attr
            if not name[:1].isupper() or name.isupper() or name in NOT_ENUM_VALUES.get(node.value.id, ()):
                continue
            inner, parent = node, parents.get(node)
            while isinstance(parent, (ast.IfExp, ast.BoolOp)) and inner is not getattr(parent, "test", None):
                inner, parent = parent, parents.get(parent)  # (A.Enum if new else B.Enum).Value
            if isinstance(parent, ast.Attribute) and parent.value is inner:
                continue  # Class.Enum.Value (scoped) or Class.Nested.method
            if isinstance(parent, ast.Call) and parent.func is node:
                continue  # a nested class or static method called
            found.append(f"{where}: unscoped enum {node.value.id}.{name}")
    return found


def test_checker_finds_unscoped_enums_and_pyqt5_imports(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from PyQt5.QtCore import Qt\nfrom qgis.PyQt.QtWidgets import QAction\n"
                   "from qgis.core import QgsProcessing, Qgis\n"
                   "a = Qt.AlignLeft\nb = QgsProcessing.TypeVectorPolygon\nd.exec_()\n"
                   "ok = (Qt.AlignmentFlag.AlignLeft, Qgis.GeometryType.Polygon, QgsProcessing.TEMPORARY_OUTPUT)\n"
                   "ok2 = (Qgis.RasterTemporalMode if a else Qgis.VectorTemporalMode).FixedTemporalRange\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        found = problems(bad)
    finally:
        ROOT = old
    assert len(found) == 5, found
    assert any("Qt.AlignLeft" in f for f in found) and any("TypeVectorPolygon" in f for f in found)


def test_no_qt5_only_code():
    found = [p for path in python_files() for p in problems(path)]
    assert not found, "Qt 6 / QGIS 4 would break here:\n" + "\n".join(found)
