"""Vector work of the core outside QGIS (scripts, the command line, batch work, tests).

Stands on geopandas, shapely 2 and pyogrio (declared in requirements.txt). Inside QGIS the
Processing layer reads features itself and writes outputs through QGIS's feature sinks; it
hands the core GeoJSON-like geometry mappings in the raster's CRS, which is what
:func:`read_geometries` returns too, so both paths meet at
:func:`serac.core.raster_io.rasterize_geometries`.

The libraries are imported when first used (:func:`vector_stack`), so a QGIS without them
still loads Serac and the error says what to install.
"""

import os
import uuid

from .errors import CRSError, DependencyMissing, InputError


def vector_stack():
    """``(geopandas, shapely, pyogrio)``, or :class:`DependencyMissing` naming the missing one."""
    modules = []
    for name in ("geopandas", "shapely", "pyogrio"):
        try:
            modules.append(__import__(name))
        except ImportError:
            raise DependencyMissing(name, "for vector files and geometry outside QGIS") from None
    return tuple(modules)


def _crs_string(crs):
    """WKT of a rasterio/pyproj CRS or a WKT/EPSG string."""
    return crs if isinstance(crs, str) else crs.to_wkt()


def read_geometries(path, target_crs=None, layer=None, where=None):
    """Geometries of a vector file as GeoJSON-like dicts, optionally reprojected.

    ``target_crs`` is anything with a ``to_wkt()`` method (rasterio CRS) or a WKT / "EPSG:n"
    string; ``layer`` a layer name or index (default: first); ``where`` an SQL attribute filter.
    Empty and missing geometries are skipped.
    """
    gpd, shapely, _ = vector_stack()
    from pyogrio.errors import DataLayerError, DataSourceError

    if not os.path.exists(os.fspath(path)):
        raise InputError(f"Vector file '{path}' does not exist.")
    try:
        frame = gpd.read_file(os.fspath(path), layer=layer if layer is not None else 0, where=where,
                              engine="pyogrio")
    except (DataSourceError, DataLayerError, ValueError) as exc:
        raise InputError(f"Cannot read vector file '{path}' (layer {layer!r}): {str(exc).rstrip('.')}.") from None
    geoms = frame.geometry
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if target_crs is not None and len(geoms):
        if geoms.crs is None:
            raise CRSError(f"Vector file '{path}' has no CRS.", "assign one and save the layer.")
        target = gpd.GeoSeries([], crs=_crs_string(target_crs)).crs
        if not geoms.crs.equals(target):
            geoms = geoms.to_crs(target)
    return [shapely.geometry.mapping(g) for g in geoms]


def write_features(path, features, crs, layer="outlines", geometry_type="Polygon"):
    """Write GeoJSON-like features to a GeoPackage layer (atomically: temp file renamed on success).

    Field types come from the first feature's properties (int -> 64-bit integer, float -> real,
    anything else -> text); ``geometry_type``: Polygon, MultiPolygon, LineString or
    MultiLineString (single geometries are promoted to Multi where asked).
    """
    gpd, shapely, pyogrio = vector_stack()
    import numpy as np
    import pandas as pd

    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.serac-tmp-{uuid.uuid4().hex[:8]}.gpkg")
    schema = features[0]["properties"] if features else {}
    columns = {}
    for key, value in schema.items():
        values = [f["properties"].get(key) for f in features]
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            columns[key] = pd.array(values, dtype="Int64")
        elif isinstance(value, (float, np.floating)):
            columns[key] = pd.array(values, dtype="Float64")
        else:
            columns[key] = pd.array([None if v is None else str(v) for v in values], dtype="object")
    geometry = [shapely.geometry.shape(f["geometry"]) for f in features]
    frame = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(geometry, crs=_crs_string(crs) if crs else None))
    try:
        pyogrio.write_dataframe(frame, tmp, layer=layer, driver="GPKG", geometry_type=geometry_type,
                                promote_to_multi=geometry_type.startswith("Multi"))
        os.replace(tmp, path)
    except BaseException:
        for p in (tmp, tmp + "-wal", tmp + "-shm"):
            if os.path.exists(p):
                os.remove(p)
        raise
    return path
