"""Raster input and output shared by every Serac algorithm.

* :class:`RasterGrid` — the georeferencing of a raster (CRS, affine transform, size).
* :func:`read_raster` / :func:`read_on_grid` — read a raster, or a window of it, as
  float arrays with nodata as NaN; ``read_on_grid`` reprojects/resamples onto another
  raster's grid on the fly (GDAL warped VRT), window by window if asked.
* :class:`BandReader` — THE grid reader: one band of a file read onto windows of any
  grid, directly when the grids line up (no warp), else through ``read_on_grid``.
  Every capability (DEM, velocity, SAR, time series, segmentation) reads through it.
* What every read does (:func:`band_encoding`, so no algorithm can forget it):
  outside a raster's footprint is nodata (NaN), with or without a nodata tag;
  untagged voids (-9999, -32768, -32767, float max, 0 in an unsigned DEM) and a nodata
  tag the data type cannot hold are treated as nodata with a warning naming the
  value (:class:`~serac.core.errors.SeracWarning`); GDAL scale/offset are applied;
  a truncated file raises :class:`~serac.core.errors.UnreadableRasterError`.
* :class:`RasterWriter` / :func:`write_raster` — THE writer of every raster output: tiled,
  compressed GeoTIFF (Cloud Optimized GeoTIFF by default) written atomically (blocks go to a
  temporary file in the destination folder, converted in one threaded GDAL copy and renamed
  into place only when everything succeeded, so a failed or cancelled run leaves nothing
  half-written), with one nodata convention: NaN in float outputs, an explicit integer
  nodata (or none) in integer outputs.
* :func:`iter_blocks` — the one window iterator used for all blockwise processing.
* :func:`rasterize_geometries` — burn outlines (GeoJSON-like mappings) onto a grid.
* :func:`pixel_sizes_m` / :func:`pixel_size_m` / :func:`pixel_area_m2` — ground pixel size (m)
  and area (m²) of a grid, in any CRS (degrees converted on the WGS 84 ellipsoid, feet to m);
  :func:`metric_grid_for` — a grid in metres covering a grid (UTM for degrees or feet).
* :func:`display_range` — the colour stretch of an output (percentiles of an array or a raster band).
* :func:`check_output_path` — fail early, naming the file, when an output cannot be written.

Coordinates are in the units of the CRS (m for projected CRS); resolutions are
positive numbers (m/px); arrays are (band, row, col) or (row, col).
"""

import contextlib
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

from .band_encoding import (VOID_VALUES, BandEncoding, band_encoding, check_complete,  # noqa: F401 (re-exported)
                            encodings_of, file_name, open_raster, read_decoded, reading)
from .errors import AllNoDataError, BandCountError, CRSError, InputError, NoOverlapError, OutputError
from .threads import gdal_threads

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


def read_grid(path):
    """The :class:`RasterGrid` of a raster file, without reading pixels (a truncated file is refused)."""
    with open_raster(path) as ds:
        check_complete(ds, os.fspath(path))
        return RasterGrid.from_dataset(ds)


def band_count(path):
    with open_raster(path) as ds:
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


def _band_indexes(ds, bands):
    if bands is None:
        return list(range(1, ds.count + 1))
    bands = [bands] if isinstance(bands, (int, np.integer)) else list(bands)
    for b in bands:
        if not 1 <= b <= ds.count:
            raise BandCountError(f"Band {b} was asked for but '{ds.name}' has {ds.count} band(s).",
                                 "choose a band between 1 and the band count.")
    return bands


def read_raster(path, bands=None, window=None, dtype="float32", zero_is_void=False):
    """Read a raster (or ``window`` of it) as float with nodata as NaN, scale/offset applied.

    ``bands`` is a 1-based band index or list of them (default: all bands).
    """
    with open_raster(path) as ds:
        idx = _band_indexes(ds, bands)
        encodings = encodings_of(path, ds, idx, zero_is_void)
        win = None if window is None else (Window(*window) if not isinstance(window, Window) else window)
        data = read_decoded(ds, path, idx, encodings, win, dtype)
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


