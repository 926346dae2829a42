"""A review session: the features of a layer in review order, and the decisions taken on them.

Save policy: every decision is committed to the layer's data source at once
(for a GeoPackage, written to the file), together with any geometry edit of that
feature, so a crash loses at most the decision being made. Geometry edits made
in QGIS's edit buffer stay undoable with QGIS's own undo until the decision;
decisions themselves are undone with :meth:`ReviewSession.undo`, which restores
the feature's previous attributes and geometry and commits again. Rejected
features are kept with their status, never deleted.
"""

import getpass
from datetime import datetime, timezone

from qgis.core import QgsFeatureRequest, QgsGeometry
from qgis.PyQt.QtCore import QObject, pyqtSignal

from ...processing_provider.compat import REQUEST_NO_GEOMETRY
from . import fields as F

ORDERS = {
    "probability": "lowest mean probability first",
    "area": "largest first",
    "id": "feature id",
}
FILTERS = ("all", F.UNREVIEWED, F.NEEDS_EDIT, F.REJECTED, F.ACCEPTED)


def value_of(feature, name):
    """A feature's attribute as a Python value, with NULL as None."""
    value = feature[name]
    if value is None or (hasattr(value, "isNull") and value.isNull()) or value == "":
        return None
    return value


def status_of(feature):
    return value_of(feature, F.REVIEW_STATUS) or F.UNREVIEWED


def current_user():
    try:
        return getpass.getuser()
    except Exception:  # no login name in some sandboxes
        return "unknown"


class ReviewSession(QObject):
    """Steps through ``layer``'s features and records review decisions on them."""

    changed = pyqtSignal()

    def __init__(self, layer, order="probability", status_filter="all", reviewer=None):
        super().__init__()
        if not F.has_review_fields(layer):
            raise ValueError(f"Layer '{layer.name()}' lacks the review fields {F.missing_fields(layer)}; "
                             "add them first.")
        self.layer = layer
        self.reviewer = reviewer or current_user()
        self.order = order
        self.status_filter = status_filter
        self.history = []  # (fid, previous attribute values {idx: value}, previous geometry or None)
        self.ids = []
        self.index = 0
        self.reload()

    # ordering and filtering ---------------------------------------------------------
    def reload(self, keep_current=True):
        current = self.current_id() if keep_current and self.ids else None
        size = F.measure(self.layer)
        names = self.layer.fields().names()
        has_prob = "mean_probability" in names
        rows = []
        for feature in self.layer.getFeatures():
            status = status_of(feature)
            if self.status_filter != "all" and status != self.status_filter:
                continue
            if self.order == "probability" and has_prob:
                prob = value_of(feature, "mean_probability")
                key = (prob is None, float(prob) if prob is not None else 0.0, feature.id())
            elif self.order in ("area", "probability"):
                key = (-size(feature.geometry()) if feature.hasGeometry() else 0.0, feature.id())
            else:
                key = (feature.id(),)
            rows.append((key, feature.id()))
        self.ids = [fid for _, fid in sorted(rows)]
        self.index = self.ids.index(current) if current in self.ids else 0
        self.changed.emit()

    def set_order(self, order):
        self.order = order
        self.reload()

    def set_filter(self, status_filter):
        self.status_filter = status_filter
        self.reload(keep_current=False)

    # navigation -----------------------------------------------------------------------
    def current_id(self):
        return self.ids[self.index] if self.ids else None

    def current_feature(self):
        fid = self.current_id()
        return None if fid is None else self.layer.getFeature(fid)

    def go_to(self, index):
        if self.ids:
            self.index = max(0, min(index, len(self.ids) - 1))
            self.changed.emit()

    def next(self):
        self.go_to(self.index + 1)

    def previous(self):
        self.go_to(self.index - 1)

    def next_unreviewed(self):
        """Move to the next feature (after the current one, wrapping) that is still unreviewed."""
        n = len(self.ids)
        for step in range(1, n + 1):
            fid = self.ids[(self.index + step) % n]
            if status_of(self.layer.getFeature(fid)) == F.UNREVIEWED:
                self.go_to((self.index + step) % n)
                return True
        return False

    # decisions --------------------------------------------------------------------------
    def decide(self, status, comment=None, advance=True):
        """Record ``status`` (accepted / rejected / needs_edit / unreviewed) on the current feature.

        Writes status, reviewer, UTC time, comment and whether the geometry was edited, then
        commits (saving any pending geometry edit of the layer too).
        """
        if status not in F.STATUSES:
            raise ValueError(f"Unknown review status '{status}'")
        fid = self.current_id()
        if fid is None:
            return False
        layer = self.layer
        was_editing = layer.isEditable()
        edited = bool(was_editing and fid in layer.editBuffer().changedGeometries())
        saved = layer.dataProvider().getFeatures(QgsFeatureRequest(fid))
        original = next(saved, None)  # the feature as on disk, before this decision
        if not was_editing:
            layer.startEditing()
        idx = layer.fields().indexOf
        values = {idx(F.REVIEW_STATUS): status, idx(F.REVIEWER): self.reviewer,
                  idx(F.REVIEWED_AT): datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
        if comment is not None:
            values[idx(F.REVIEW_COMMENT)] = comment
        if edited:
            values[idx(F.GEOMETRY_EDITED)] = 1
        previous = {i: original.attributes()[i] for i in values} if original is not None else {}
        previous_geometry = QgsGeometry(original.geometry()) if (edited and original is not None) else None
        for i, value in values.items():
            layer.changeAttributeValue(fid, i, value)
        self._commit(keep_editing=was_editing)
        self.history.append((fid, previous, previous_geometry))
        if advance:
            self.next()
        self.changed.emit()
        return True

    def undo(self):
        """Undo the last decision: restore that feature's previous values (and geometry) and save."""
        if not self.history:
            return False
        fid, previous, geometry = self.history.pop()
        layer = self.layer
        was_editing = layer.isEditable()
        if not was_editing:
            layer.startEditing()
        for i, value in previous.items():
            layer.changeAttributeValue(fid, i, value)
        if geometry is not None:
            layer.changeGeometry(fid, geometry)
        self._commit(keep_editing=was_editing)
        if fid in self.ids:
            self.go_to(self.ids.index(fid))
        self.changed.emit()
        return True

    def save(self):
        """Commit any pending edits (e.g. when the dock closes mid-review)."""
        if self.layer.isEditable() and self.layer.isModified():
            self._commit(keep_editing=True)

    def _commit(self, keep_editing):
        if not self.layer.commitChanges(not keep_editing):
            errors = "; ".join(self.layer.commitErrors())
            raise RuntimeError(f"Could not save the review to '{self.layer.name()}': {errors}")

    # progress -----------------------------------------------------------------------------
    def counts(self):
        """Number of features per status over the whole layer, plus 'total' and 'reviewed'."""
        counts = dict.fromkeys(F.STATUSES, 0)
        for feature in self.layer.getFeatures(QgsFeatureRequest().setFlags(REQUEST_NO_GEOMETRY)):
            status = status_of(feature)
            counts[status if status in counts else F.UNREVIEWED] += 1
        counts["total"] = sum(counts[s] for s in F.STATUSES)
        counts["reviewed"] = counts["total"] - counts[F.UNREVIEWED]
        return counts
