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


def ensure_serac_importable():
    link_dir = os.path.join(ROOT, "build", "pluginpath")
    link = os.path.join(link_dir, "serac")
    if not os.path.exists(link):
        os.makedirs(link_dir, exist_ok=True)
        os.symlink(ROOT, link, target_is_directory=True)
    if link_dir not in sys.path:
        sys.path.insert(0, link_dir)


def rerun(tool):
    ensure_serac_importable()
    runpy.run_module(f"serac.models.{tool}", run_name="__main__", alter_sys=True)
    sys.exit(0)
