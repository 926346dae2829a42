"""The stable-terrain sample a co-registration is fitted on.

Both DEMs are read onto the metric working grid as float32 — the whole grid when it
holds at most ``max_fit_pixels`` px, otherwise about 64 blocks spread evenly over it
(each with a ``margin`` in px for the shift; a larger shift only drops points near block
edges) within that budget, so DEMs larger than memory can be fitted. From the
stable pixels valid in both DEMs three seeded random point sets are drawn (each pixel
kept with one probability, so the counts are approximate):

* ``fit_points`` (about ``subsample``): any slope; vertical shift and deramp use them;
* ``slope_points`` (about ``subsample``): slope within ``slope_limits`` (degrees) of
  the reference, with its slope and aspect; Nuth & Kääb uses them;
* ``stats_points`` (about ``stats_max_count``): for the before/after statistics.

Every step then evaluates dh = transformed DEM - reference at these points only; the
DEM is shifted by bilinear resampling (:mod:`.shift`), never by moving its grid.
"""

from dataclasses import dataclass, field

import numpy as np
from rasterio.windows import Window

from ..errors import AllNoDataError, InputError
from ..progress import as_progress
from ..raster_io import iter_blocks
from .shift import shift_points
from .terrain import slope_aspect_at
from .workgrid import shift_offsets

#: Fewer stable pixels than this and no statistic is trustworthy.
MIN_STABLE_PIXELS = 100


@dataclass
class Patch:
    """One window of the working grid held in memory (float32, NaN = nodata)."""

    outer: Window
    inner: Window
    ref: np.ndarray
    dem: np.ndarray
    usable: np.ndarray  # stable, valid in both DEMs, inside the inner window


@dataclass
class PointSet:
    """Sample points grouped by patch: indices into the patch arrays plus what is fixed per point."""

    starts: np.ndarray  # start of each patch's points; len(patches) + 1 entries
    rows: np.ndarray
    cols: np.ndarray
    ref: np.ndarray  # reference elevation (m)
    grid_rows: np.ndarray  # row/col offsets of each patch in the working grid
    grid_cols: np.ndarray
    work_grid: object
    extra: dict = field(default_factory=dict)  # e.g. slope, aspect (degrees)

    def __len__(self):
        return int(self.rows.size)

    @property
    def xy(self):
        """Working-CRS coordinates (x, y) of the points (m), computed once when first needed."""
        if "xy" not in self.extra:
            counts = np.diff(self.starts)
            self.extra["xy"] = self.work_grid.xy(self.rows + np.repeat(self.grid_rows, counts),
                                                 self.cols + np.repeat(self.grid_cols, counts))
        return self.extra["xy"]


@dataclass
class FitSample:
    work_grid: object
    patches: list
    fit_points: PointSet
    slope_points: PointSet
    stats_points: PointSet
    counts: dict
    slope_limits: tuple = (5.0, 70.0)
    _last: tuple = field(default=(None, None, None, None), repr=False)  # (points, x, y, values) of the last dem_at

    def dem_at(self, points, shift_x_m, shift_y_m):
        """DEM elevations at the points after moving the DEM by (x east, y north) m (bilinear).

        The last evaluation is kept: the statistics after a fit ask again for what its last step used.
        """
        last_points, last_x, last_y, values = self._last
        if last_points is points and (last_x, last_y) == (shift_x_m, shift_y_m):
            return values.copy()
        drow, dcol = shift_offsets(shift_x_m, shift_y_m, self.work_grid)
        out = np.empty(len(points), dtype=np.float32)
        for k, patch in enumerate(self.patches):
            s = slice(points.starts[k], points.starts[k + 1])
            out[s] = shift_points(patch.dem, points.rows[s], points.cols[s], drow, dcol)
        self._last = (points, shift_x_m, shift_y_m, out.copy())
        return out

    def dh(self, transform, points):
        """dh = transformed DEM - reference (m) at the points; NaN where the shifted DEM has no data."""
        dh = self.dem_at(points, transform.shift_x_m, transform.shift_y_m)
        dh += transform.vertical(*points.xy) if transform.ramps else np.float32(transform.shift_z_m)
        dh -= points.ref
        return dh


