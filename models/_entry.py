"""Lets the command-line tools in models/ run as ``python -m models.<tool>`` from the plugin folder.

The code imports the plugin as the package ``serac`` (as QGIS and the tests do). When a
tool is started as ``models.<tool>``, :func:`rerun` makes ``serac`` importable through
``build/pluginpath/serac`` (a link to the plugin folder, the same one tests/conftest.py
makes) and runs ``serac.models.<tool>`` as ``__main__`` instead.
"""

import os
import runpy
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def link_plugin(folder, root=ROOT):
    """Make ``folder/serac`` a link to the checkout ``root`` (remade where it points elsewhere, e.g. a moved
    clone), so that ``folder`` serves as ``QGIS_PLUGINPATH`` or on ``sys.path``; returns ``folder`` (str)."""
    folder, root = os.fspath(folder), os.path.abspath(os.fspath(root))
    link = os.path.join(folder, "serac")
    if os.path.realpath(link) != os.path.realpath(root):
        os.makedirs(folder, exist_ok=True)
        if os.path.islink(link):
            os.unlink(link)
        try:
            os.symlink(root, link, target_is_directory=True)
        except FileExistsError:  # made by a concurrent process meanwhile
            pass
    return folder


def ensure_serac_importable(root=ROOT):
    """Make the checkout ``root`` (default: this one) importable as the package ``serac``; returns its link folder.

    THE set-up of every entry point outside QGIS (tests/conftest.py, scripts/, benchmarks/, these tools):
    ``root/build/pluginpath`` holds the link (:func:`link_plugin`) and goes first on ``sys.path``, so a
    benchmark child started on another checkout's code (``--compare``) imports that code.
    """
    link_dir = link_plugin(os.path.join(os.path.abspath(os.fspath(root)), "build", "pluginpath"), root)
    if link_dir in sys.path:
        sys.path.remove(link_dir)
    sys.path.insert(0, link_dir)
    return link_dir


def rerun(tool):
    ensure_serac_importable()
    runpy.run_module(f"serac.models.{tool}", run_name="__main__", alter_sys=True)
    sys.exit(0)
