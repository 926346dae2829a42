"""Apply a fitted co-registration to the whole DEM, block by block.

The aligned DEM is produced on the reference grid: each block of the DEM to align is
read onto the reference grid with a margin (reprojected on the fly if its CRS,
resolution or extent differ), moved by the shift with bilinear resampling
(:func:`~.shift.shift_array`, the same interpolation the fit used), and corrected
vertically (shift_z + ramps). Only one block is in memory at a time, so DEMs larger
than memory work. Outputs are written atomically (:class:`~.output.DemOutput`):
a failure or cancellation leaves no partial file.

``shift_by="geotransform"`` instead keeps the DEM's own pixels and moves its
geotransform (no resampling), adding the vertical correction.

When the fit converted the DEM to align onto the reference's vertical datum
(``result.vertical_datum.shift``), the aligned DEM on the reference grid and every dh map
are on the reference's datum too; a DEM moved by its geotransform keeps its own CRS, so
its heights stay on its own datum (the fitted shifts exclude the datum difference).
"""

import contextlib
import math

import numpy as np
from affine import Affine
from rasterio.windows import Window

from ..errors import InputError
from ..progress import as_progress
from ..raster_io import RasterGrid, block_count, iter_blocks
from ..stats import robust_summary
from .output import DemOutput
from .shift import shift_array
from .sources import DemSource
from .workgrid import pixel_coordinates, shift_offsets, shift_to_native

DH_TAGS = {"QUANTITY": "elevation difference (aligned - reference)", "UNITS": "m"}

#: Output summaries use every STRIDE-th pixel in rows and columns.
STRIDE = 5


class _Subsample:
    """A regular subsample (1 px in STRIDE x STRIDE) of every block written, for a summary of a whole map."""

    def __init__(self):
        self.parts = []

    def add(self, values, window):
        r0 = (-int(window.row_off)) % STRIDE
        c0 = (-int(window.col_off)) % STRIDE
        v = values[r0::STRIDE, c0::STRIDE]
        self.parts.append(v[np.isfinite(v)])

    def summary(self):
        return robust_summary(np.concatenate(self.parts) if self.parts else np.empty(0))


def _padded_grid(grid, pad):
    return RasterGrid(grid.crs, grid.transform * Affine.translation(-pad, -pad),
                      grid.width + 2 * pad, grid.height + 2 * pad)


def _read_with_margin(dem, grid, padded, inner, pad, resampling):
    """The DEM on ``inner`` of ``grid`` plus ``pad`` px all round (NaN outside the DEM)."""
    h, w = int(inner.height) + 2 * pad, int(inner.width) + 2 * pad
    if dem.grid.matches(grid):  # nothing beyond the grid to read: clip, read, paste
        r0, c0 = int(inner.row_off) - pad, int(inner.col_off) - pad
        rr0, cc0 = max(0, r0), max(0, c0)
        rr1, cc1 = min(grid.height, r0 + h), min(grid.width, c0 + w)
        if (rr0, cc0, rr1, cc1) == (r0, c0, r0 + h, c0 + w):  # all inside: no paste
            return dem.read(grid, Window(c0, r0, w, h))
        out = np.full((h, w), np.nan, dtype=np.float32)
        if rr1 > rr0 and cc1 > cc0:
            out[rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0] = dem.read(grid, Window(cc0, rr0, cc1 - cc0, rr1 - rr0))
        return out
    return dem.read(padded, Window(int(inner.col_off), int(inner.row_off), w, h), resampling)


def _vertical(transform, grid, window, work_crs):
    """Vertical correction (m) on ``window`` of ``grid``: shift_z plus ramps at the pixel centres."""
    if not transform.ramps:
        return np.float32(transform.shift_z_m)
    x, y = pixel_coordinates(grid, window, work_crs)
    return transform.vertical(x, y)


def _on_reference_datum(result, dem):
    """``dem`` as a :class:`DemSource` reading its heights on the datum the fit used (the reference's when
    it converted them). A result without ``vertical_datum`` (points co-registration) converts nothing."""
    pair = getattr(result, "vertical_datum", None)
    dem = DemSource.of(dem, "DEM to align")
    return dem.with_datum_shift(pair.shift) if pair is not None and pair.shift is not None else dem


def iter_aligned_blocks(result, reference, dem, block_size=1024, resampling="bilinear", with_dh=True,
                        progress=None):
    """Yield (window, aligned, dh) blocks of the aligned DEM on the reference grid (float32, m).

    ``dh`` (aligned - reference) is None unless ``with_dh``.
    """
    progress = as_progress(progress)
    reference = DemSource.of(reference, "reference DEM")
    dem = _on_reference_datum(result, dem)
    grid = reference.grid
    dx, dy = result.shift_native
    drow, dcol = shift_offsets(dx, dy, grid)
    pad = int(math.ceil(max(abs(drow), abs(dcol)))) + 1
    padded = _padded_grid(grid, pad)
    total = block_count(grid.shape, block_size)
    for i, (inner, _) in enumerate(iter_blocks(grid.shape, block_size)):
        moved = shift_array(_read_with_margin(dem, grid, padded, inner, pad, resampling), drow, dcol)
        aligned = moved[pad:pad + int(inner.height), pad:pad + int(inner.width)]
        aligned += _vertical(result.transform, grid, inner, result.work_grid.crs)
        dh = aligned - reference.read(grid, inner) if with_dh else None
        yield inner, aligned, dh
        progress.update((i + 1) / total)