def read_on_grid(path, grid, bands=None, window=None, resampling="bilinear", dtype="float32",
                 zero_is_void=False):
    """Read ``path`` onto ``grid`` (or a ``window`` of it), reprojecting if needed.

    Pixels outside the source or nodata in it are NaN (with or without a nodata tag; see
    :func:`band_encoding`). Raises :class:`NoOverlapError` if the raster does not overlap
    the grid at all.
    """
    with open_raster(path) as ds:
        src_grid = RasterGrid.from_dataset(ds)
        idx = _band_indexes(ds, bands)
        encodings = encodings_of(path, ds, idx, zero_is_void)
        win = None if window is None else (Window(*window) if not isinstance(window, Window) else window)
        out_grid = grid if win is None else grid.window_grid(win)
        if src_grid.matches(grid):
            data = read_decoded(ds, path, idx, encodings, win, dtype)
        else:
            require_crs(src_grid, f"Raster '{file_name(path)}'")
            require_crs(grid, "The target grid")
            require_overlap(src_grid, grid)
            nodata = {e.nodata for e in encodings}
            src_nodata = nodata.pop() if len(nodata) == 1 else None
            # without a nodata value, an alpha band marks what lies outside the source footprint
            with WarpedVRT(ds, crs=grid.crs, transform=grid.transform, width=grid.width,
                           height=grid.height, resampling=_resampling(resampling), src_nodata=src_nodata,
                           nodata=src_nodata, add_alpha=src_nodata is None) as vrt:
                with reading(path):
                    masked = vrt.read(idx, window=win, masked=True)
                    outside = vrt.read(vrt.count, window=win) == 0 if src_nodata is None else None
            data = np.ma.filled(masked.astype(dtype, copy=False), np.nan)
            if outside is not None:
                data[:, outside] = np.nan
            for k, e in enumerate(encodings):
                if e.nodata is not None and e.nodata != src_nodata:
                    data[k][masked.data[k] == e.nodata] = np.nan
                e.apply_scale(data[k])
        names = [ds.descriptions[i - 1] or f"band_{i}" for i in idx]
        return Raster(data, out_grid, names, ds.tags(), ds.nodata)


# -- the grid reader ---------------------------------------------------------------------------------
# read_on_grid reprojects through a GDAL warped VRT unless the file's grid *equals* the target grid.
# Often the two grids hold the same pixels and differ only by a whole number of px (the file covers a
# larger or smaller extent), by an equivalent CRS (e.g. ETRS89 / UTM 33N and WGS 84 / UTM 33N, between
# which PROJ applies no datum shift) or by a rounding of the geotransform far below a pixel. The warp
# then returns the file's own values at 5-7 times the cost of a plain read. BandReader detects that case
# (pixel_offset: target pixel corners mapped into the file's pixel coordinates with the same PROJ
# transformation GDAL uses must all land within ALIGN_TOLERANCE_PX of one whole-pixel offset) and then
# reads the window directly, with NaN outside the file and for nodata; otherwise it uses read_on_grid.

#: Largest misalignment (px) still read directly: it moves a value by at most this
#: fraction of the difference to its neighbour (e.g. 2 mm for a 20 m step).
ALIGN_TOLERANCE_PX = 1e-4

#: Points per side of the lattice of target pixel corners checked by :func:`pixel_offset`.
LATTICE = 7

#: Dtypes whose values float32 holds exactly (read straight into a float32 buffer).
_EXACT_IN_FLOAT32 = {"uint8", "int8", "uint16", "int16", "float32"}

#: GDAL decodes the blocks of one read request on this many threads (same values, less wall time)
#: when the file's blocks hold at least ``THREADED_BLOCK_PX`` px (one-row strips decode faster on one)
#: and the request at least ``THREADED_READ_BYTES`` (small reads do not repay the threads).
READ_THREADS = "ALL_CPUS"  # the default; a job's thread limit (serac.core.threads.gdal_threads) replaces it
THREADED_BLOCK_PX = 256 * 64
THREADED_READ_BYTES = 4 * 1024 ** 2


