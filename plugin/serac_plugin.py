"""The Serac QGIS plugin: Processing provider, "Serac" menu and toolbar."""

import os

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QMenu, QToolButton

from ..core.errors import DEPENDENCY_MENU
from ..processing_provider.base_algorithm import ICON_DIR
from ..processing_provider.provider import PROVIDER_ID, SeracProvider
from .qt_compat import QAction

ICON = os.path.join(ICON_DIR, "serac.svg")


class SeracPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.menu = None
        self.toolbar = None
        self.actions = []
        self.review_dock = None

    # Processing ------------------------------------------------------------------
    def initProcessing(self):  # noqa: N802 (QGIS calls this name, also for qgis_process)
        if self.provider is None:
            registry = QgsApplication.processingRegistry()
            stale = registry.providerById(PROVIDER_ID)  # e.g. left by a plugin reload
            if stale is not None:
                registry.removeProvider(stale)
            self.provider = SeracProvider()
            registry.addProvider(self.provider)

    # GUI -------------------------------------------------------------------------
    def initGui(self):  # noqa: N802
        self.initProcessing()
        main_window = self.iface.mainWindow()
        self.menu = QMenu("Serac", main_window)
        self.menu.setObjectName("seracMenu")
        self.toolbar = self.iface.addToolBar("Serac")
        self.toolbar.setObjectName("seracToolbar")
        for alg in sorted(self.provider.algorithms(), key=lambda a: (a.group(), a.displayName())):
            self._add_action(alg.displayName(), alg.icon(), self._opener(alg.id()), menu_group=alg.group())
        self._group_buttons()
        self.menu.addSeparator()
        review = self._add_action("Outline review", QIcon(os.path.join(ICON_DIR, "review.svg")),
                                  self.toggle_review_dock)
        self.toolbar.addAction(review)
        self._add_action(DEPENDENCY_MENU.split(" > ")[-1], QIcon(os.path.join(ICON_DIR, "dependencies.svg")),
                         self.show_dependencies)
        menubar = main_window.menuBar()
        help_menu = self.iface.helpMenu() if hasattr(self.iface, "helpMenu") else None
        if isinstance(help_menu, QMenu):
            menubar.insertMenu(help_menu.menuAction(), self.menu)
        else:
            menubar.addMenu(self.menu)

    def _group_buttons(self):
        """A short toolbar: one button per algorithm group, with the group's icon, opening its menu."""
        for group_menu in [a.menu() for a in self.menu.actions() if a.menu() is not None]:
            algorithms = [a for a in group_menu.actions() if not a.isSeparator()]
            button = QToolButton(self.toolbar)
            button.setMenu(group_menu)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            button.setIcon(algorithms[0].icon() if algorithms else QIcon(ICON))
            button.setToolTip(f"Serac: {group_menu.title()}")
            button.setObjectName(f"seracGroup_{group_menu.title()}")
            self.toolbar.addWidget(button)

    def _add_action(self, text, icon, callback, menu_group=None):
        action = QAction(icon, text, self.iface.mainWindow())
        action.triggered.connect(callback)
        target = self.menu
        if menu_group:
            target = next((m.menu() for m in self.menu.actions() if m.menu() and m.text() == menu_group), None)
            if target is None:
                target = self.menu.addMenu(menu_group)
        target.addAction(action)
        self.actions.append(action)
        return action

    @staticmethod
    def _opener(algorithm_id):
        def open_dialog():
            import processing

            processing.execAlgorithmDialog(algorithm_id, {})

        return open_dialog

    def toggle_review_dock(self):
        """Show the "Outline review" dock (created on first use), or hide it if visible."""
        if self.review_dock is None:
            from .review.dock import ReviewDock

            self.review_dock = ReviewDock(self.iface)
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.review_dock)
            self.review_dock.show()
            return self.review_dock
        if self.review_dock.isHidden():
            self.review_dock.show()
            self.review_dock.raise_()
        else:
            self.review_dock.hide()
        return self.review_dock

    def show_dependencies(self):
        from .dependency_dialog import DependencyDialog

        DependencyDialog(self.iface.mainWindow()).exec()

    def unload(self):
        if self.review_dock is not None:
            self.review_dock.close()  # saves pending review edits
            self.iface.removeDockWidget(self.review_dock)
            self.review_dock.deleteLater()
            self.review_dock = None
        for action in self.actions:
            self.iface.removeToolBarIcon(action)
        self.actions = []
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.menu is not None:
            self.menu.menuAction().setVisible(False)
            self.menu.deleteLater()
            self.menu = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None


__all__ = ["SeracPlugin", "PROVIDER_ID"]
