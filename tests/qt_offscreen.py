"""Loaded with ``-p tests.qt_offscreen`` (pytest.ini) before pytest-qgis starts QGIS.

pytest-qgis creates the QgsApplication before any conftest is imported, so the
headless Qt platform has to be chosen here. A real display can still be used by
setting QT_QPA_PLATFORM yourself (e.g. ``xcb`` under Xvfb for screenshots).
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp/runtime-" + str(os.getuid()))
os.makedirs(os.environ["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
