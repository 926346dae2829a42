"""Co-register a DEM to elevation points (ICESat-2 ATL06, ICESat GLAS, GNSS, lidar): points as the reference.

The DEM is read onto its metric working grid (:func:`~.workgrid.working_grid`) around the
points and sampled at them by bilinear interpolation (NaN where any of the four pixels is
nodata). With dh = shifted DEM - point height (m; the sign convention of DEM pairs,
dh = aligned - reference):

* ``nuth_kaab``: the Nuth & Kääb (2011) fit of :mod:`.nuth_kaab` (:class:`~.nuth_kaab.AspectBins`
  and :func:`~.nuth_kaab.fit_cosine`, the same code as for DEM pairs) on the stable points whose
  DEM slope lies within ``slope_limits``: the median dh is removed, dh/tan(slope) is binned
  by the DEM aspect at the point and fitted with a cosine; the DEM is moved by minus the
  displacement found and the fit repeated until a step is shorter than ``tolerance_m``;
* then the vertical shift is minus the median stable dh, and an optional deramp of order 1-3
  is the robust polynomial fit of :func:`~.deramp.fit_polynomial` on the point positions.

The result holds a :class:`~.transform.DemTransform`, so :func:`apply_to_dem` writes the
aligned DEM with the blockwise :func:`~.apply.apply_to_files` of DEM pairs. dh at every point
before and after is returned for the caller to write as a point layer. The fitted vertical
shift is checked against the geoid undulation (:func:`~.datum.check_vertical_shift`).
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np
import rasterio.warp
from rasterio.windows import Window

from ..errors import InputError, NoOverlapError
from ..progress import as_progress
from ..stats import nmad, robust_summary
from .apply import apply_to_files
from .datum import check_vertical_shift, convert_heights, datum_of_crs, normalize_datum
from .deramp import fit_polynomial
from .histogram import histogram
from .nuth_kaab import MIN_COVERAGE, AspectBins, aspect_coverage, fit_cosine
from .shifts import TransformShifts
from .sources import DemSource
from .terrain import slope_aspect_at
from .transform import DemTransform
from .vertical import robust_offset
from .workgrid import shift_in_px, shift_to_native, working_grid

METHODS = ("nuth_kaab", "vertical")


def bilinear_at(array, rows, cols):
    """``array`` at fractional pixel positions (rows, cols; pixel centres at integers), float64.

    NaN where a point's 2 x 2 neighbourhood leaves the array or holds a NaN.
    """
    array = np.asarray(array)
    height, width = array.shape
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    fr = rows - r0
    fc = cols - c0
    inside = np.isfinite(rows) & np.isfinite(cols) & (r0 >= 0) & (c0 >= 0) & (r0 <= height - 2) & (c0 <= width - 2)
    r = np.where(inside, r0, 0).astype(np.int64)
    c = np.where(inside, c0, 0).astype(np.int64)
    flat = array.ravel()
    base = r * width + c
    out = (flat[base] * (1 - fr) * (1 - fc) + flat[base + 1] * (1 - fr) * fc
           + flat[base + width] * fr * (1 - fc) + flat[base + width + 1] * fr * fc)
    out = np.asarray(out, dtype=np.float64)
    out[~inside] = np.nan
    return out


@dataclass
class PointCoregResult(TransformShifts):
    """What a DEM-to-points co-registration found. Lengths in m unless the name says px.

    ``transform``: shift (x east, y north, z up) and ramps applied to the DEM on the metric
    working grid (as for DEM pairs); ``shift_native``/``shift_x/y_px``: the horizontal shift in
    the DEM's CRS units / px. ``dh_before``/``dh_after``: DEM - point height at every point (m,
    NaN off the DEM); ``stable``: points used (stable, on the DEM); ``x``/``y``: point
    coordinates in the working CRS; ``stats_*``: :func:`~serac.core.stats.robust_summary` of
    stable dh; ``datum``: the :class:`~.datum.DatumCheck` as a dict; ``warnings``: texts to show.
    """

    method: str
    transform: DemTransform
    shift_native: tuple
    shift_x_px: float
    shift_y_px: float
    work_grid: object
    dem_grid: object
    x: np.ndarray
    y: np.ndarray
    dh_before: np.ndarray
    dh_after: np.ndarray
    stable: np.ndarray
    stats_before: dict
    stats_after: dict
    steps: list
    counts: dict
    datum: dict
    warnings: list = field(default_factory=list)
    timings_s: dict = field(default_factory=dict)
    stable_terrain: str = "all terrain stable"

    def summary_line(self):
        return (f"{self.method} to points: shift x {self.shift_x_m:+.3f} m, y {self.shift_y_m:+.3f} m, "
                f"z {self.shift_z_m:+.3f} m; stable dh median {self.stats_before['median']:+.3f} -> "
                f"{self.stats_after['median']:+.3f} m, NMAD {self.stats_before['nmad']:.3f} -> "
                f"{self.stats_after['nmad']:.3f} m ({self.stats_after['count']} points)")

    def to_dict(self):
        """Numbers and texts only (JSON-ready; the per-point arrays are left out)."""
        return {"method": self.method, "shift_x_m": self.shift_x_m, "shift_y_m": self.shift_y_m,
                "shift_z_m": self.shift_z_m, "shift_x_px": self.shift_x_px, "shift_y_px": self.shift_y_px,
                "shift_native": list(self.shift_native), "ramps": [r.to_dict() for r in self.transform.ramps],
                "stats_before": self.stats_before, "stats_after": self.stats_after, "steps": self.steps,
                "counts": self.counts, "datum": self.datum, "warnings": list(self.warnings),
                "work_grid": self.work_grid.describe(), "dem_grid": self.dem_grid.describe(),
                "timings_s": self.timings_s, "stable_terrain": self.stable_terrain,
                "histogram": histogram(self.dh_before[self.stable], self.dh_after[self.stable])}


class _Sampler:
    """The DEM around the points on the working grid, sampled at the points moved by a transform."""

    def __init__(self, dem, work, x, y, margin_px):
        inv = ~work.transform
        cols, rows = inv * (x, y)
        cols = np.asarray(cols) - 0.5
        rows = np.asarray(rows) - 0.5
        on = (rows >= -1) & (rows <= work.height) & (cols >= -1) & (cols <= work.width)
        if not on.any():
            raise NoOverlapError(f"No point falls on the DEM ({dem.label}).",
                                 "check that the points and the DEM cover the same area and carry the right CRS.")
        r0 = max(0, int(np.floor(rows[on].min())) - margin_px)
        c0 = max(0, int(np.floor(cols[on].min())) - margin_px)
        r1 = min(work.height, int(np.ceil(rows[on].max())) + margin_px + 1)
        c1 = min(work.width, int(np.ceil(cols[on].max())) + margin_px + 1)
        self.window = Window(c0, r0, c1 - c0, r1 - r0)
        self.grid = work.window_grid(self.window)
        self.array = dem.read(work, self.window)
        self.rows = rows - r0
        self.cols = cols - c0
        self.res_x, self.res_y = work.res

    def nearest(self):
        """Integer (row, col) of the pixel under each point (clipped into the window)."""
        r = np.clip(np.rint(self.rows), 0, self.array.shape[0] - 1).astype(np.int64)
        c = np.clip(np.rint(self.cols), 0, self.array.shape[1] - 1).astype(np.int64)
        return r, c

    def dem_at(self, shift_x_m, shift_y_m, index=slice(None)):
        """DEM elevation (m) at the points after moving the DEM by (x east, y north) m: dem(p - shift)."""
        return bilinear_at(self.array, self.rows[index] + shift_y_m / self.res_y,
                           self.cols[index] - shift_x_m / self.res_x)


def _resolve_datums(points, dem, points_datum, dem_datum, lon, lat, h):
    """Heights of the points on the DEM's datum where both are declared; (heights, datums, notes)."""
    p_datum = normalize_datum(points_datum) if points_datum is not None else points.datum
    d_datum = normalize_datum(dem_datum) if dem_datum is not None else datum_of_crs(dem.grid.crs)
    notes = []
    if p_datum and d_datum and p_datum != d_datum:
        conv = convert_heights(lon, lat, h, p_datum, d_datum)
        notes.append(("info" if conv.converted else "warning", "Point heights: " + conv.note))
        if conv.converted:
            return conv.heights, (d_datum, d_datum), notes
    return h, (p_datum, d_datum), notes


