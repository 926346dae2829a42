"""Elevation points used as a co-registration reference: ICESat-2 ATL06 granules and point tables.

* :func:`read_atl06` reads the ``land_ice_segments`` of the six beams (gt1l ... gt3r) of an
  ATL06 HDF5 granule through GDAL's multidimensional API (no h5py needed) and keeps the
  segments with ``atl06_quality_summary == 0`` and a valid ``h_li``. Heights are metres
  above the WGS 84 ellipsoid (vertical datum ``'ellipsoid'``), positions longitude/latitude.
* :func:`read_point_table` reads any OGR point layer (CSV with x/y columns, GeoPackage,
  shapefile) with an elevation field, or the Z of 3-D point geometries.

Both return a :class:`PointTable`: coordinates in the table's CRS, heights in m, the
vertical datum where it is known (``'ellipsoid'``, ``'EGM96'``, ``'EGM2008'`` or None).
"""

import os
from dataclasses import dataclass, field

import numpy as np
from rasterio.crs import CRS

from ..errors import CRSError, InputError
from .datum import datum_of_crs, normalize_datum

ATL06_BEAMS = ("gt1l", "gt1r", "gt2l", "gt2r", "gt3l", "gt3r")
#: ATL06 fill values are float32 max (3.4028235e38); anything above this is missing.
_FILL_ABOVE = 1e30


@dataclass
class PointTable:
    """Elevation points: x, y in ``crs`` units, ``h`` in m on ``datum`` (None: not declared).

    ``fields``: other per-point arrays (e.g. ``beam``, ``h_li_sigma``, a second height field).
    """

    x: np.ndarray
    y: np.ndarray
    h: np.ndarray
    crs: CRS
    datum: str = None
    fields: dict = field(default_factory=dict)
    label: str = "points"

    def __len__(self):
        return int(self.h.size)

    def subset(self, keep):
        """The points where the boolean array ``keep`` is True."""
        keep = np.asarray(keep, dtype=bool)
        return PointTable(self.x[keep], self.y[keep], self.h[keep], self.crs, self.datum,
                          {k: np.asarray(v)[keep] for k, v in self.fields.items()}, self.label)

    def lonlat(self):
        """Longitude and latitude (degrees, WGS 84) of the points."""
        if self.crs.to_epsg() in (4326, 4979):
            return self.x, self.y
        import rasterio.warp

        lon, lat = rasterio.warp.transform(self.crs, CRS.from_epsg(4326), self.x, self.y)
        return np.asarray(lon), np.asarray(lat)


def _gdal():
    from osgeo import gdal

    gdal.UseExceptions()
    return gdal


def _read_array(group, name, path, beam):
    array = group.OpenMDArray(name)
    if array is None:
        raise InputError(f"The ATL06 granule '{os.path.basename(path)}' has no {beam}/land_ice_segments/{name}.",
                         "give an ATL06 (land ice height) granule; other ICESat-2 products are not supported.")
    return np.asarray(array.ReadAsArray())


def read_atl06(path, beams=ATL06_BEAMS, quality_filter=True):
    """Segments of an ICESat-2 ATL06 granule as a :class:`PointTable` (EPSG:4326 lon/lat, h in m, ellipsoid).

    ``quality_filter``: keep only ``atl06_quality_summary == 0`` (the ATL06 recommendation).
    ``fields`` hold ``beam`` (name), ``h_li_sigma`` (m), ``delta_time`` (s since 2018-01-01)
    and ``segment_id``. Beams absent from the granule are skipped (subsetted granules).
    """
    gdal = _gdal()
    try:
        ds = gdal.OpenEx(os.fspath(path), gdal.OF_MULTIDIM_RASTER)
    except RuntimeError as exc:
        raise InputError(f"GDAL cannot open '{path}' as an HDF5 granule: {exc}.",
                         "give an ICESat-2 ATL06 .h5 file (GDAL needs its HDF5 driver).") from None
    root = ds.GetRootGroup()
    present = set(root.GetGroupNames() or [])
    parts = {k: [] for k in ("lon", "lat", "h", "sigma", "time", "segment", "beam")}
    for beam in beams:
        if beam not in present:
            continue
        group = root.OpenGroup(beam)
        if "land_ice_segments" not in (group.GetGroupNames() or []):
            continue
        seg = group.OpenGroup("land_ice_segments")
        h = _read_array(seg, "h_li", path, beam).astype(np.float64)
        keep = np.isfinite(h) & (np.abs(h) < _FILL_ABOVE)
        if quality_filter:
            keep &= _read_array(seg, "atl06_quality_summary", path, beam) == 0
        parts["h"].append(h[keep])
        parts["lon"].append(_read_array(seg, "longitude", path, beam)[keep].astype(np.float64))
        parts["lat"].append(_read_array(seg, "latitude", path, beam)[keep].astype(np.float64))
        parts["sigma"].append(_read_array(seg, "h_li_sigma", path, beam)[keep].astype(np.float64))
        parts["time"].append(_read_array(seg, "delta_time", path, beam)[keep].astype(np.float64))
        parts["segment"].append(_read_array(seg, "segment_id", path, beam)[keep].astype(np.int64))
        parts["beam"].append(np.full(int(keep.sum()), beam))
    if not parts["h"]:
        raise InputError(f"'{os.path.basename(path)}' holds none of the ATL06 beams {', '.join(beams)}.",
                         "give an ICESat-2 ATL06 (land ice height) granule.")
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    cat["sigma"][np.abs(cat["sigma"]) >= _FILL_ABOVE] = np.nan
    return PointTable(cat["lon"], cat["lat"], cat["h"], CRS.from_epsg(4326), "ellipsoid",
                      {"beam": cat["beam"], "h_li_sigma": cat["sigma"], "delta_time": cat["time"],
                       "segment_id": cat["segment"]}, os.path.basename(os.fspath(path)))


