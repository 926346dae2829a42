"""Raster input and output shared by every Serac algorithm.

* :class:`RasterGrid` — the georeferencing of a raster (CRS, affine transform, size).
* :func:`read_raster` / :func:`read_on_grid` — read a raster, or a window of it, as
  float arrays with nodata as NaN; ``read_on_grid`` reprojects/resamples onto another
  raster's grid on the fly (GDAL warped VRT), window by window if asked.
* :class:`RasterWriter` / :func:`write_raster` — tiled, compressed GeoTIFF (Cloud
  Optimized GeoTIFF by default) written atomically: data goes to a temporary file in
  the destination folder and is renamed into place only when everything succeeded, so
  a failed or cancelled run leaves nothing half-written.
* :func:`iter_blocks` — the one window iterator used for all blockwise processing.
* :func:`rasterize_geometries` — burn outlines (GeoJSON-like mappings) onto a grid.

Coordinates are in the units of the CRS (m for projected CRS); resolutions are
positive numbers (m/px); arrays are (band, row, col) or (row, col).
"""

import math
import os
import uuid
from dataclasses import dataclass, field

import numpy as np
import rasterio
import rasterio.features
import rasterio.shutil
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from .errors import AllNoDataError, BandCountError, CRSError, InputError, NoOverlapError

RESAMPLING = {
    "nearest": Resampling.nearest,
    "bilinear": Resampling.bilinear,
    "cubic": Resampling.cubic,
    "cubic_spline": Resampling.cubic_spline,
    "lanczos": Resampling.lanczos,
    "average": Resampling.average,
    "mode": Resampling.mode,
}


def _resampling(name):
    if isinstance(name, Resampling):
        return name
    try:
        return RESAMPLING[str(name).lower()]
    except KeyError:
        raise InputError(f"Unknown resampling method '{name}'.", f"use one of {sorted(RESAMPLING)}.") from None


@dataclass(frozen=True)
class RasterGrid:
    """Georeferencing of a north-up raster: CRS, affine transform and size in px."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_dataset(cls, ds):
        return cls(ds.crs, ds.transform, ds.width, ds.height)

    @classmethod
    def from_bounds(cls, crs, left, bottom, right, top, resolution):
        """Grid covering the bounds at ``resolution`` (m/px in a projected CRS)."""
        res_x, res_y = (resolution, resolution) if np.isscalar(resolution) else resolution
        width = max(1, int(math.ceil((right - left) / res_x - 1e-9)))
        height = max(1, int(math.ceil((top - bottom) / res_y - 1e-9)))
        return cls(CRS.from_user_input(crs), Affine(res_x, 0, left, 0, -res_y, top), width, height)

    @property
    def shape(self):
        """(rows, cols)."""
        return (self.height, self.width)

    @property
    def res(self):
        """Pixel size (x, y) as positive numbers, in CRS units per px."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self):
        """(left, bottom, right, top) in CRS units."""
        return _bounds(self.transform, self.width, self.height)

    @property
    def is_rotated(self):
        return abs(self.transform.b) > 0 or abs(self.transform.d) > 0

    @property
    def is_geographic(self):
        return self.crs is not None and self.crs.is_geographic

    def window_grid(self, window):
        """The grid of a window of this grid."""
        window = Window(*window) if not isinstance(window, Window) else window
        return RasterGrid(self.crs, rasterio.windows.transform(window, self.transform),
                          int(window.width), int(window.height))

    def xy(self, rows, cols):
        """Map coordinates (x, y) of pixel centres at (rows, cols) (arrays allowed)."""
        rows = np.asarray(rows, dtype=np.float64) + 0.5
        cols = np.asarray(cols, dtype=np.float64) + 0.5
        t = self.transform
        return t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f

    def matches(self, other, tolerance=1e-6):
        """True if both grids have the same CRS, size and transform (to ``tolerance`` px)."""
        if (self.width, self.height) != (other.width, other.height):
            return False
        if (self.crs is None) != (other.crs is None) or (self.crs is not None and self.crs != other.crs):
            return False
        return self.transform.almost_equals(other.transform, precision=tolerance * min(self.res))

    def describe(self):
        epsg = self.crs.to_epsg() if self.crs else None
        crs = f"EPSG:{epsg}" if epsg else ("no CRS" if self.crs is None else "custom CRS")
        return f"{self.width}x{self.height} px, {self.res[0]:g}x{self.res[1]:g} per px, {crs}"


def _bounds(transform, width, height):
    xs = [transform.c, transform.c + transform.a * width + transform.b * height,
          transform.c + transform.a * width, transform.c + transform.b * height]
    ys = [transform.f, transform.f + transform.d * width + transform.e * height,
          transform.f + transform.d * width, transform.f + transform.e * height]
    return (min(xs), min(ys), max(xs), max(ys))