def coregister_to_points(dem, points, stable=None, stable_points=None, method="nuth_kaab", deramp_order=0,
                         max_iterations=10, tolerance_m=0.01, slope_limits=(5.0, 70.0), bin_width_deg=10.0,
                         min_bin_count=10, min_points=200, points_datum=None, dem_datum=None,
                         alternative_heights=None, margin_px=64, feedback=None):
    """Co-register ``dem`` (path or :class:`~.sources.DemSource`) to ``points`` (:class:`~.altimetry.PointTable`).

    ``stable``: :class:`~.stable.StableTerrain` (unstable outlines/mask) and/or ``stable_points``
    (boolean per point): points off stable terrain are left out of every fit (their dh is
    still reported). ``method``: 'nuth_kaab' (horizontal + vertical) or 'vertical';
    ``deramp_order``: 0 (none) or 1-3; ``slope_limits`` (degrees): DEM slope range of the
    points the horizontal fit uses; ``min_bin_count``: points per aspect bin below which it is
    ignored; ``min_points``: fewer sloping stable points and the horizontal fit is refused.
    ``points_datum``/``dem_datum``: 'ellipsoid', 'EGM96', 'EGM2008' or None (then read from
    the table / the DEM's compound CRS); the points are converted to the DEM's datum with PROJ
    when both are known and the grid is installed. ``alternative_heights``: the name of a
    field of ``points.fields`` holding the same points' heights on the other datum, whose
    difference from ``points.h`` estimates the geoid undulation.
    Returns a :class:`PointCoregResult`.
    """
    progress = as_progress(feedback)
    t0 = time.perf_counter()
    if method not in METHODS:
        raise InputError(f"Unknown co-registration method '{method}'.", f"use one of {', '.join(METHODS)}.")
    if int(deramp_order) not in (0, 1, 2, 3):
        raise InputError(f"Deramp order {deramp_order} is not supported.", "use 0 (none), 1 (plane), 2 or 3.")
    if not 0 <= slope_limits[0] < slope_limits[1] <= 90:
        raise InputError(f"Slope limits {slope_limits} are not 0 <= min < max <= 90 degrees.",
                         "give a minimum and a larger maximum slope in degrees, e.g. 5 and 70.")
    dem = DemSource.of(dem, "DEM to align")
    work = working_grid(dem.grid)
    x, y = (np.asarray(v, dtype=np.float64) for v in rasterio.warp.transform(points.crs, work.crs, points.x,
                                                                              points.y))
    lon, lat = points.lonlat()
    h, datums, notes = _resolve_datums(points, dem, points_datum, dem_datum, lon, lat, points.h)
    sampler = _Sampler(dem, work, x, y, int(margin_px))
    timings = {"read": time.perf_counter() - t0}
    use = np.ones(len(points), dtype=bool) if stable_points is None else np.asarray(stable_points, dtype=bool).copy()
    if stable is not None and not stable.is_empty:
        r, c = sampler.nearest()
        use &= stable.stable(work, sampler.window)[r, c]
    dh0 = sampler.dem_at(0.0, 0.0) - h
    use &= np.isfinite(dh0)
    counts = {"points": len(points), "on_dem": int(np.isfinite(dh0).sum()), "stable_on_dem": int(use.sum())}
    if counts["stable_on_dem"] < 3:
        raise InputError(f"Only {counts['stable_on_dem']} stable point(s) fall on valid DEM pixels "
                         f"({counts['on_dem']} of {counts['points']} on the DEM).",
                         "check that the points cover the DEM's valid area and the unstable mask is not too large.")
    idx = np.flatnonzero(use)
    transform, steps = DemTransform(), []
    progress.update(0.1)
    if method == "nuth_kaab":
        t1 = time.perf_counter()
        transform, info = _fit_nuth_kaab(sampler, h, idx, work, transform, max_iterations, tolerance_m,
                                         slope_limits, bin_width_deg, min_bin_count, min_points, progress.sub(0.1, 0.8))
        steps.append({"name": "nuth_kaab", "info": info})
        timings["nuth_kaab"] = time.perf_counter() - t1

    def dh_at(tr, index=idx):
        values = sampler.dem_at(tr.shift_x_m, tr.shift_y_m, index) - h[index]
        return values + (tr.vertical(x[index], y[index]) if tr.ramps else tr.shift_z_m)

    offset = robust_offset(dh_at(transform))
    transform = transform.moved(dz=-offset)
    steps.append({"name": "vertical", "info": {"shift_z_m": -offset}})
    if deramp_order:
        dh = dh_at(transform)
        left, bottom, right, top = sampler.grid.bounds
        ramp = fit_polynomial(x[idx], y[idx], -dh, int(deramp_order), (left + right) / 2, (bottom + top) / 2,
                              max(right - left, top - bottom) / 2.0)
        transform = transform.with_ramp(ramp)
        steps.append({"name": "deramp", "info": {"order": int(deramp_order), "ramp": ramp.to_dict(),
                                                 "nmad_before_m": nmad(dh), "nmad_after_m": nmad(dh_at(transform))}})
    every = np.arange(len(points))
    on = np.isfinite(dh0)
    dh_after = np.full(len(points), np.nan)
    dh_after[on] = dh_at(transform, every[on])
    native = shift_to_native(transform.shift_x_m, transform.shift_y_m, work, dem.grid)
    px = shift_in_px(*native, dem.grid)
    alt = None
    if alternative_heights is not None:
        if alternative_heights not in points.fields:
            raise InputError(f"The points have no field '{alternative_heights}'.")
        alt = (f"{alternative_heights} - elevation of the points",
               (np.asarray(points.fields[alternative_heights]) - points.h)[use])
    check = check_vertical_shift(transform.shift_z_m, lon[use], lat[use], datums[0], datums[1], alt)
    warnings = [text for kind, text in notes if kind == "warning"] + check.warnings
    for _, text in notes:
        progress.info(text)
    for text in check.warnings:
        progress.warn(text)
    result = PointCoregResult("+".join([method] + ([f"deramp{deramp_order}"] if deramp_order else [])), transform,
                              native, px[0], px[1], work, dem.grid, x, y, dh0, dh_after, use,
                              robust_summary(dh0[use]), robust_summary(dh_after[use]), steps, counts,
                              {**check.to_dict(), "points_datum": datums[0], "dem_datum": datums[1],
                               "notes": [t for _, t in notes]}, warnings)
    timings["total"] = time.perf_counter() - t0
    result.timings_s = timings
    if stable is not None:
        result.stable_terrain = stable.describe()
    progress.update(1.0)
    return result