def apply_in_memory(result, reference, dem, block_size=512, resampling="bilinear"):
    """The aligned DEM and dh on the reference grid as two (rows, cols) float32 arrays.

    ``block_size`` (px): blocks small enough to stay in the CPU cache (512 px: about 1.5x
    faster than 2048 px on a 21 Mpx DEM).
    """
    grid = DemSource.of(reference, "reference DEM").grid
    aligned = np.empty(grid.shape, dtype=np.float32)
    dh = np.empty(grid.shape, dtype=np.float32)
    for w, a, d in iter_aligned_blocks(result, reference, dem, block_size, resampling):
        s = (slice(int(w.row_off), int(w.row_off + w.height)), slice(int(w.col_off), int(w.col_off + w.width)))
        aligned[s] = a
        dh[s] = d
    return aligned, dh


def _writer(stack, path, grid, name, tags, cog=True):
    if not path:
        return None
    return stack.enter_context(DemOutput(path, grid, name, tags, cog))


def apply_to_files(result, reference, dem, aligned_path=None, dh_path=None, block_size=1024,
                   resampling="bilinear", shift_by="resample", cog=True, feedback=None):
    """Write the aligned DEM and/or the dh map (aligned - reference) on the reference grid.

    ``shift_by="resample"`` (default) resamples the moved DEM onto the reference grid;
    ``"geotransform"`` writes the DEM on its own grid with a moved geotransform (no
    resampling; the dh map is still on the reference grid). ``resampling`` is how a DEM
    on another grid is first read onto the reference grid. ``cog=False`` writes tiled
    GeoTIFFs without the Cloud Optimized GeoTIFF conversion (about 1.5x faster to write,
    no overviews). Float32 outputs, nodata NaN, DEFLATE level 1 (:mod:`.output`).
    Returns the output paths and ``dh_summary`` / ``aligned_summary``:
    :func:`~serac.core.stats.robust_summary` of the written maps (all terrain, 1 px in
    5 x 5; empty when not written), e.g. to scale colour ramps.
    """
    progress = as_progress(feedback)
    if shift_by not in ("resample", "geotransform"):
        raise InputError(f"Unknown shift mode '{shift_by}'.", "use 'resample' or 'geotransform'.")
    tags = {"SERAC_COREG": result.summary_line()}
    grid = DemSource.of(reference, "reference DEM").grid
    dh_sample, aligned_sample = _Subsample(), _Subsample()
    if shift_by == "geotransform":
        if aligned_path is None:
            raise InputError("Shifting the geotransform needs an output path for the aligned DEM.")
        _write_moved_geotransform(result, dem, aligned_path, block_size, tags, cog, aligned_sample,
                                  progress.sub(0, 0.5))
        if dh_path:
            with contextlib.ExitStack() as stack:
                writer = _writer(stack, dh_path, grid, "dh", {**tags, **DH_TAGS}, cog)
                ref = DemSource.of(reference, "reference DEM")
                moved = _on_reference_datum(result, DemSource(aligned_path, "aligned DEM"))
                for inner, _ in iter_blocks(grid.shape, block_size):
                    aligned = moved.read(grid, inner, resampling)
                    dh = aligned - ref.read(grid, inner)
                    writer.write(dh, inner)
                    dh_sample.add(dh, inner)
                    progress.check_cancelled()
        progress.update(1.0)
        return {"aligned": aligned_path, "dh": dh_path, "dh_summary": dh_sample.summary(),
                "aligned_summary": aligned_sample.summary()}
    with contextlib.ExitStack() as stack:
        w_aligned = _writer(stack, aligned_path, grid, "elevation", {**tags, "UNITS": "m"}, cog)
        w_dh = _writer(stack, dh_path, grid, "dh", {**tags, **DH_TAGS}, cog)
        for inner, aligned, dh in iter_aligned_blocks(result, reference, dem, block_size, resampling,
                                                     with_dh=w_dh is not None, progress=progress):
            if w_aligned is not None:
                w_aligned.write(aligned, inner)
                aligned_sample.add(aligned, inner)
            if w_dh is not None:
                w_dh.write(dh, inner)
                dh_sample.add(dh, inner)
    return {"aligned": aligned_path, "dh": dh_path, "dh_summary": dh_sample.summary(),
            "aligned_summary": aligned_sample.summary()}


def _write_moved_geotransform(result, dem, path, block_size, tags, cog, sample, progress):
    dem = DemSource.of(dem, "DEM to align")
    if dem.path is None:
        raise InputError("Shifting the geotransform needs the DEM to align as a file.")
    dx, dy = shift_to_native(result.transform.shift_x_m, result.transform.shift_y_m, result.work_grid, dem.grid)
    grid = dem.grid
    moved = RasterGrid(grid.crs, Affine.translation(dx, dy) * grid.transform, grid.width, grid.height)
    total = block_count(grid.shape, block_size)
    with DemOutput(path, moved, "elevation", {**tags, "UNITS": "m", "SERAC_SHIFT_BY": "geotransform"}, cog) as writer:
        for i, (inner, _) in enumerate(iter_blocks(grid.shape, block_size)):
            values = dem.read(grid, inner) + _vertical(result.transform, moved, inner, result.work_grid.crs)
            writer.write(values, inner)
            sample.add(values, inner)
            progress.update((i + 1) / total)