@dataclass
class Raster:
    """Raster values with their grid.

    ``data`` is (bands, rows, cols), floating point, with NaN where the source had
    nodata (or was outside the source when read onto another grid).
    """

    data: np.ndarray
    grid: RasterGrid
    band_names: list = field(default_factory=list)
    tags: dict = field(default_factory=dict)
    source_nodata: float = None

    @property
    def count(self):
        return self.data.shape[0]

    def band(self, index=1):
        """One band (1-based index, GDAL style) as a 2-D array."""
        return self.data[index - 1]

    @property
    def valid(self):
        """Boolean mask of pixels valid in every band."""
        return np.all(np.isfinite(self.data), axis=0)


def _open(path):
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"Cannot open raster '{path}': {exc}.",
                         "check the path and that the file is a raster GDAL can read.") from None


def read_grid(path):
    """The :class:`RasterGrid` of a raster file, without reading pixels."""
    with _open(path) as ds:
        return RasterGrid.from_dataset(ds)


def band_count(path):
    with _open(path) as ds:
        return ds.count


def require_crs(grid, what="The raster"):
    if grid.crs is None:
        raise CRSError(f"{what} has no coordinate reference system.",
                       "assign the right CRS to the layer (Layer Properties > Source) and save it.")


def require_band_count(path, expected, what="The raster"):
    """Raise :class:`BandCountError` unless the raster at ``path`` has ``expected`` bands (int or set)."""
    n = band_count(path)
    allowed = {expected} if isinstance(expected, int) else set(expected)
    if n not in allowed:
        raise BandCountError(f"{what} has {n} band(s); {' or '.join(map(str, sorted(allowed)))} expected.",
                             "select the right band or raster.")
    return n


def _to_float(masked, dtype):
    data = np.ma.filled(masked.astype(dtype, copy=False), np.nan)
    return data


def _band_indexes(ds, bands):
    if bands is None:
        return list(range(1, ds.count + 1))
    bands = [bands] if isinstance(bands, (int, np.integer)) else list(bands)
    for b in bands:
        if not 1 <= b <= ds.count:
            raise BandCountError(f"Band {b} was asked for but '{ds.name}' has {ds.count} band(s).",
                                 "choose a band between 1 and the band count.")
    return bands


def read_raster(path, bands=None, window=None, dtype="float32"):
    """Read a raster (or ``window`` of it) as float with nodata as NaN.

    ``bands`` is a 1-based band index or list of them (default: all bands).
    """
    with _open(path) as ds:
        idx = _band_indexes(ds, bands)
        win = None if window is None else (Window(*window) if not isinstance(window, Window) else window)
        data = _to_float(ds.read(idx, window=win, masked=True), dtype)
        grid = RasterGrid.from_dataset(ds)
        if win is not None:
            grid = grid.window_grid(win)
        return Raster(data, grid, [ds.descriptions[i - 1] or f"band_{i}" for i in idx],
                      ds.tags(), ds.nodata)


def overlap_fraction(source_grid, target_grid):
    """Fraction (0-1) of the target grid's area covered by the source grid's footprint."""
    require_crs(source_grid, "The input raster")
    require_crs(target_grid, "The reference raster")
    left, bottom, right, top = rasterio.warp.transform_bounds(
        source_grid.crs, target_grid.crs, *source_grid.bounds, densify_pts=21)
    t_left, t_bottom, t_right, t_top = target_grid.bounds
    w = max(0.0, min(right, t_right) - max(left, t_left))
    h = max(0.0, min(top, t_top) - max(bottom, t_bottom))
    area = (t_right - t_left) * (t_top - t_bottom)
    return float(w * h / area) if area > 0 else 0.0


def require_overlap(source_grid, target_grid, what="The two rasters"):
    if overlap_fraction(source_grid, target_grid) <= 0.0:
        raise NoOverlapError(f"{what} do not overlap on the ground.",
                             "check that both cover the same area and carry the right CRS.")


