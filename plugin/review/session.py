"""A review session: the features of a layer in review order, and the decisions taken on them.

Save policy: every decision is committed to the layer's data source at once,
together with the pending geometry edits; for a GeoPackage a WAL checkpoint then
puts it in the ``.gpkg`` file itself (see :mod:`.storage`), so a crash loses at most
the decision being made. A memory layer keeps decisions only in memory: the dock
says so and offers to save it to a GeoPackage first.

Edit provenance: a feature whose geometry is saved without a decision on it (the
reviewer edited F, then decided on G, switched layer, or saved the layer) is
marked ``geometry_edited = 1`` and left ``unreviewed``, so it still needs a decision.
Geometry edits in QGIS's edit buffer stay undoable with QGIS's own undo until
saved; saved decisions are undone with :meth:`ReviewSession.undo`, which restores
the previous attributes and geometries of every feature the decision changed and
commits again. Rejected features are kept with their status, never deleted.
"""

import getpass
from datetime import datetime, timezone

from qgis.core import QgsFeatureRequest, QgsGeometry
from qgis.PyQt.QtCore import QObject, pyqtSignal

from ...processing_provider.compat import REQUEST_NO_GEOMETRY
from . import fields as F
from . import storage

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
        self.history = []  # per write: {fid: (previous attribute values {idx: value}, previous geometry or None)}
        self.ids = []
        self.index = 0
        self._committing = False
        self.file_holds_every_decision = True
        layer.beforeCommitChanges.connect(self._before_commit)
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
        commits, saving any pending geometry edit of the layer too: another feature edited
        since the last save is marked ``geometry_edited = 1`` and left unreviewed (its edit
        still needs a decision). :meth:`undo` restores everything this changed.
        """
        if status not in F.STATUSES:
            raise ValueError(f"Unknown review status '{status}'")
        fid = self.current_id()
        if fid is None:
            return False
        edited = self.pending_geometry_edits()
        values = {fid: {F.REVIEW_STATUS: status, F.REVIEWER: self.reviewer,
                        F.REVIEWED_AT: datetime.now(timezone.utc).replace(microsecond=0).isoformat()}}
        if comment is not None:
            values[fid][F.REVIEW_COMMENT] = comment
        if fid in edited:
            values[fid][F.GEOMETRY_EDITED] = 1
        values.update(self._edit_marks(edited - {fid}))
        self._write(values, edited)
        if advance:
            self.next()
        self.changed.emit()
        return True

    def undo(self):
        """Undo the last decision (or save): restore the previous values and geometries of every feature
        it changed, and save."""
        if not self.history:
            return False
        previous = self.history.pop()
        layer = self.layer
        was_editing = layer.isEditable()
        if not was_editing:
            layer.startEditing()
        restored = set(previous)
        marks = self._edit_marks(self.pending_geometry_edits() - restored)
        idx = layer.fields().indexOf
        for fid, (attributes, geometry) in previous.items():
            for i, value in attributes.items():
                layer.changeAttributeValue(fid, i, value)
            if geometry is not None:
                layer.changeGeometry(fid, geometry)
        for fid, names in marks.items():
            for name, value in names.items():
                layer.changeAttributeValue(fid, idx(name), value)
        self._commit(keep_editing=was_editing)
        fid = next(iter(previous), None)
        if fid in self.ids:
            self.go_to(self.ids.index(fid))
        self.changed.emit()
        return True

    def save(self):
        """Commit any pending edits (e.g. when the dock closes or the layer changes mid-review); edited
        features are marked as in :meth:`decide`. Undoable like a decision."""
        if self.layer.isEditable() and self.layer.isModified():
            edited = self.pending_geometry_edits()
            self._write(self._edit_marks(edited), edited)

    def close(self):
        """Save, and stop watching the layer (the session is not used after this)."""
        self.save()
        try:
            self.layer.beforeCommitChanges.disconnect(self._before_commit)
        except (TypeError, RuntimeError):
            pass

    def pending_geometry_edits(self):
        """Ids of the features whose geometry was changed in the layer's edit buffer (not yet saved)."""
        buffer = self.layer.editBuffer() if self.layer.isEditable() else None
        return set(buffer.changedGeometries()) if buffer is not None else set()

    @staticmethod
    def _edit_marks(fids):
        """{fid: values} marking features edited without a decision: edited, and needing a decision."""
        return {fid: {F.GEOMETRY_EDITED: 1, F.REVIEW_STATUS: F.UNREVIEWED} for fid in fids}

    def _write(self, values, edited):
        """Write {fid: {field: value}} (with the layer's pending edits) and remember how to undo it."""
        layer = self.layer
        idx = layer.fields().indexOf
        fids = list(values) + [fid for fid in edited if fid not in values]  # the decided feature first
        on_disk = {f.id(): f for f in layer.dataProvider().getFeatures(QgsFeatureRequest().setFilterFids(fids))}
        previous = {}
        for fid in fids:
            original = on_disk.get(fid)
            if original is None:  # a feature added in this edit session: nothing to restore
                continue
            indexes = [idx(name) for name in values.get(fid, {})]
            if fid in edited:
                indexes.append(idx(F.GEOMETRY_EDITED))
            previous[fid] = ({i: original.attributes()[i] for i in indexes},
                             QgsGeometry(original.geometry()) if fid in edited else None)
        was_editing = layer.isEditable()
        if not was_editing:
            layer.startEditing()
        for fid, names in values.items():
            for name, value in names.items():
                layer.changeAttributeValue(fid, idx(name), value)
        self._commit(keep_editing=was_editing)
        self.history.append(previous)

    def _commit(self, keep_editing):
        self._committing = True
        try:
            ok = self.layer.commitChanges(not keep_editing)
        finally:
            self._committing = False
        if not ok:
            errors = "; ".join(self.layer.commitErrors())
            raise RuntimeError(f"Could not save the review to '{self.layer.name()}': {errors}")
        self.file_holds_every_decision = storage.checkpoint(self.layer)

    def _before_commit(self, *args):
        """A commit made outside the session (QGIS's "Save layer edits"): mark the edited features."""
        if self._committing:
            return
        idx = self.layer.fields().indexOf
        for fid, names in self._edit_marks(self.pending_geometry_edits()).items():
            for name, value in names.items():
                self.layer.changeAttributeValue(fid, idx(name), value)

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