def _ogr():
    from osgeo import ogr, osr

    ogr.UseExceptions()
    osr.UseExceptions()
    return ogr, osr


_X_NAMES = ("x", "lon", "longitude", "east", "easting")
_Y_NAMES = ("y", "lat", "latitude", "north", "northing")


def _guess(names, candidates, what, path):
    lower = {n.lower(): n for n in names}
    for c in candidates:
        if c in lower:
            return lower[c]
    raise InputError(f"No {what} column found in '{os.path.basename(path)}' (columns: {', '.join(names)}).",
                     f"name the {what} column (x_field / y_field).")


def read_point_table(path, elevation_field=None, crs=None, datum=None, x_field=None, y_field=None, layer=None,
                     keep_fields=()):
    """Points of a vector file with an elevation field (m) as a :class:`PointTable`.

    Point geometries (GeoPackage, shapefile, ...) give x, y; a CSV without geometry uses
    ``x_field``/``y_field`` (default: the first of x/lon/longitude/east and y/lat/latitude/north)
    in ``crs`` (default EPSG:4326). ``elevation_field`` None takes the Z of 3-D points.
    ``datum``: 'ellipsoid', 'EGM96', 'EGM2008' when known; else read from a compound CRS.
    ``keep_fields``: other numeric fields to carry (e.g. an orthometric height next to an ellipsoidal one).
    """
    ogr, osr = _ogr()
    try:
        ds = ogr.Open(os.fspath(path))
    except RuntimeError as exc:
        raise InputError(f"Cannot open the point file '{path}': {exc}.") from None
    lyr = ds.GetLayer(layer if layer is not None else 0)
    if lyr is None:
        raise InputError(f"The point file '{path}' has no layer {layer!r}.")
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    srs = lyr.GetSpatialRef()
    has_geometry = defn.GetGeomType() != ogr.wkbNone and srs is not None
    if elevation_field is not None and elevation_field not in names:
        raise InputError(f"The point file '{os.path.basename(path)}' has no field '{elevation_field}' "
                         f"(fields: {', '.join(names)}).", "choose the field that holds the elevation in m.")
    for name in keep_fields:
        if name not in names:
            raise InputError(f"The point file '{os.path.basename(path)}' has no field '{name}'.")
    use_xy_fields = not has_geometry or x_field is not None
    if use_xy_fields:
        x_field = x_field or _guess(names, _X_NAMES, "x / longitude", path)
        y_field = y_field or _guess(names, _Y_NAMES, "y / latitude", path)
        table_crs = CRS.from_user_input(crs or "EPSG:4326")
    else:
        if srs is None:
            raise CRSError(f"The point file '{os.path.basename(path)}' has no CRS.", "assign one and save the layer.")
        table_crs = CRS.from_wkt(srs.ExportToWkt())
    xs, ys, hs, extra = [], [], [], {n: [] for n in keep_fields}

    def number(feature, name):
        value = feature.GetField(name)
        try:
            return float(value) if value not in (None, "") else np.nan
        except (TypeError, ValueError):
            return np.nan

    for feature in lyr:
        if use_xy_fields:
            x, y, z = number(feature, x_field), number(feature, y_field), np.nan
        else:
            geom = feature.GetGeometryRef()
            if geom is None or geom.IsEmpty():
                continue
            x, y = geom.GetX(), geom.GetY()
            z = geom.GetZ() if geom.Is3D() else np.nan
        xs.append(x)
        ys.append(y)
        hs.append(number(feature, elevation_field) if elevation_field is not None else z)
        for name in keep_fields:
            extra[name].append(number(feature, name))
    h = np.asarray(hs, dtype=np.float64)
    if elevation_field is None and not np.isfinite(h).any():
        raise InputError(f"The points of '{os.path.basename(path)}' have no Z and no elevation field was given.",
                         "choose the field that holds the elevation in m.")
    ok = np.isfinite(h) & np.isfinite(xs) & np.isfinite(ys)
    if not ok.any():
        raise InputError(f"No point of '{os.path.basename(path)}' has a valid position and elevation.",
                         "check the elevation field and the coordinate columns.")
    declared = normalize_datum(datum) if datum is not None else datum_of_crs(table_crs)
    table = PointTable(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64), h, table_crs,
                       declared, {n: np.asarray(v, dtype=np.float64) for n, v in extra.items()},
                       os.path.basename(os.fspath(path)))
    return table.subset(ok)
