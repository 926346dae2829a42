"""One band of a raster file read onto a grid, skipping the warp when the pixels already line up.

:func:`~serac.core.raster_io.read_on_grid` reprojects through a GDAL warped VRT unless
the file's grid *equals* the target grid. Often the two grids hold the same pixels and
differ only by a whole number of px (the file covers a larger or smaller extent), by an
equivalent CRS (e.g. ETRS89 / UTM 33N and WGS 84 / UTM 33N, between which PROJ applies
no datum shift) or by a rounding of the geotransform far below a pixel. The warp then
returns the file's own values at 5-7 times the cost of a plain read. :class:`BandReader`
detects that case (:func:`pixel_offset`: target pixel corners mapped into the file's
pixel coordinates with the same PROJ transformation GDAL uses must all land within
``ALIGN_TOLERANCE_PX`` of one whole-pixel offset) and then reads the window directly,
with NaN outside the file and for nodata; otherwise it falls back to ``read_on_grid``.
"""

import contextlib
import os

import numpy as np
import rasterio
import rasterio.warp
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from ..errors import InputError
from ..raster_io import RasterGrid, read_on_grid, require_overlap
from ..threads import gdal_threads

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
    sub-pixel offset, a CRS that moves the points, or a CRS missing).
    """
    if src_grid.crs is None or grid.crs is None:
        return None
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

    Reads directly when the file lines up with the grid (see module docstring), else
    through :func:`~serac.core.raster_io.read_on_grid` with ``resampling``.
    """

    def __init__(self, path, band=1, name="The raster"):
        self.path = os.fspath(path)
        self.band = int(band)
        with rasterio.open(self.path) as ds:
            if not 1 <= self.band <= ds.count:
                raise InputError(f"{name} '{os.path.basename(self.path)}' has {ds.count} band(s); "
                                 f"band {self.band} was asked for.", "choose an existing band.")
            self.grid = RasterGrid.from_dataset(ds)
            self.dtype = ds.dtypes[self.band - 1]
            self.nodata = ds.nodata
            self.unit = ds.units[self.band - 1]
            flags = ds.mask_flag_enums[self.band - 1]
            block_rows, block_cols = ds.block_shapes[self.band - 1]
        self._threaded = block_rows * block_cols >= THREADED_BLOCK_PX
        # a plain nodata value (or no mask at all) is compared here; other masks (alpha, internal) via GDAL
        self._gdal_mask = not (flags == [MaskFlags.all_valid] or MaskFlags.nodata in flags)
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
            return read_on_grid(self.path, grid, bands=self.band, window=window, resampling=resampling).band(1)
        return self._direct(grid, window, offset, self._read_window, np.nan, np.float32)

    def nonzero(self, grid, window=None):
        """True where the band holds a valid (finite, not nodata) non-zero value, e.g. a mask (nearest neighbour).

        The same as ``np.isfinite(v) & (v != 0)`` of the values ``read`` gives,
        without converting an integer band to float.
        """
        offset = self.offset(grid)
        if offset is None:
            values = read_on_grid(self.path, grid, bands=self.band, window=window, resampling="nearest").band(1)
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
        """The file opened in a GDAL environment suited to reading ``window``."""
        threaded = self._threaded and window.width * window.height * 4 >= THREADED_READ_BYTES
        with rasterio.Env(**({"GDAL_NUM_THREADS": gdal_threads()} if threaded else {})), \
                rasterio.open(self.path) as ds:
            yield ds

    def _nonzero_window(self, window):
        if self._gdal_mask or np.dtype(self.dtype).kind not in "iu":
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
                masked = ds.read(self.band, window=window, masked=True)
                return np.ma.filled(masked.astype(np.float32, copy=False), np.nan)
            if self.dtype in _EXACT_IN_FLOAT32:
                values = ds.read(self.band, window=window, out_dtype="float32")
                if self.nodata is not None and not np.isnan(self.nodata):
                    values[values == np.float32(self.nodata)] = np.nan
                return values
            raw = ds.read(self.band, window=window)
        values = raw.astype(np.float32)
        if self.nodata is not None and not np.isnan(self.nodata):
            values[raw == self.nodata] = np.nan
        return values


def _intersects(window, grid):
    return (window.col_off < grid.width and window.col_off + window.width > 0
            and window.row_off < grid.height and window.row_off + window.height > 0)
