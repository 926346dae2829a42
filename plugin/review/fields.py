"""Review fields on a layer (defined in core/review_fields.py), and adding them to a layer that lacks them."""

from qgis.core import QgsField, QgsWkbTypes

from ...core.review_fields import (  # noqa: F401 (re-exported: the one definition of the review fields)
    ACCEPTED,
    FIELD_SPEC,
    GEOMETRY_EDITED,
    NEEDS_EDIT,
    PREDICTED_SIZE,
    REJECTED,
    REVIEW_COMMENT,
    REVIEW_STATUS,
    REVIEWED_AT,
    REVIEWER,
    STATUS_COLOURS,
    STATUS_LABELS,
    STATUSES,
    UNREVIEWED,
)
from ...processing_provider.compat import field_type
from ...processing_provider.review_output import is_polygon_type, size_measure


def is_reviewable(layer):
    """True for a valid polygon or line vector layer."""
    return (layer is not None and layer.isValid() and hasattr(layer, "geometryType")
            and layer.geometryType() in (_geom_type("PolygonGeometry", "Polygon"), _geom_type("LineGeometry", "Line")))


def _geom_type(legacy, scoped):
    from qgis.core import Qgis

    owner = getattr(Qgis, "GeometryType", None)
    return getattr(owner, scoped) if owner is not None else getattr(QgsWkbTypes, legacy)


def is_polygon(layer):
    return is_polygon_type(layer.geometryType())


def missing_fields(layer):
    names = set(layer.fields().names())
    return [name for name, _ in FIELD_SPEC if name not in names]


def has_review_fields(layer):
    return not missing_fields(layer)


def measure(layer):
    """A function geometry -> size: area in km² for polygons, length in km for lines (ellipsoidal)."""
    return size_measure(layer.crs(), is_polygon(layer))


def add_review_fields(layer):
    """Add the missing review fields; new features start 'unreviewed' with their size recorded.

    Writes through the data provider (saved at once). Returns the names added.
    """
    missing = missing_fields(layer)
    if not missing:
        return []
    if layer.isEditable():
        raise RuntimeError("Save or discard the layer's edits before adding review fields.")
    spec = dict(FIELD_SPEC)
    provider = layer.dataProvider()
    if not provider.addAttributes([QgsField(name, field_type(spec[name])) for name in missing]):
        raise RuntimeError(f"The data source of '{layer.name()}' does not accept new fields.")
    layer.updateFields()
    size = measure(layer)
    idx = {name: layer.fields().indexOf(name) for name in missing}
    changes = {}
    for feature in layer.getFeatures():
        values = {}
        if REVIEW_STATUS in idx:
            values[idx[REVIEW_STATUS]] = UNREVIEWED
        if GEOMETRY_EDITED in idx:
            values[idx[GEOMETRY_EDITED]] = 0
        if PREDICTED_SIZE in idx and feature.hasGeometry():
            values[idx[PREDICTED_SIZE]] = round(size(feature.geometry()), 6)
        changes[feature.id()] = values
    provider.changeAttributeValues(changes)
    layer.reload()
    return missing
