"""Review fields written to reviewed layers, and adding them to a layer that lacks them."""

from qgis.core import QgsDistanceArea, QgsField, QgsProject, QgsWkbTypes

from ...processing_provider.compat import field_type

REVIEW_STATUS = "review_status"
REVIEWER = "reviewer"
REVIEWED_AT = "reviewed_at"  # ISO 8601, UTC
REVIEW_COMMENT = "review_comment"
GEOMETRY_EDITED = "geometry_edited"  # 1 if a reviewer changed the geometry
PREDICTED_SIZE = "predicted_size"  # km² for polygons, km for lines, as first predicted

UNREVIEWED, ACCEPTED, REJECTED, NEEDS_EDIT = "unreviewed", "accepted", "rejected", "needs_edit"
STATUSES = (UNREVIEWED, ACCEPTED, REJECTED, NEEDS_EDIT)
STATUS_LABELS = {UNREVIEWED: "Unreviewed", ACCEPTED: "Accepted", REJECTED: "Rejected", NEEDS_EDIT: "Needs edit"}
#: One colour per status, shared by the dock and the review_status_* QML styles (scripts/make_styles.py).
STATUS_COLOURS = {UNREVIEWED: "#00b8d4", ACCEPTED: "#2e7d32", REJECTED: "#c62828", NEEDS_EDIT: "#ef6c00"}

FIELD_SPEC = ((REVIEW_STATUS, "String"), (REVIEWER, "String"), (REVIEWED_AT, "String"),
              (REVIEW_COMMENT, "String"), (GEOMETRY_EDITED, "Int"), (PREDICTED_SIZE, "Double"))


def is_reviewable(layer):
    """True for a valid polygon or line vector layer."""
    return (layer is not None and layer.isValid() and hasattr(layer, "geometryType")
            and layer.geometryType() in (_geom_type("PolygonGeometry", "Polygon"), _geom_type("LineGeometry", "Line")))


def _geom_type(legacy, scoped):
    from qgis.core import Qgis

    owner = getattr(Qgis, "GeometryType", None)
    return getattr(owner, scoped) if owner is not None else getattr(QgsWkbTypes, legacy)


def is_polygon(layer):
    return layer.geometryType() == _geom_type("PolygonGeometry", "Polygon")


def missing_fields(layer):
    names = set(layer.fields().names())
    return [name for name, _ in FIELD_SPEC if name not in names]


def has_review_fields(layer):
    return not missing_fields(layer)


def measure(layer):
    """A function geometry -> size: area in km² for polygons, length in km for lines (ellipsoidal)."""
    da = QgsDistanceArea()
    da.setSourceCrs(layer.crs(), QgsProject.instance().transformContext())
    da.setEllipsoid(layer.crs().ellipsoidAcronym() or "EPSG:7030")
    if is_polygon(layer):
        return lambda geom: da.measureArea(geom) / 1e6
    return lambda geom: da.measureLength(geom) / 1e3


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
