"""Turn QGIS layers and parameters into what the core takes, and core results into features.

The core works on file paths, rasterio CRS objects and GeoJSON-like geometry
mappings; QGIS works on layers, ``QgsCoordinateReferenceSystem`` and features.
Everything that crosses that line goes through here, so each conversion exists
once.
"""

import json

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
)

from .compat import field_type


def raster_path(algorithm, parameters, key, context, what=None, require_crs=True):
    """File path of the raster layer parameter ``key``, with a clear error if unusable."""
    layer = algorithm.parameterAsRasterLayer(parameters, key, context)
    what = what or key.replace("_", " ").lower()
    if layer is None or not layer.isValid():
        raise QgsProcessingException(f"The {what} raster could not be loaded. Fix: choose a valid raster layer or file.")
    if layer.providerType() != "gdal":
        raise QgsProcessingException(
            f"The {what} layer '{layer.name()}' is a '{layer.providerType()}' layer; Serac reads rasters through "
            "GDAL files. Fix: export it to GeoTIFF (Raster > Conversion > Translate) and use that.")
    if require_crs and not layer.crs().isValid():
        raise QgsProcessingException(
            f"The {what} raster '{layer.name()}' has no coordinate reference system. Fix: set its CRS in "
            "Layer Properties > Source, or assign one with Raster > Projections > Assign Projection.")
    return layer.source().split("|")[0]


def raster_paths(algorithm, parameters, key, context):
    """File paths of the layers of the multiple-raster parameter ``key`` (GDAL files only)."""
    paths = []
    for layer in algorithm.parameterAsLayerList(parameters, key, context):
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                f"The layer '{layer.name()}' is a '{layer.providerType()}' layer; Serac reads rasters through "
                "GDAL files. Fix: export it to GeoTIFF (Raster > Conversion > Translate) and use that.")
        paths.append(layer.source().split("|")[0])
    return paths


def qgis_crs(crs):
    """A QgsCoordinateReferenceSystem from a rasterio CRS (or WKT string)."""
    wkt = crs if isinstance(crs, str) else crs.to_wkt()
    return QgsCoordinateReferenceSystem.fromWkt(wkt)


def source_geometries(algorithm, parameters, key, context, target_crs, feedback=None):
    """Geometries of the vector source ``key`` as GeoJSON dicts in ``target_crs`` (rasterio CRS).

    Returns an empty list if the optional parameter is not set.
    """
    source = algorithm.parameterAsSource(parameters, key, context)
    if source is None:
        return []
    if not source.sourceCrs().isValid():
        raise QgsProcessingException(
            f"The vector layer for '{key.lower()}' has no CRS. Fix: set the layer's CRS and save it.")
    transform = QgsCoordinateTransform(source.sourceCrs(), qgis_crs(target_crs), context.transformContext())
    request = QgsFeatureRequest().setNoAttributes()
    out = []
    for feature in source.getFeatures(request):
        if feedback is not None and feedback.isCanceled():
            break
        geom = QgsGeometry(feature.geometry())
        if geom.isNull() or geom.isEmpty():
            continue
        geom.transform(transform)
        out.append(json.loads(geom.asJson()))
    return out


def geometry_from_geojson(mapping):
    """A QgsGeometry from a GeoJSON-like mapping (via GDAL/OGR, present wherever QGIS is)."""
    from osgeo import ogr

    ogr_geom = ogr.CreateGeometryFromJson(json.dumps(mapping))
    if ogr_geom is None:
        raise QgsProcessingException("The core returned an invalid geometry.")
    geom = QgsGeometry()
    geom.fromWkb(bytes(ogr_geom.ExportToIsoWkb()))
    return geom


def make_fields(spec):
    """QgsFields from [(name, type name)] with type names as in :func:`compat.field_type`."""
    fields = QgsFields()
    for name, type_name in spec:
        fields.append(QgsField(name, field_type(type_name)))
    return fields


def write_records(algorithm, parameters, key, context, field_spec, wkb_type, crs, records, feedback=None):
    """Write ``records`` [(geojson geometry, {field: value})] to the sink ``key``; return its dest id.

    Returns None if the optional sink was not requested.
    """
    fields = make_fields(field_spec)
    sink, dest_id = algorithm.parameterAsSink(parameters, key, context, fields, wkb_type, qgis_crs(crs))
    if sink is None:
        return None
    names = [name for name, _ in field_spec]
    for geometry, attributes in records:
        if feedback is not None and feedback.isCanceled():
            break
        feature = QgsFeature(fields)
        feature.setGeometry(geometry_from_geojson(geometry))
        feature.setAttributes([_plain(attributes.get(n)) for n in names])
        sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
    return dest_id


def _plain(value):
    """numpy scalars to Python scalars (QGIS field values)."""
    return value.item() if hasattr(value, "item") else value
