"""The "Outline review" dock: step through predicted outlines or fronts and decide on each.

Works on any polygon or line layer with the review fields (Serac's segmentation
outputs have them all; "Add review fields" adds them to other layers). The map
canvas zooms to each feature with context around it; decisions are saved to the
layer's file at once (see :mod:`.session` for the save policy). A temporary
(memory) layer is never reviewed as if saved: the dock says so and offers
"Save to GeoPackage and continue". Geometry is
edited with QGIS's own tools (vertex tool, reshape, split), reached from the dock.

Keyboard (while the dock has focus): A accept, R reject, E needs edit,
N or → next, P or ← previous, U next unreviewed, Ctrl+Z undo the last decision.
"""

import os

from qgis.core import QgsCoordinateTransform, QgsMapLayerProxyModel, QgsProject
from qgis.gui import QgsHighlight, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor, QKeySequence
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..qt_compat import QAction, QShortcut
from . import fields as F
from . import storage
from .export import export_accepted
from .session import FILTERS, ORDERS, ReviewSession

CONTEXT_FACTOR = 1.6  # the canvas shows the feature's bounding box enlarged by this factor


class ReviewDock(QDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__("Outline review", parent or iface.mainWindow())
        self.setObjectName("SeracOutlineReviewDock")
        self.iface = iface
        self.session = None
        self.highlight = None
        self._build()
        self._shortcuts()
        self.layer_combo.layerChanged.connect(self.set_layer)
        self.set_layer(self.layer_combo.currentLayer())

    # UI ------------------------------------------------------------------------------------
    def _build(self):
        body = QWidget(self)
        layout = QVBoxLayout(body)
        form = QFormLayout()
        self.layer_combo = QgsMapLayerComboBox(body)
        self.layer_combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer | QgsMapLayerProxyModel.Filter.LineLayer)
        self.add_fields_button = QPushButton("Add review fields", body)
        self.add_fields_button.clicked.connect(self.add_fields)
        row = QHBoxLayout()
        row.addWidget(self.layer_combo, 1)
        row.addWidget(self.add_fields_button)
        form.addRow("Layer", row)
        self.order_combo = QComboBox(body)
        for key, label in ORDERS.items():
            self.order_combo.addItem(label, key)
        self.order_combo.currentIndexChanged.connect(
            lambda: self.session and self.session.set_order(self.order_combo.currentData()))
        form.addRow("Order", self.order_combo)
        self.filter_combo = QComboBox(body)
        for key in FILTERS:
            self.filter_combo.addItem("all features" if key == "all" else F.STATUS_LABELS[key], key)
        self.filter_combo.currentIndexChanged.connect(
            lambda: self.session and self.session.set_filter(self.filter_combo.currentData()))
        form.addRow("Show", self.filter_combo)
        layout.addLayout(form)

        self.position_label = QLabel(body)
        self.status_label = QLabel(body)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.position_label)
        layout.addWidget(self.status_label)
        self.progress = QProgressBar(body)
        self.progress.setFormat("%v of %m reviewed")
        layout.addWidget(self.progress)

        self.table = QTableWidget(0, 2, body)
        self.table.setHorizontalHeaderLabels(["Field", "Value"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table, 1)

        self.comment = QLineEdit(body)
        self.comment.setPlaceholderText("Comment (saved with the decision)")
        layout.addWidget(self.comment)

        decide = QHBoxLayout()
        self.accept_button = self._button("Accept (A)", lambda: self.decide(F.ACCEPTED), decide, F.ACCEPTED)
        self.reject_button = self._button("Reject (R)", lambda: self.decide(F.REJECTED), decide, F.REJECTED)
        self.edit_button = self._button("Needs edit (E)", lambda: self.decide(F.NEEDS_EDIT), decide, F.NEEDS_EDIT)
        layout.addLayout(decide)
        nav = QHBoxLayout()
        self.prev_button = self._button("◀ Previous (P)", lambda: self._step(-1), nav)
        self.next_button = self._button("Next (N) ▶", lambda: self._step(1), nav)
        self.unreviewed_button = self._button("Next unreviewed (U)", self.next_unreviewed, nav)
        self.undo_button = self._button("Undo decision", self.undo, nav)
        layout.addLayout(nav)

        tools = QGroupBox("Edit geometry with QGIS tools", body)
        tools_row = QHBoxLayout(tools)
        self._button("Vertex tool", lambda: self._edit_tool("actionVertexTool", None), tools_row)
        self._button("Reshape", lambda: self._edit_tool(None, "mActionReshapeFeatures"), tools_row)
        self._button("Split", lambda: self._edit_tool("actionSplitFeatures", None), tools_row)
        layout.addWidget(tools)

        bottom = QHBoxLayout()
        self._button("Style by status", self.apply_status_style, bottom)
        self._button("Export accepted…", self.export, bottom)
        layout.addLayout(bottom)
        self.save_button = QPushButton("Save to GeoPackage and continue", body)
        self.save_button.setToolTip("Write this temporary layer to a GeoPackage, put the file in its place in the "
                                    "project and go on reviewing there: every decision is then saved to the file.")
        self.save_button.clicked.connect(lambda: self.save_to_geopackage())
        layout.addWidget(self.save_button)
        self.policy_label = QLabel(body)
        self.policy_label.setWordWrap(True)
        layout.addWidget(self.policy_label)
        self.setWidget(body)

    def _button(self, text, slot, row, status=None):
        button = QPushButton(text, self.widget() or self)
        button.clicked.connect(slot)
        if status:
            button.setStyleSheet(f"QPushButton {{ border-left: 6px solid {F.STATUS_COLOURS[status]}; padding: 4px; }}")
        row.addWidget(button)
        return button

    def _shortcuts(self):
        keys = {"A": lambda: self.decide(F.ACCEPTED), "R": lambda: self.decide(F.REJECTED),
                "E": lambda: self.decide(F.NEEDS_EDIT), "N": lambda: self._step(1), "Right": lambda: self._step(1),
                "P": lambda: self._step(-1), "Left": lambda: self._step(-1), "U": self.next_unreviewed,
                "Ctrl+Z": self.undo}
        self.shortcuts = []
        for key, slot in keys.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts.append(shortcut)

    # layer and session ---------------------------------------------------------------------------
    def set_layer(self, layer):
        if self.session is not None:
            self.session.changed.disconnect(self.refresh)
            self.session.close()  # saves pending edits, marking edited features
        self.session = None
        ready = layer is not None and F.is_reviewable(layer) and F.has_review_fields(layer)
        self.add_fields_button.setEnabled(layer is not None and F.is_reviewable(layer) and not ready)
        if ready:
            self.session = ReviewSession(layer, self.order_combo.currentData(), self.filter_combo.currentData())
            self.session.changed.connect(self.refresh)
        self.refresh()

    def add_fields(self):
        layer = self.layer_combo.currentLayer()
        if layer is None:
            return
        try:
            added = F.add_review_fields(layer)
        except RuntimeError as exc:
            QMessageBox.warning(self, "Outline review", str(exc))
            return
        self.iface.messageBar().pushInfo("Outline review", f"Added fields: {', '.join(added)}")
        self.set_layer(layer)

    def save_to_geopackage(self, path=None):
        """Write the (temporary) layer under review to a GeoPackage, replace it in the project by the file
        layer (same name, style and place in the layer tree) and continue the review there.

        ``path`` None asks with a file dialog. Returns the new layer, or None if nothing was saved.
        """
        layer = self.layer_combo.currentLayer()
        if layer is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the layer under review", layer.name() + ".gpkg",
                                                  "GeoPackage (*.gpkg)")
            if not path:
                return None
        if self.session is not None:
            self.session.changed.disconnect(self.refresh)
            self.session.close()
            self.session = None
        try:
            saved = storage.save_as_geopackage(layer, path)
        except RuntimeError as exc:
            QMessageBox.critical(self, "Outline review", str(exc))
            self.set_layer(layer)
            return None
        replace_in_project(layer, saved)
        self.layer_combo.setLayer(saved)
        if self.layer_combo.currentLayer() is not saved:  # combo signals only on a change
            self.set_layer(saved)
        self.iface.messageBar().pushSuccess(
            "Outline review", f"Saved to {storage.file_path(saved)}; the review continues on the file, and each "
                              "decision is saved to it.")
        return saved

    # actions ----------------------------------------------------------------------------------------
    def decide(self, status):
        if self.session is None or self.session.current_id() is None:
            return
        try:
            self.session.decide(status, comment=self.comment.text() or None)
        except RuntimeError as exc:
            QMessageBox.critical(self, "Outline review", str(exc))
        self.comment.clear()
        if not self.session.file_holds_every_decision:
            self.iface.messageBar().pushWarning(
                "Outline review", "The decision is saved, but part of it is still in the '-wal' file next to the "
                                  "GeoPackage (another program holds the file open). Copy both files together.")

    def _step(self, delta):
        if self.session is not None:
            self.session.go_to(self.session.index + delta)

    def next_unreviewed(self):
        if self.session is not None and not self.session.next_unreviewed():
            self.iface.messageBar().pushSuccess("Outline review", "Every feature has been reviewed.")

    def undo(self):
        if self.session is not None and not self.session.undo():
            self.iface.messageBar().pushInfo("Outline review", "No decision to undo in this session.")

    def _edit_tool(self, iface_action, object_name):
        if self.session is None:
            return
        layer = self.session.layer
        self.iface.setActiveLayer(layer)
        if not layer.isEditable():
            layer.startEditing()
        action = getattr(self.iface, iface_action)() if iface_action else \
            self.iface.mainWindow().findChild(QAction, object_name)
        if action is not None:
            action.trigger()

    def apply_status_style(self):
        if self.session is None:
            return
        from ...processing_provider.styles import style_path

        layer = self.session.layer
        name = "review_status_polygons" if F.is_polygon(layer) else "review_status_lines"
        layer.loadNamedStyle(style_path(name))
        layer.triggerRepaint()

    def export(self):
        if self.session is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export accepted outlines", "", "GeoPackage (*.gpkg)")
        if not path:
            return
        if not path.lower().endswith(".gpkg"):
            path += ".gpkg"
        self.session.save()
        try:
            _, summary = export_accepted(self.session.layer, path)
        except RuntimeError as exc:
            QMessageBox.critical(self, "Outline review", str(exc))
            return
        unit = summary["size_unit"]
        self.iface.messageBar().pushSuccess(
            "Outline review", f"Exported {summary['accepted']} accepted feature(s) to {path}; size change "
                              f"{summary[f'change_{unit}']:+.3f} {unit.replace('2', '²')} vs prediction.")

    # display ------------------------------------------------------------------------------------------
    def _show_save_policy(self, layer):
        """Say where decisions go; never claim a save that does not happen."""
        temporary = layer is not None and F.is_reviewable(layer) and not storage.is_saved_to_file(layer)
        self.save_button.setVisible(temporary)
        if temporary:
            self.policy_label.setText(
                "<b>This layer is temporary (in memory): decisions are NOT written to any file</b> and are lost when "
                "QGIS closes or crashes. Use 'Save to GeoPackage and continue' before reviewing.")
            self.policy_label.setStyleSheet("color: #c62828;")
        elif layer is not None and F.is_reviewable(layer):
            self.policy_label.setText(
                f"Each decision is saved to {os.path.basename(storage.file_path(layer))} at once, with the geometry "
                "edits made so far. An edited feature without a decision is marked edited and stays unreviewed. "
                "Rejected features are kept with their status.")
            self.policy_label.setStyleSheet("color: #555;")
        else:
            self.policy_label.clear()

    def refresh(self):
        session = self.session
        self._show_save_policy(self.layer_combo.currentLayer())
        enabled = session is not None and bool(session.ids)
        for button in (self.accept_button, self.reject_button, self.edit_button, self.prev_button,
                       self.next_button, self.unreviewed_button, self.undo_button):
            button.setEnabled(enabled)
        self._clear_highlight()
        if session is None:
            layer = self.layer_combo.currentLayer()
            self.position_label.setText("Choose a polygon or line layer." if layer is None else
                                        "This layer has no review fields yet: use 'Add review fields'.")
            self.status_label.clear()
            self.table.setRowCount(0)
            self.progress.setMaximum(1)
            self.progress.setValue(0)
            return
        counts = session.counts()
        self.progress.setMaximum(max(counts["total"], 1))
        self.progress.setValue(counts["reviewed"])
        if not session.ids:
            self.position_label.setText("No feature matches the filter.")
            self.status_label.clear()
            self.table.setRowCount(0)
            return
        feature = session.current_feature()
        self.position_label.setText(f"Feature {session.index + 1} of {len(session.ids)} (id {feature.id()})")
        status = feature[F.REVIEW_STATUS] or F.UNREVIEWED
        self.status_label.setText(f"Status: <b style='color:{F.STATUS_COLOURS.get(status, '#000')}'>"
                                  f"{F.STATUS_LABELS.get(status, status)}</b>")
        names = session.layer.fields().names()
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            value = feature[name]
            text = "" if value is None or (hasattr(value, "isNull") and value.isNull()) else str(value)
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(text))
        self.zoom_to(feature)

    def zoom_to(self, feature):
        canvas = self.iface.mapCanvas()
        if canvas is None or not feature.hasGeometry():
            return
        layer = self.session.layer
        transform = QgsCoordinateTransform(layer.crs(), canvas.mapSettings().destinationCrs(), QgsProject.instance())
        box = transform.transformBoundingBox(feature.geometry().boundingBox())
        if box.width() == 0 and box.height() == 0:
            box.grow(100.0)
        box.scale(CONTEXT_FACTOR)
        canvas.setExtent(box)
        canvas.refresh()
        self.highlight = QgsHighlight(canvas, feature.geometry(), layer)
        self.highlight.setColor(QColor(255, 215, 0))
        self.highlight.setFillColor(QColor(255, 215, 0, 35))  # keep the image visible underneath
        self.highlight.setWidth(3)
        self.highlight.show()

    def _clear_highlight(self):
        if self.highlight is not None:
            try:
                self.highlight.hide()
                scene = self.highlight.scene()
                if scene is not None:
                    scene.removeItem(self.highlight)
            except RuntimeError:  # the map canvas (and its items) is already gone
                pass
            self.highlight = None

    def closeEvent(self, event):  # noqa: N802 (Qt API)
        """Closing the dock mid-review saves pending edits (edited features marked); nothing is lost."""
        if self.session is not None:
            self.session.save()
        self._clear_highlight()
        super().closeEvent(event)


def replace_in_project(old, new):
    """Put ``new`` where ``old`` is in the project's layer tree (same group and position), then remove ``old``."""
    project = QgsProject.instance()
    node = project.layerTreeRoot().findLayer(old.id())
    if node is None:
        project.addMapLayer(new)
    else:
        parent = node.parent()
        project.addMapLayer(new, False)
        parent.insertLayer(parent.children().index(node), new)
    if project.mapLayer(old.id()) is not None:
        project.removeMapLayer(old.id())