def read_on_grid(path, grid, bands=None, window=None, resampling="bilinear", dtype="float32"):
    """Read ``path`` onto ``grid`` (or a ``window`` of it), reprojecting if needed.

    Pixels outside the source or nodata in it are NaN. Raises :class:`NoOverlapError`
    if the raster does not overlap the grid at all.
    """
    with _open(path) as ds:
        src_grid = RasterGrid.from_dataset(ds)
        idx = _band_indexes(ds, bands)
        win = None if window is None else (Window(*window) if not isinstance(window, Window) else window)
        out_grid = grid if win is None else grid.window_grid(win)
        if src_grid.matches(grid):
            data = _to_float(ds.read(idx, window=win, masked=True), dtype)
        else:
            require_crs(src_grid, f"Raster '{os.path.basename(str(path))}'")
            require_crs(grid, "The target grid")
            require_overlap(src_grid, grid)
            with WarpedVRT(ds, crs=grid.crs, transform=grid.transform, width=grid.width,
                           height=grid.height, resampling=_resampling(resampling),
                           src_nodata=ds.nodata, nodata=ds.nodata) as vrt:
                data = _to_float(vrt.read(idx, window=win, masked=True), dtype)
        names = [ds.descriptions[i - 1] or f"band_{i}" for i in idx]
        return Raster(data, out_grid, names, ds.tags(), ds.nodata)


def require_valid(array, what="The raster", minimum=1):
    """Raise :class:`AllNoDataError` if ``array`` has fewer than ``minimum`` finite values."""
    n = int(np.count_nonzero(np.isfinite(array)))
    if n < minimum:
        raise AllNoDataError(f"{what} has {'no' if n == 0 else f'only {n}'} valid pixel(s) where it is needed.",
                             "check the nodata value, the overlap of the inputs and any mask applied.")
    return n


def iter_blocks(shape, block_size, overlap=0):
    """Cover a (rows, cols) shape with blocks; yield ``(inner, outer)`` windows.

    ``inner`` windows tile the shape without gaps or overlap (write these);
    ``outer`` windows extend each by ``overlap`` px on every side, clipped to the shape
    (read these). Offsets of the inner block inside the outer one are
    ``inner.row_off - outer.row_off`` and ``inner.col_off - outer.col_off``.
    """
    rows, cols = shape
    bs_r, bs_c = (block_size, block_size) if np.isscalar(block_size) else block_size
    for r0 in range(0, rows, bs_r):
        for c0 in range(0, cols, bs_c):
            h = min(bs_r, rows - r0)
            w = min(bs_c, cols - c0)
            inner = Window(c0, r0, w, h)
            orow = max(0, r0 - overlap)
            ocol = max(0, c0 - overlap)
            outer = Window(ocol, orow, min(cols, c0 + w + overlap) - ocol, min(rows, r0 + h + overlap) - orow)
            yield inner, outer


def block_count(shape, block_size):
    bs_r, bs_c = (block_size, block_size) if np.isscalar(block_size) else block_size
    return math.ceil(shape[0] / bs_r) * math.ceil(shape[1] / bs_c)


def _temporary_path(path):
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.serac-tmp-{uuid.uuid4().hex[:8]}.tif")