def _flat(detail, slope_limits):
    raise InputError(f"The points cannot constrain a horizontal shift: {detail} (slope limits "
                     f"{slope_limits[0]:g}-{slope_limits[1]:g} degrees). Nuth & Kääb needs sloping stable terrain "
                     "facing many directions.",
                     "use more points (several tracks), lower the minimum slope or min_bin_count, or use the "
                     "vertical-shift-only method.")


def _fit_nuth_kaab(sampler, h, idx, work, transform, max_iterations, tolerance_m, slope_limits, bin_width_deg,
                   min_bin_count, min_points, progress):
    """Nuth & Kääb iterations on the stable points ``idx`` (see module docstring); (transform, info)."""
    r, c = sampler.nearest()
    slope, aspect = slope_aspect_at(sampler.array, r[idx], c[idx], work.res)
    ok = np.isfinite(aspect) & (slope >= slope_limits[0]) & (slope <= slope_limits[1])
    sel = idx[ok]
    if sel.size < min_points:
        _flat(f"{sel.size} stable point(s) on slopes (at least {min_points} needed)", slope_limits)
    tan_slope = np.tan(np.radians(slope[ok].astype(np.float64)))
    bins = AspectBins(aspect[ok], bin_width_deg)
    coverage = aspect_coverage(bins.angle[np.diff(bins.starts) >= min_bin_count])
    if coverage < MIN_COVERAGE:
        _flat(f"the sloping points face too few directions (coverage {coverage:.3f} < {MIN_COVERAGE})",
              slope_limits)
    history, converged = [], False
    for iteration in range(1, int(max_iterations) + 1):
        dh = sampler.dem_at(transform.shift_x_m, transform.shift_y_m, sel) - h[sel]
        finite = np.isfinite(dh)
        if finite.sum() < min_points:
            raise InputError(f"The shifted DEM no longer covers enough points (iteration {iteration}, shift "
                             f"{transform.shift_x_m:.1f}, {transform.shift_y_m:.1f} m).",
                             "check that the DEM and the points show the same terrain; mask unstable areas.")
        dh -= np.median(dh[finite])
        east, north, cst, used = fit_cosine(bins, dh / tan_slope, min_bin_count)
        if not (math.isfinite(east) and math.isfinite(north)):
            _flat("too few aspect bins are populated", slope_limits)
        transform = transform.moved(dx=-east, dy=-north)
        step = math.hypot(east, north)
        history.append({"iteration": iteration, "step_m": step, "shift_x_m": transform.shift_x_m,
                        "shift_y_m": transform.shift_y_m, "bins": used, "nmad_before_step_m": nmad(dh)})
        progress.update(iteration / max_iterations)
        if step < tolerance_m:
            converged = True
            break
    return transform, {"iterations": len(history), "converged": converged, "aspect_coverage": coverage,
                       "points": int(sel.size), "history": history}


def apply_to_dem(result, dem, aligned_path, block_size=1024, cog=True, feedback=None):
    """Write the DEM aligned to the points on its own grid (blockwise, atomic; :func:`~.apply.apply_to_files`)."""
    return apply_to_files(result, dem, dem, aligned_path, None, block_size, "bilinear", "resample", cog, feedback)
