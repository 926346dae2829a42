"""QGIS side of the review fields (defined in core/review_fields.py): how review sizes are measured.

Used by the segmentation outputs (``predicted_size`` when written) and by the review dock
(size after review), so both measure the same way: ellipsoidal area in km² for polygons,
ellipsoidal length in km for lines.
"""

from qgis.core import QgsDistanceArea, QgsProject, QgsWkbTypes

from ..core import review_fields as R
from .qgis_bridge import geometry_from_geojson, qgis_crs

__all__ = ["R", "size_measure", "with_review_values"]


def _polygon_type():
    from qgis.core import Qgis

    owner = getattr(Qgis, "GeometryType", None)
    return owner.Polygon if owner is not None else QgsWkbTypes.GeometryType.PolygonGeometry


def is_polygon_type(geometry_type):
    """True if a QgsWkbTypes.GeometryType / Qgis.GeometryType is polygon."""
    return geometry_type == _polygon_type()


def _ellipsoid(crs):
    """The CRS's ellipsoid as QgsDistanceArea takes it. QGIS 3.22 measures NaN with a custom
    "PARAMETER:a:b" ellipsoid (CRS from a WKT without authority): WGS 84 is used when a and b are
    WGS 84's (within 1 m), else sizes are planimetric in the CRS ("NONE")."""
    acronym = crs.ellipsoidAcronym()
    if not acronym.startswith("PARAMETER"):
        return acronym or "EPSG:7030"
    try:
        a, b = (float(v) for v in acronym.split(":")[1:3])
    except ValueError:
        return "NONE"
    return "EPSG:7030" if abs(a - 6378137.0) < 1 and abs(b - 6356752.314245) < 1 else "NONE"


def size_measure(crs, polygon):
    """A function QgsGeometry -> size: area in km² (polygon) or length in km (line), ellipsoidal."""
    da = QgsDistanceArea()
    da.setSourceCrs(crs, QgsProject.instance().transformContext())
    da.setEllipsoid(_ellipsoid(crs))
    if polygon:
        return lambda geom: da.measureArea(geom) / 1e6
    return lambda geom: da.measureLength(geom) / 1e3


def with_review_values(features, crs, polygon):
    """GeoJSON-like ``features`` in ``crs`` (rasterio CRS or WKT) with the initial review values added to
    their properties; ``polygon``: areas (km²) as predicted_size, else lengths (km)."""
    size = size_measure(qgis_crs(crs), polygon)
    return [{**f, "properties": {**f["properties"], **R.initial_values(size(geometry_from_geojson(f["geometry"])))}}
            for f in features]