def _remove_quietly(path):
    for p in (path, path + ".aux.xml", path + ".ovr"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


class RasterWriter:
    """Atomic, windowed GeoTIFF writer (context manager).

    >>> with RasterWriter("out.tif", grid, count=2, band_names=["vx", "vy"]) as w:
    ...     w.write(block, window)        # as many windows as needed
    ...     w.write(full_array)           # or everything at once

    Data goes to a hidden temporary file beside ``path``. Leaving the block normally
    converts it to a Cloud Optimized GeoTIFF (``cog=True``, if GDAL has the COG driver)
    or keeps the tiled GeoTIFF, then renames it onto ``path``. Leaving with an exception
    (error or :class:`~serac.core.errors.Cancelled`) deletes the temporary file, so
    ``path`` is either complete or untouched.
    """

    def __init__(self, path, grid, count=1, dtype="float32", nodata=float("nan"), band_names=None,
                 tags=None, band_tags=None, cog=True, compress="DEFLATE", block=256):
        if count < 1:
            raise InputError("A raster output needs at least one band.")
        self.path = os.fspath(path)
        self.grid = grid
        self.count = count
        self.dtype = np.dtype(dtype)
        self.nodata = nodata
        self.band_names = list(band_names or [])
        self.tags = dict(tags or {})
        self.band_tags = band_tags or {}
        self.cog = bool(cog) and has_cog_driver()
        self.compress = compress
        self.block = block
        self._tmp = None
        self._ds = None

    def __enter__(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)
        self._tmp = _temporary_path(self.path)
        tiled = self.grid.width >= self.block and self.grid.height >= self.block
        profile = dict(driver="GTiff", width=self.grid.width, height=self.grid.height, count=self.count,
                       dtype=self.dtype.name, crs=self.grid.crs, transform=self.grid.transform,
                       compress=self.compress, BIGTIFF="IF_SAFER")
        if self.nodata is not None:
            profile["nodata"] = self.nodata
        if tiled:
            profile.update(tiled=True, blockxsize=self.block, blockysize=self.block)
        if self.dtype.kind == "f":
            profile["predictor"] = 3 if self.compress.upper() in ("DEFLATE", "LZW", "ZSTD") else 1
        self._ds = rasterio.open(self._tmp, "w", **profile)
        for i, name in enumerate(self.band_names[: self.count], start=1):
            self._ds.set_band_description(i, str(name))
        if self.tags:
            self._ds.update_tags(**{k: str(v) for k, v in self.tags.items()})
        for i, tags in self.band_tags.items():
            self._ds.update_tags(int(i), **{k: str(v) for k, v in tags.items()})
        return self

    def write(self, data, window=None, band=None):
        """Write ``data`` (bands, rows, cols) or (rows, cols) at ``window`` (default: whole grid).

        NaN in float data is replaced by the nodata value when that is not NaN.
        """
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[None]
        if band is None and data.shape[0] != self.count:
            raise BandCountError(f"Writing {data.shape[0]} band(s) into a {self.count}-band output.")
        if self.dtype.kind == "f" and self.nodata is not None and not np.isnan(self.nodata):
            data = np.where(np.isfinite(data), data, self.nodata)
        data = data.astype(self.dtype, copy=False)
        win = None if window is None else (Window(*window) if not isinstance(window, Window) else window)
        indexes = list(range(1, self.count + 1)) if band is None else [band]
        self._ds.write(data, indexes=indexes, window=win)

    def __exit__(self, exc_type, exc, tb):
        try:
            self._ds.close()
        except Exception:
            _remove_quietly(self._tmp)
            raise
        if exc_type is not None:
            _remove_quietly(self._tmp)
            return False
        try:
            final_tmp = self._tmp
            if self.cog:
                final_tmp = _temporary_path(self.path)
                rasterio.shutil.copy(self._tmp, final_tmp, driver="COG", COMPRESS=self.compress,
                                     BLOCKSIZE=str(self.block), BIGTIFF="IF_SAFER",
                                     **({"PREDICTOR": "YES"} if self.dtype.kind == "f" else {}))
                _remove_quietly(self._tmp)
            os.replace(final_tmp, self.path)
            _remove_quietly(final_tmp)
        except BaseException:
            _remove_quietly(self._tmp)
            if self.cog:
                _remove_quietly(final_tmp)
            raise
        return False


_COG_DRIVER = []


def has_cog_driver():
    """True if the GDAL that rasterio uses can write Cloud Optimized GeoTIFF (GDAL >= 3.1)."""
    if not _COG_DRIVER:
        with rasterio.Env() as env:
            _COG_DRIVER.append("COG" in env.drivers())
    return _COG_DRIVER[0]


def write_raster(path, data, grid, nodata=float("nan"), band_names=None, tags=None, band_tags=None,
                 dtype=None, cog=True):
    """Write a whole array (bands, rows, cols) or (rows, cols) to ``path`` atomically."""
    data = np.asarray(data)
    count = 1 if data.ndim == 2 else data.shape[0]
    if data.shape[-2:] != grid.shape:
        raise InputError(f"Array shape {data.shape[-2:]} does not match the grid {grid.shape}.")
    with RasterWriter(path, grid, count=count, dtype=dtype or data.dtype, nodata=nodata,
                      band_names=band_names, tags=tags, band_tags=band_tags, cog=cog) as writer:
        writer.write(data)
    return path


def rasterize_geometries(geometries, grid, value=1, all_touched=False, dtype="uint8"):
    """Burn ``geometries`` (GeoJSON-like mappings in the grid's CRS) onto ``grid``.

    Returns a (rows, cols) array: ``value`` inside the geometries, 0 elsewhere.
    """
    shapes = [(g, value) for g in geometries if g]
    if not shapes:
        return np.zeros(grid.shape, dtype=dtype)
    return rasterio.features.rasterize(shapes, out_shape=grid.shape, transform=grid.transform,
                                       fill=0, all_touched=all_touched, dtype=dtype)


def utm_crs_for(lon, lat):
    """The WGS 84 / UTM zone CRS for a point (degrees)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def metric_grid_for(grid, resolution=None):
    """A grid in metres covering ``grid``: the grid itself if projected, else a UTM grid.

    ``resolution`` (m/px) defaults to the source pixel size converted to metres at the
    centre of the raster.
    """
    require_crs(grid)
    if not grid.is_geographic:
        return grid
    left, bottom, right, top = grid.bounds
    lon, lat = (left + right) / 2, (bottom + top) / 2
    utm = utm_crs_for(lon, lat)
    transform, width, height = rasterio.warp.calculate_default_transform(
        grid.crs, utm, grid.width, grid.height, left=left, bottom=bottom, right=right, top=top,
        resolution=resolution)
    return RasterGrid(utm, transform, width, height)
