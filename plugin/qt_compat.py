"""Qt 5 / Qt 6 differences in the widgets Serac's GUI uses.

QAction and QShortcut live in QtWidgets under Qt 5 and in QtGui under Qt 6.
"""

try:
    from qgis.PyQt.QtWidgets import QAction, QShortcut
except ImportError:  # Qt 6
    from qgis.PyQt.QtGui import QAction, QShortcut

__all__ = ["QAction", "QShortcut"]