def pixel_offset(src_grid, grid, tolerance_px=ALIGN_TOLERANCE_PX):
    """(drow, dcol) whole px such that pixel (r, c) of ``grid`` is pixel (r + drow, c + dcol) of ``src_grid``.

    None when the grids do not line up that way (other resolution, rotation, a
    sub-pixel offset, a CRS that moves the points, or a CRS missing unless the grids are equal).
    """
    if src_grid.crs is None or grid.crs is None:  # image (radar) geometry: only the same grid lines up
        return (0, 0) if src_grid.matches(grid) else None
    cols, rows = np.meshgrid(np.linspace(0, grid.width, LATTICE), np.linspace(0, grid.height, LATTICE))
    x, y = grid.transform * (cols.ravel(), rows.ravel())
    if src_grid.crs != grid.crs:
        try:
            x, y = rasterio.warp.transform(grid.crs, src_grid.crs, x, y)
        except Exception:  # noqa: BLE001 - points outside the CRS's domain: let the warp decide
            return None
    src_cols, src_rows = ~src_grid.transform * (np.asarray(x), np.asarray(y))
    d_row, d_col = src_rows - rows.ravel(), src_cols - cols.ravel()
    if not (np.all(np.isfinite(d_row)) and np.all(np.isfinite(d_col))):
        return None
    drow, dcol = round(float(d_row[0])), round(float(d_col[0]))
    if np.max(np.abs(d_row - drow)) > tolerance_px or np.max(np.abs(d_col - dcol)) > tolerance_px:
        return None
    return drow, dcol


def _grid_key(grid):
    return grid.crs.to_wkt() if grid.crs is not None else None, tuple(grid.transform), grid.width, grid.height


class BandReader:
    """One band of a raster file, read onto windows of any grid as float32 (NaN = nodata or outside).

    Reads directly when the file lines up with the grid (see above), else through
    :func:`read_on_grid` with ``resampling``. Voids, scale/offset and truncation are
    handled as :func:`band_encoding` says (checked, and any warning issued, on creation).
    ``zero_is_void``: 0 in an unsigned band marks voids (DEMs).
    """

    def __init__(self, path, band=1, name="The raster", zero_is_void=False):
        self.path = os.fspath(path)
        self.band = int(band)
        self.zero_is_void = bool(zero_is_void)
        with open_raster(self.path) as ds:
            if not 1 <= self.band <= ds.count:
                raise BandCountError(f"{name} '{file_name(self.path)}' has {ds.count} band(s); "
                                     f"band {self.band} was asked for.", "choose an existing band.")
            self.grid = RasterGrid.from_dataset(ds)
            self.dtype = ds.dtypes[self.band - 1]
            self.unit = ds.units[self.band - 1]
            self.count = ds.count
            block_rows, block_cols = ds.block_shapes[self.band - 1]
            self.encoding = encodings_of(self.path, ds, [self.band], self.zero_is_void)[0]
        self.nodata = self.encoding.nodata
        self._threaded = block_rows * block_cols >= THREADED_BLOCK_PX
        self._gdal_mask = self.encoding.gdal_mask
        self._offsets = {}

    def offset(self, grid):
        """:func:`pixel_offset` of the file's grid on ``grid`` (cached per grid)."""
        key = _grid_key(grid)
        if key not in self._offsets:
            self._offsets[key] = pixel_offset(self.grid, grid)
        return self._offsets[key]

    def read(self, grid, window=None, resampling="bilinear"):
        """Values on ``window`` of ``grid`` (default: the whole grid), (rows, cols) float32."""
        offset = self.offset(grid)
        if offset is None:
            return self._warped(grid, window, resampling)
        return self._direct(grid, window, offset, self._read_window, np.nan, np.float32)

    def _warped(self, grid, window, resampling):
        with warnings_once():
            return read_on_grid(self.path, grid, bands=self.band, window=window, resampling=resampling,
                                zero_is_void=self.zero_is_void).band(1)

    def nonzero(self, grid, window=None):
        """True where the band holds a valid (finite, not nodata) non-zero value, e.g. a mask (nearest neighbour).

        The same as ``np.isfinite(v) & (v != 0)`` of the values ``read`` gives,
        without converting an integer band to float.
        """
        offset = self.offset(grid)
        if offset is None:
            values = self._warped(grid, window, "nearest")
            return np.isfinite(values) & (values != 0)
        return self._direct(grid, window, offset, self._nonzero_window, False, bool)

    def _direct(self, grid, window, offset, read_window, fill, dtype):
        """``read_window`` of the file's pixels under ``window`` of ``grid``, ``fill`` outside the file."""
        w = Window(0, 0, grid.width, grid.height) if window is None else (
            window if isinstance(window, Window) else Window(*window))
        r0, c0 = int(w.row_off) + offset[0], int(w.col_off) + offset[1]
        h, wd = int(w.height), int(w.width)
        rr0, cc0 = max(0, r0), max(0, c0)
        rr1, cc1 = min(self.grid.height, r0 + h), min(self.grid.width, c0 + wd)
        if rr1 <= rr0 or cc1 <= cc0:
            whole = Window(-offset[1], -offset[0], self.grid.width, self.grid.height)
            if not _intersects(whole, grid):
                require_overlap(self.grid, grid)  # raises NoOverlapError like read_on_grid
            return np.full((h, wd), fill, dtype=dtype)
        values = read_window(Window(cc0, rr0, cc1 - cc0, rr1 - rr0))
        if (rr0, cc0, rr1, cc1) == (r0, c0, r0 + h, c0 + wd):
            return values
        out = np.full((h, wd), fill, dtype=dtype)
        out[rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0] = values
        return out

    @contextlib.contextmanager
    def _dataset(self, window):
        """The file opened in a GDAL environment suited to reading ``window``; read errors name the file."""
        threaded = self._threaded and window.width * window.height * 4 >= THREADED_READ_BYTES
        with rasterio.Env(**({"GDAL_NUM_THREADS": gdal_threads()} if threaded else {})), \
                open_raster(self.path) as ds, reading(self.path):
            yield ds

    def _nonzero_window(self, window):
        if self._gdal_mask or self.encoding.scaled or np.dtype(self.dtype).kind not in "iu":
            values = self._read_window(window)
            return np.isfinite(values) & (values != 0)
        with self._dataset(window) as ds:
            raw = ds.read(self.band, window=window)
        flags = raw != 0
        if self.nodata is not None and not np.isnan(self.nodata):
            flags &= raw != self.nodata
        return flags

    def _read_window(self, window):
        """A window inside the file as float32 with NaN for nodata (no resampling)."""
        with self._dataset(window) as ds:
            if self._gdal_mask:
                raw = ds.read(self.band, window=window)
                return self.encoding.decode(raw, np.float32, ds.read_masks(self.band, window=window))
            if self.dtype in _EXACT_IN_FLOAT32:
                values = ds.read(self.band, window=window, out_dtype="float32")
                if self.nodata is not None and not np.isnan(self.nodata):
                    values[values == np.float32(self.nodata)] = np.nan
                return self.encoding.apply_scale(values)
            raw = ds.read(self.band, window=window)
        return self.encoding.decode(raw, np.float32)


