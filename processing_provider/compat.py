"""QGIS 3.22 – 4.x compatibility for enums used by the algorithms.

QGIS 3.36+ moved many enums into scoped ``Qgis.*`` enums and QGIS 4 (Qt 6)
drops the old aliases; QGIS 3.22 only has the old ones. Each name below is the
scoped enum when it exists, else the 3.22 value, so algorithms use one spelling.
"""

from qgis.core import (
    Qgis,
    QgsFeatureRequest,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
    QgsVectorFileWriter,
    QgsWkbTypes,
)


def _pick(scoped_owner, member, legacy):
    owner = getattr(Qgis, scoped_owner, None)
    if owner is not None and hasattr(owner, member):
        return getattr(owner, member)
    return legacy


# Numbers
NUMBER_DOUBLE = _pick("ProcessingNumberParameterType", "Double",
                      getattr(QgsProcessingParameterNumber, "Double", None))
NUMBER_INTEGER = _pick("ProcessingNumberParameterType", "Integer",
                       getattr(QgsProcessingParameterNumber, "Integer", None))

# Source (layer) types
SOURCE_POLYGON = _pick("ProcessingSourceType", "VectorPolygon", getattr(QgsProcessing, "TypeVectorPolygon", None))
SOURCE_LINE = _pick("ProcessingSourceType", "VectorLine", getattr(QgsProcessing, "TypeVectorLine", None))
SOURCE_POINT = _pick("ProcessingSourceType", "VectorPoint", getattr(QgsProcessing, "TypeVectorPoint", None))
SOURCE_ANY_GEOMETRY = _pick("ProcessingSourceType", "VectorAnyGeometry",
                            getattr(QgsProcessing, "TypeVectorAnyGeometry", None))
SOURCE_RASTER = _pick("ProcessingSourceType", "Raster", getattr(QgsProcessing, "TypeRaster", None))
SOURCE_VECTOR = _pick("ProcessingSourceType", "Vector", getattr(QgsProcessing, "TypeVector", None))  # tables too

# Geometry (WKB) types
WKB_POINT = _pick("WkbType", "Point", getattr(QgsWkbTypes, "Point", None))
WKB_MULTIPOLYGON = _pick("WkbType", "MultiPolygon", getattr(QgsWkbTypes, "MultiPolygon", None))
WKB_POLYGON = _pick("WkbType", "Polygon", getattr(QgsWkbTypes, "Polygon", None))
WKB_MULTILINESTRING = _pick("WkbType", "MultiLineString", getattr(QgsWkbTypes, "MultiLineString", None))
WKB_LINESTRING = _pick("WkbType", "LineString", getattr(QgsWkbTypes, "LineString", None))
GEOMETRY_POLYGON = _pick("GeometryType", "Polygon", getattr(QgsWkbTypes, "PolygonGeometry", None))
GEOMETRY_LINE = _pick("GeometryType", "Line", getattr(QgsWkbTypes, "LineGeometry", None))

# Parameter flags
PARAM_ADVANCED = _pick("ProcessingParameterFlag", "Advanced", getattr(QgsProcessingParameterDefinition, "FlagAdvanced", None))

# Feature requests
REQUEST_NO_GEOMETRY = _pick("FeatureRequestFlag", "NoGeometry", getattr(QgsFeatureRequest, "NoGeometry", None))

# Vector file writer result
WRITER_NO_ERROR = getattr(getattr(QgsVectorFileWriter, "WriterError", QgsVectorFileWriter), "NoError")


def field_type(name):
    """A QgsField type: QMetaType.Type on QGIS >= 3.38 (required by Qt 6), else QVariant.Type.

    ``name`` is one of "Double", "Int", "LongLong", "String", "Bool", "DateTime".
    """
    if Qgis.QGIS_VERSION_INT >= 33800:
        from qgis.PyQt.QtCore import QMetaType

        meta = {"String": "QString", "DateTime": "QDateTime"}.get(name, name)
        return getattr(QMetaType.Type, meta)
    from qgis.PyQt.QtCore import QVariant

    return getattr(QVariant, name)
