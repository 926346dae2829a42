"""Vector input for the core when it runs outside QGIS (scripts, tests, benchmarks).

Inside QGIS the Processing layer reads features itself and hands the core
GeoJSON-like geometry mappings in the raster's CRS; this module does the same
from a file with GDAL/OGR (shipped with every QGIS and with the ``python3-gdal``
package), so both paths meet at :func:`serac.core.raster_io.rasterize_geometries`.
"""

import json

from .errors import CRSError, InputError


def _ogr():
    from osgeo import ogr, osr  # GDAL's own bindings; not QGIS

    ogr.UseExceptions()
    osr.UseExceptions()
    return ogr, osr


def read_geometries(path, target_crs=None, layer=None, where=None):
    """Geometries of a vector file as GeoJSON-like dicts, optionally reprojected.

    ``target_crs`` is anything with a ``to_wkt()`` method (rasterio CRS) or a WKT
    string; ``layer`` a layer name or index (default: first); ``where`` an OGR SQL
    attribute filter.
    """
    ogr, osr = _ogr()
    try:
        ds = ogr.Open(str(path))
    except RuntimeError as exc:
        raise InputError(f"Cannot open vector file '{path}': {exc}.") from None
    lyr = ds.GetLayer(layer if layer is not None else 0)
    if lyr is None:
        raise InputError(f"Vector file '{path}' has no layer {layer!r}.")
    if where:
        lyr.SetAttributeFilter(where)
    transform = None
    if target_crs is not None:
        src = lyr.GetSpatialRef()
        if src is None:
            raise CRSError(f"Vector file '{path}' has no CRS.", "assign one and save the layer.")
        dst = osr.SpatialReference()
        dst.ImportFromWkt(target_crs if isinstance(target_crs, str) else target_crs.to_wkt())
        for srs in (src, dst):
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        if not src.IsSame(dst):
            transform = osr.CoordinateTransformation(src, dst)
    out = []
    for feature in lyr:
        geom = feature.GetGeometryRef()
        if geom is None or geom.IsEmpty():
            continue
        geom = geom.Clone()
        if transform is not None:
            geom.Transform(transform)
        out.append(json.loads(geom.ExportToJson()))
    return out