def _intersects(window, grid):
    return (window.col_off < grid.width and window.col_off + window.width > 0
            and window.row_off < grid.height and window.row_off + window.height > 0)


@contextlib.contextmanager
def warnings_once():
    """Silence :class:`SeracWarning` inside (a reader that already warned on creation reads window by window)."""
    import warnings

    from .errors import SeracWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeracWarning)
        yield


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


def sample_windows(shape, count=4, size=128):
    """Up to ``count`` x ``count`` windows of ``size`` px spread evenly over a (rows, cols) shape
    (a cheap look at a raster's values before the work starts)."""
    rows, cols = shape
    h, w = min(size, rows), min(size, cols)
    r_offs = np.unique(np.linspace(0, rows - h, count).astype(int))
    c_offs = np.unique(np.linspace(0, cols - w, count).astype(int))
    return [Window(int(c), int(r), w, h) for r in r_offs for c in c_offs]


#: How a display range is anchored: "percentiles" (low, high) as they are; "from zero" (0, high) for a
#: non-negative quantity (speed, error, RMS); "symmetric" (-m, m) with m the larger of |low| and |high| (dh).
STRETCHES = ("percentiles", "from zero", "symmetric")


def display_range(values, band=1, percentiles=(2, 98), stretch="percentiles", max_side=512):
    """THE colour stretch of an output layer: (low, high) from the ``percentiles`` of the finite values.

    ``values``: an array, or the path of a raster whose ``band`` is read decimated to at most
    ``max_side`` px a side. ``stretch``: see :data:`STRETCHES`. None when there are no finite
    values or the range is empty (high <= low; from zero: high <= 0; symmetric: m = 0).
    """
    if stretch not in STRETCHES:
        raise InputError(f"Unknown stretch '{stretch}'.", f"use one of {', '.join(STRETCHES)}.")
    if isinstance(values, (str, os.PathLike)):
        with open_raster(values) as ds:
            factor = max(1, int(np.ceil(max(ds.width, ds.height) / max_side)))
            shape = (max(1, ds.height // factor), max(1, ds.width // factor))
            values = ds.read(band, out_shape=shape, masked=True).astype(np.float64).filled(np.nan)
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = (float(v) for v in np.percentile(values, percentiles))
    if stretch == "from zero":
        return (0.0, high) if high > 0 else None
    if stretch == "symmetric":
        limit = max(abs(low), abs(high))
        return (-limit, limit) if limit > 0 else None
    return (low, high) if high > low else None


def block_count(shape, block_size):
    bs_r, bs_c = (block_size, block_size) if np.isscalar(block_size) else block_size
    return math.ceil(shape[0] / bs_r) * math.ceil(shape[1] / bs_c)


def _unwritable(path, exc):
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    reason = getattr(exc, "strerror", None) or str(exc)
    if ".serac-" in reason:  # GDAL names Serac's hidden intermediate file: keep only the cause
        reason = reason.rsplit(": ", 1)[-1].rstrip(").") or "write failed"
    return OutputError(f"The output '{path}' cannot be written in '{folder}' ({reason}).",
                       "choose an output folder you can write to (e.g. in your home folder), or free disk space; "
                       "leave the output empty to get a temporary file.")


def check_output_path(path):
    """Raise :class:`OutputError` naming ``path`` unless a file can be created in its folder.

    Creates the folder if needed, and probes it with a hidden file that is removed at once,
    so the check is right even where permissions lie (read-only mounts, root, network shares).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    probe = os.path.join(folder, f".serac-write-test-{uuid.uuid4().hex[:8]}")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.remove(probe)
        raise _unwritable(path, exc) from None


@contextlib.contextmanager
def writing(path):
    """Turn OS and GDAL write failures inside the block into :class:`OutputError` naming ``path``."""
    try:
        yield
    except (OSError, rasterio.errors.RasterioError) as exc:
        raise _unwritable(path, exc) from None


def _temporary_path(path, kind="tmp"):
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.serac-{kind}-{uuid.uuid4().hex[:8]}.tif")


def _move_sidecar(source, path):
    """Move GDAL's ``.aux.xml`` of ``source`` beside ``path`` (or drop a stale one of ``path``).

    GDAL keeps there what a GeoTIFF cannot hold, such as a 3-D or compound CRS (heights on the
    ellipsoid or a geoid): without it the output would have no CRS at all.
    """
    try:
        os.replace(source + ".aux.xml", path + ".aux.xml")
    except FileNotFoundError:
        try:
            os.remove(path + ".aux.xml")
        except FileNotFoundError:
            pass


def _remove_quietly(path):
    if not path:
        return
    for p in (path, path + ".aux.xml", path + ".ovr"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


#: The nodata convention of every Serac raster output: NaN in float outputs; an integer output
#: carries the integer nodata value it is given (e.g. 255 for "not classified"), or none.
FLOAT_NODATA = float("nan")

#: Temporary files larger than this (bytes) are DEFLATE-compressed while written, to spare disk space.
RAW_TEMPORARY_MAX_BYTES = 2 * 1024 ** 3

_PREDICTED = ("DEFLATE", "LZW", "ZSTD")


def output_nodata(dtype, nodata=FLOAT_NODATA):
    """The nodata tag an output of ``dtype`` gets: NaN for float (whatever float is asked for by default),
    ``nodata`` for integers (None: no tag; NaN, which no integer holds: no tag)."""
    if nodata is None:
        return None
    if np.dtype(dtype).kind != "f" and isinstance(nodata, float) and math.isnan(nodata):
        return None
    return nodata


class RasterWriter:
    """THE atomic, windowed GeoTIFF writer of every Serac raster output (context manager).

    >>> with RasterWriter("out.tif", grid, count=2, band_names=["vx", "vy"]) as w:
    ...     w.write(block, window)        # as many windows as needed
    ...     w.write(full_array)           # or everything at once

    Nodata: NaN in float outputs (:data:`FLOAT_NODATA`, the default); integer outputs pass their
    integer nodata (or None). Another float ``nodata`` is only for test inputs that imitate
    other software's files (NaN written is then replaced by it).

    Blocks go to a hidden tiled GeoTIFF beside ``path``, uncompressed (writing a block costs no
    compression; DEFLATE when it would exceed :data:`RAW_TEMPORARY_MAX_BYTES`). Leaving the block
    normally converts it in one GDAL copy, compressing on the job's threads
    (:func:`~serac.core.threads.gdal_threads`), into a Cloud Optimized GeoTIFF (``cog=True``, if
    GDAL has the COG driver) or a tiled GeoTIFF, with the floating-point predictor for float data,
    and renames it onto ``path``. ``level`` is the compression level (None: GDAL's default, 6 for
    DEFLATE; DEM outputs use 1, half the compression time for files about 4 % larger). Leaving with
    an exception (error or :class:`~serac.core.errors.Cancelled`) deletes the temporary files, so
    ``path`` is either complete or untouched.
    """

    def __init__(self, path, grid, count=1, dtype="float32", nodata=FLOAT_NODATA, band_names=None,
                 tags=None, band_tags=None, cog=True, compress="DEFLATE", level=None, block=256):
        if count < 1:
            raise InputError("A raster output needs at least one band.")
        self.path = os.fspath(path)  # the file the user chose, named in errors (never the hidden temporary)
        self.grid = grid
        self.count = count
        self.dtype = np.dtype(dtype)
        self.nodata = output_nodata(self.dtype, nodata)
        self.band_names = list(band_names or [])
        self.tags = dict(tags or {})
        self.band_tags = band_tags or {}
        self.cog = bool(cog) and has_cog_driver()
        self.compress = compress.upper()
        self.level = level
        self.block = block
        self._tmp = None
        self._ds = None

    @property
    def tiled(self):
        return self.grid.width >= self.block and self.grid.height >= self.block

    def __enter__(self):
        with writing(self.path):
            return self._open()

    def _open(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)
        self._tmp = _temporary_path(self.path, "raw")
        raw_bytes = self.dtype.itemsize * self.count * self.grid.width * self.grid.height
        compress = "NONE" if raw_bytes <= RAW_TEMPORARY_MAX_BYTES or self.compress == "NONE" else "DEFLATE"
        profile = dict(driver="GTiff", width=self.grid.width, height=self.grid.height, count=self.count,
                       dtype=self.dtype.name, crs=self.grid.crs, transform=self.grid.transform,
                       compress=compress, BIGTIFF="IF_SAFER")
        if self.nodata is not None:
            profile["nodata"] = self.nodata
        if self.tiled:
            profile.update(tiled=True, blockxsize=self.block, blockysize=self.block)
        if self.dtype.kind == "f" and compress != "NONE":
            profile["predictor"] = 3
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
        with writing(self.path):
            self._ds.write(data, indexes=indexes, window=win)

    def __exit__(self, exc_type, exc, tb):
        try:
            self._ds.close()
        except Exception as close_exc:
            _remove_quietly(self._tmp)
            if exc_type is not None:
                return False
            raise _unwritable(self.path, close_exc) from None
        if exc_type is not None:
            _remove_quietly(self._tmp)
            return False
        with writing(self.path):
            self._finish()
        return False

    def creation_options(self):
        """GDAL creation options of the final file (COG or tiled GeoTIFF), compressed on the job's threads."""
        predicted = self.dtype.kind == "f" and self.compress in _PREDICTED
        if self.cog:
            options = {"driver": "COG", "COMPRESS": self.compress, "BLOCKSIZE": str(self.block),
                       "BIGTIFF": "IF_SAFER", "NUM_THREADS": gdal_threads()}
            if predicted:
                options["PREDICTOR"] = "YES"
            if self.level is not None:
                options["LEVEL"] = str(self.level)
            return options
        options = {"driver": "GTiff", "COMPRESS": self.compress, "BIGTIFF": "IF_SAFER",
                   "NUM_THREADS": gdal_threads()}
        if predicted:
            options["PREDICTOR"] = "3"
        if self.level is not None and self.compress in ("DEFLATE", "ZSTD"):
            options["ZLEVEL" if self.compress == "DEFLATE" else "ZSTD_LEVEL"] = str(self.level)
        if self.tiled:
            options.update(TILED="YES", BLOCKXSIZE=str(self.block), BLOCKYSIZE=str(self.block))
        return options

    def _finish(self):
        final = _temporary_path(self.path, "final")
        try:
            rasterio.shutil.copy(self._tmp, final, **self.creation_options())
            os.replace(final, self.path)
            _move_sidecar(final, self.path)
        finally:
            _remove_quietly(self._tmp)
            _remove_quietly(final)  # after the rename: only what GDAL may have left beside it


_COG_DRIVER = []


def has_cog_driver():
    """True if the GDAL that rasterio uses can write Cloud Optimized GeoTIFF (GDAL >= 3.1)."""
    if not _COG_DRIVER:
        with rasterio.Env() as env:
            _COG_DRIVER.append("COG" in env.drivers())
    return _COG_DRIVER[0]


def write_raster(path, data, grid, nodata=FLOAT_NODATA, band_names=None, tags=None, band_tags=None,
                 dtype=None, cog=True):
    """Write a whole array (bands, rows, cols) or (rows, cols) to ``path`` atomically (:class:`RasterWriter`)."""
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


_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


def _metres_per_degree(lat_deg):
    """(east, north) metres per degree of longitude/latitude at ``lat_deg`` on the WGS 84 ellipsoid."""
    phi = np.radians(lat_deg)
    w = 1.0 - _WGS84_E2 * np.sin(phi) ** 2
    east = np.pi / 180.0 * _WGS84_A * np.cos(phi) / np.sqrt(w)
    north = np.pi / 180.0 * _WGS84_A * (1.0 - _WGS84_E2) / w ** 1.5
    return east, north


def metres_per_unit(crs):
    """Metres per unit of a projected ``crs``'s axes (1 for metres, 0.3048 for feet); None for no CRS,
    a geographic CRS or a CRS without a linear unit."""
    if crs is None or crs.is_geographic:
        return None
    try:
        return crs.linear_units_factor[1] or None
    except Exception:  # noqa: BLE001 - CRS without a linear unit
        return None


def is_metric(crs):
    """True for a projected CRS whose linear unit is the metre."""
    factor = metres_per_unit(crs)
    return factor is not None and abs(factor - 1.0) < 1e-9


def pixel_sizes_m(grid, rows=None):
    """Ground pixel size (x, y) in m of ``grid`` — THE metres-per-pixel of the core.

    Projected CRS: resolution times the CRS's linear unit (m, US ft, ...). Geographic CRS:
    degrees converted on the WGS 84 ellipsoid at the latitude of ``rows`` (array of row
    indices: arrays are returned) or of the grid's centre.
    """
    require_crs(grid)
    rx, ry = grid.res
    if grid.is_geographic:
        if rows is None:
            lat = (grid.bounds[1] + grid.bounds[3]) / 2.0
        else:
            lat = grid.xy(np.asarray(rows), np.zeros_like(np.asarray(rows)))[1]
        east, north = _metres_per_degree(lat)
        return rx * east, ry * north
    factor = metres_per_unit(grid.crs) or 1.0
    return rx * factor, ry * factor


def pixel_size_m(grid):
    """Ground pixel size of ``grid`` in m (geometric mean of x and y, at the centre for degrees)."""
    x, y = pixel_sizes_m(grid)
    return float(math.sqrt(x * y))


def pixel_area_m2(grid, rows=None):
    """Ground area of one pixel of ``grid`` in m² (per row index in ``rows`` for geographic grids)."""
    x, y = pixel_sizes_m(grid, rows)
    return x * y


def utm_crs_for(lon, lat):
    """The WGS 84 / UTM zone CRS for a point (degrees)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def metric_grid_for(grid, resolution=None):
    """A grid in metres covering ``grid``: the grid itself if its CRS is projected in metres, else
    (geographic CRS, or a projected CRS in feet) a grid in the UTM zone of its centre.

    ``resolution`` (m/px) defaults to the source pixel size converted to metres at the
    centre of the raster.
    """
    require_crs(grid)
    if is_metric(grid.crs):
        return grid
    left, bottom, right, top = grid.bounds
    lon, lat = (left + right) / 2, (bottom + top) / 2
    if not grid.is_geographic:
        (lon,), (lat,) = rasterio.warp.transform(grid.crs, CRS.from_epsg(4326), [lon], [lat])
    utm = utm_crs_for(lon, lat)
    transform, width, height = rasterio.warp.calculate_default_transform(
        grid.crs, utm, grid.width, grid.height, left=left, bottom=bottom, right=right, top=top,
        resolution=resolution)
    return RasterGrid(utm, transform, width, height)