def _windows(grid, max_pixels, margin, rng, target_blocks=64):
    """(inner, outer) windows to read: the whole grid, or about ``target_blocks`` blocks within ``max_pixels`` px.

    Blocks are drawn by systematic random sampling (one random block in each run of
    consecutive blocks, in raster order), so they cover the whole extent evenly: a
    sample from one corner would miss spatially varying errors (tilts, rotations).
    """
    full = Window(0, 0, grid.width, grid.height)
    if grid.width * grid.height <= max_pixels:
        return [(full, full)]
    block_size = int(np.clip(np.sqrt(max_pixels / target_blocks), 32, 1024))
    margin = min(margin, block_size // 4)
    blocks = list(iter_blocks(grid.shape, block_size, overlap=margin))
    n = int(max(1, min(len(blocks), max_pixels // (block_size + 2 * margin) ** 2)))
    edges = np.linspace(0, len(blocks), n + 1).astype(int)
    return [blocks[int(rng.integers(a, b))] for a, b in zip(edges[:-1], edges[1:]) if b > a]


class _Draws:
    """Seeded Bernoulli draws of the usable pixels: each kept with probability ``p``, one uniform per pixel.

    ``draws(p)`` gives, per patch, the sorted flat indices of the usable pixels whose
    uniform is below ``p``. The uniforms of unusable pixels are overwritten with 2 (never
    drawn). The largest draw so far is kept; when it is sparse (under 1 px in
    ``SPARSE``), a draw at a smaller ``p`` — a subset of it — is filtered from it
    instead of from every pixel again.
    """

    SPARSE = 8

    def __init__(self, patches, rng):
        self.keys = []
        for patch in patches:
            u = rng.random(patch.usable.shape, dtype=np.float32)
            np.copyto(u, np.float32(2.0), where=~patch.usable)
            self.keys.append(u.ravel())
        self._p = -1.0
        self._largest = self._uniforms = None

    def __call__(self, p):
        p = min(float(p), 1.0)  # uniforms are < 1: p = 1 keeps every usable pixel
        if p == self._p:
            return self._largest
        if p < self._p and self._uniforms is not None:
            return [c[u < p] for c, u in zip(self._largest, self._uniforms)]
        draw = [np.flatnonzero(u < p) for u in self.keys]
        if p > self._p:
            self._p, self._largest, self._uniforms = p, draw, None
            if sum(c.size for c in draw) * self.SPARSE < sum(u.size for u in self.keys):
                self._uniforms = [u[c] for u, c in zip(self.keys, draw)]
        return draw


def _point_set(work_grid, patches, per_patch_indices, extra=None):
    rows, cols, refs, starts = [], [], [], [0]
    for patch, idx in zip(patches, per_patch_indices):
        r, c = np.divmod(idx, patch.ref.shape[1])
        rows.append(r)
        cols.append(c)
        refs.append(patch.ref.ravel()[idx])
        starts.append(starts[-1] + idx.size)
    cat = (lambda parts, dt: np.concatenate(parts).astype(dt, copy=False) if parts else np.empty(0, dt))
    return PointSet(np.asarray(starts), cat(rows, np.int64), cat(cols, np.int64), cat(refs, np.float32),
                    np.array([int(p.outer.row_off) for p in patches]),
                    np.array([int(p.outer.col_off) for p in patches]),
                    work_grid, extra or {})


def _slope_points(work_grid, patches, draws, k, usable, slope_limits):
    """About ``k`` usable points whose reference slope lies within ``slope_limits`` (degrees)."""
    lo, hi = slope_limits
    p = min(1.0, 20_000 / usable)  # pilot draw: how many stable pixels pass the slope limits
    for attempt in range(2):
        kept, slopes, aspects = [], [], []
        for patch, idx in zip(patches, draws(p)):
            r, c = np.divmod(idx, patch.ref.shape[1])
            slope, aspect = slope_aspect_at(patch.ref, r, c, work_grid.res)
            ok = np.isfinite(aspect) & (slope >= lo) & (slope <= hi)
            kept.append(idx[ok])
            slopes.append(slope[ok])
            aspects.append(aspect[ok])
        fraction = sum(i.size for i in kept) / (p * usable)
        if p >= 1.0 or fraction == 0.0 or attempt:
            break
        p = min(1.0, k / usable / fraction)
    extra = {"slope": np.concatenate(slopes), "aspect": np.concatenate(aspects)}
    return _point_set(work_grid, patches, kept, extra)


def build_sample(reference, dem, work_grid, stable=None, subsample=500_000, slope_limits=(5.0, 70.0),
                 stats_max_count=500_000, max_fit_pixels=30_000_000, margin=16, seed=42,
                 progress=None):
    """Read the DEMs onto ``work_grid`` and draw the point sets (see module docstring).

    ``reference`` and ``dem`` are :class:`~.sources.DemSource`; ``stable`` a
    :class:`~.stable.StableTerrain` or None (all terrain stable). Raises
    :class:`AllNoDataError` when a DEM has no valid pixel on the grid or they share
    none, :class:`InputError` when fewer than 100 stable pixels are left.
    """
    progress = as_progress(progress)
    rng = np.random.default_rng(seed)
    windows = _windows(work_grid, max_fit_pixels, margin, rng)
    patches = []
    counts = {"ref_valid": 0, "dem_valid": 0, "both_valid": 0, "stable": 0, "pixels": 0}
    for i, (inner, outer) in enumerate(windows):
        ref = reference.read(work_grid, outer)
        dem_values = dem.read(work_grid, outer)
        inside = np.zeros(ref.shape, dtype=bool)
        r0, c0 = int(inner.row_off - outer.row_off), int(inner.col_off - outer.col_off)
        inside[r0:r0 + int(inner.height), c0:c0 + int(inner.width)] = True
        inside[[0, -1], :] = False  # the border has no 3x3 neighbourhood
        inside[:, [0, -1]] = False
        ref_ok = np.isfinite(ref)
        ref_ok &= inside
        dem_ok = np.isfinite(dem_values)
        dem_ok &= inside
        both = ref_ok & dem_ok
        usable = both & stable.stable(work_grid, outer) if stable is not None else both
        counts["pixels"] += int(inner.width * inner.height)
        counts["ref_valid"] += int(np.count_nonzero(ref_ok))
        counts["dem_valid"] += int(np.count_nonzero(dem_ok))
        counts["both_valid"] += int(np.count_nonzero(both))
        counts["stable"] += int(np.count_nonzero(usable))
        patches.append(Patch(outer, inner, ref, dem_values, usable))
        progress.update((i + 1) / len(windows))
    _require_counts(counts, reference, dem, stable)
    usable = counts["stable"]
    draws = _Draws(patches, rng)
    fit_points = _point_set(work_grid, patches, draws(subsample / usable))
    slope_points = _slope_points(work_grid, patches, draws, subsample, usable, slope_limits)
    stats_points = fit_points if stats_max_count == subsample else _point_set(
        work_grid, patches, draws(stats_max_count / usable))  # the same draw when the counts are equal
    sample = FitSample(work_grid, patches, fit_points, slope_points, stats_points, counts, tuple(slope_limits))
    counts["fit_points"] = len(sample.fit_points)
    counts["slope_points"] = len(sample.slope_points)
    counts["stats_points"] = len(sample.stats_points)
    counts["patches"] = len(patches)
    return sample


def _require_counts(counts, reference, dem, stable):
    if counts["ref_valid"] == 0:
        raise AllNoDataError(f"The reference DEM ({reference.label}) has no valid elevation (all nodata).",
                             "check its nodata value and that it is the right file.")
    if counts["dem_valid"] == 0:
        raise AllNoDataError(f"The DEM to align ({dem.label}) has no valid elevation where it overlaps the "
                             "reference (all nodata).", "check its nodata value, CRS and extent.")
    if counts["both_valid"] == 0:
        raise AllNoDataError("The two DEMs have no valid pixel in common.",
                             "check that their valid areas overlap on the ground and both CRSs are right.")
    if counts["stable"] < MIN_STABLE_PIXELS:
        what = stable.describe() if stable is not None else "no mask"
        raise InputError(f"No stable terrain is left after masking: {counts['stable']} stable pixel(s) "
                         f"valid in both DEMs out of {counts['both_valid']} ({what}); at least "
                         f"{MIN_STABLE_PIXELS} are needed.",
                         "use outlines/masks that cover only the unstable terrain (glaciers), not the whole area.")
