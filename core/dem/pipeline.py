"""Co-registration pipeline: a chain of steps fitted on a stable-terrain sample, then applied.

>>> pipe = CoregPipeline([NuthKaab(), Deramp(order=1)])      # or make_pipeline("nuth_kaab", 1)
>>> result = pipe.fit("ref.tif", "dem.tif", StableTerrain.from_files("glaciers.gpkg"))
>>> pipe.apply("ref.tif", "dem.tif", "aligned.tif", "dh.tif")
>>> result.shift_x_m, result.shift_y_m, result.shift_z_m    # m, x east, y north, z up

Sign convention: the shift is the displacement *applied to the DEM to be aligned*,
aligned(p) = dem(p - (shift_x, shift_y)) + shift_z (+ ramps); dh = aligned - reference.
"""

import os
import time
from dataclasses import dataclass, field


from ..errors import InputError
from ..progress import as_progress
from ..raster_io import check_output_path
from ..stats import robust_summary
from .apply import apply_to_files
from .checks import check_stable_terrain, check_vertical_units
from .deramp import Deramp
from .histogram import histogram
from .nuth_kaab import NuthKaab
from .pair_datum import check_vertical_datum, match_datums
from .report import write_report
from .sample import build_sample
from .shifts import TransformShifts
from .sources import DemSource
from .stable import StableTerrain
from .transform import DemTransform
from .vertical import VerticalShift
from .workgrid import shift_in_px, shift_to_native, working_grid

METHODS = ("nuth_kaab", "vertical")


@dataclass
class CoregResult(TransformShifts):
    """What a fitted co-registration found. Lengths in m unless the name says px.

    ``shift_x/y/z_m``: displacement applied to the DEM to align (x east, y north, z up)
    on the metric working grid; ``shift_x/y_px``: the same in px of the reference grid
    (x east, y north); ``shift_native``: (dx, dy) in reference CRS units;
    ``stats_before/after``: :func:`~serac.core.stats.robust_summary` of stable dh (m)
    on the working grid without / with the correction; ``vertical_datum``: the
    :class:`~.pair_datum.PairDatum` of the two DEMs (its ``shift`` converts the DEM to align
    onto the reference's datum, so the shifts exclude the datum difference).
    """

    method: str
    transform: DemTransform
    shift_native: tuple
    shift_x_px: float
    shift_y_px: float
    stats_before: dict
    stats_after: dict
    histogram: dict
    steps: list
    counts: dict
    reference_grid: object
    work_grid: object
    stable: str
    timings_s: dict = field(default_factory=dict)
    dh_map_summary: dict = None  # robust_summary of the written dh map (all terrain), set by coregister
    aligned_summary: dict = None  # robust_summary of the written aligned DEM, set by coregister
    vertical_datum: object = None  # PairDatum

    def step_info(self, name):
        """The info dict of the first step called ``name`` (e.g. 'nuth_kaab'), or {}."""
        return next((s["info"] for s in self.steps if s["name"] == name), {})

    @property
    def iterations(self):
        return self.step_info("nuth_kaab").get("iterations", 0)

    def summary_line(self):
        return (f"{self.method}: shift x {self.shift_x_m:+.3f} m, y {self.shift_y_m:+.3f} m, "
                f"z {self.shift_z_m:+.3f} m; stable NMAD {self.stats_before['nmad']:.3f} -> "
                f"{self.stats_after['nmad']:.3f} m")

    def to_dict(self):
        """Numbers only (JSON-ready)."""
        return {
            "method": self.method,
            "shift_x_m": self.shift_x_m, "shift_y_m": self.shift_y_m, "shift_z_m": self.shift_z_m,
            "shift_x_px": self.shift_x_px, "shift_y_px": self.shift_y_px,
            "shift_native": list(self.shift_native),
            "ramps": [r.to_dict() for r in self.transform.ramps],
            "iterations": self.iterations,
            "converged": self.step_info("nuth_kaab").get("converged"),
            "median_before_m": self.stats_before["median"], "nmad_before_m": self.stats_before["nmad"],
            "median_after_m": self.stats_after["median"], "nmad_after_m": self.stats_after["nmad"],
            "stats_before": self.stats_before, "stats_after": self.stats_after,
            "histogram": self.histogram, "steps": self.steps, "counts": self.counts,
            "reference_grid": self.reference_grid.describe(), "work_grid": self.work_grid.describe(),
            "stable_terrain": self.stable, "timings_s": self.timings_s, "dh_map_summary": self.dh_map_summary,
            "aligned_summary": self.aligned_summary,
            "datum": self.vertical_datum.to_dict() if self.vertical_datum is not None else None,
        }


def make_pipeline(method="nuth_kaab", deramp_order=0, max_iterations=10, tolerance_m=0.01,
                  vertical_statistic="median", convert_datums=True):
    """A pipeline from the Processing-style choices: method, then an optional deramp of order 1-3
    (``convert_datums``: see :class:`CoregPipeline`)."""
    if method == "nuth_kaab":
        steps = [NuthKaab(max_iterations=max_iterations, tolerance_m=tolerance_m)]
    elif method == "vertical":
        steps = [VerticalShift(vertical_statistic)]
    else:
        raise InputError(f"Unknown co-registration method '{method}'.", f"use one of {', '.join(METHODS)}.")
    if deramp_order:
        steps.append(Deramp(deramp_order))
    return CoregPipeline(steps, convert_datums)


class CoregPipeline:
    """A chain of :class:`~.step.CoregStep` fitted in order on one stable-terrain sample.

    ``convert_datums``: when the two DEMs declare different vertical datums, read the DEM to
    align on the reference's datum (:func:`~.pair_datum.match_datums`); False keeps its heights
    as stored, with a warning.
    """

    def __init__(self, steps, convert_datums=True):
        self.steps = list(steps)
        self.convert_datums = bool(convert_datums)
        if not self.steps:
            raise InputError("A co-registration needs at least one step.")
        self.result = None

    @property
    def method(self):
        return "+".join(s.name + (str(s.order) if isinstance(s, Deramp) else "") for s in self.steps)

    def fit(self, reference, dem, stable=None, subsample=500_000, slope_limits=(5.0, 70.0), seed=42,
            stats_max_count=500_000, max_fit_pixels=30_000_000, feedback=None):
        """Fit every step; return (and keep) a :class:`CoregResult`.

        ``reference``/``dem``: file paths (any CRS/resolution/extent; the DEM is
        reprojected onto the reference grid, a geographic one is worked in UTM) or
        in-memory :class:`~serac.core.raster_io.Raster` on the same grid.
        ``stable``: :class:`~.stable.StableTerrain` or None; ``subsample``: stable px
        used by each fit; ``slope_limits``: (min, max) reference slope in degrees for
        Nuth & Kääb; ``max_fit_pixels``: larger working grids are fitted on blocks
        spread over the grid, up to this many px (bounded memory, about 25 bytes/px);
        ``stats_max_count``: stable px drawn for the before/after statistics.
        """
        progress = as_progress(feedback)
        if not 0 <= slope_limits[0] < slope_limits[1] <= 90:
            raise InputError(f"Slope limits {slope_limits} are not 0 <= min < max <= 90 degrees.",
                             "give a minimum and a larger maximum slope in degrees, e.g. 5 and 70.")
        if int(subsample) < 1000:
            raise InputError(f"A subsample of {subsample} px is too small.", "use at least 1000 (e.g. 500000).")
        timings = {}
        t0 = time.perf_counter()
        reference = DemSource.of(reference, "reference DEM")
        dem = DemSource.of(dem, "DEM to align")
        dem.require_overlap(reference.grid)
        dem, datum = match_datums(reference, dem, self.convert_datums, progress)
        work = working_grid(reference.grid)
        progress.info(f"Working grid: {work.describe()}")
        sample = build_sample(reference, dem, work, stable, int(subsample), tuple(slope_limits),
                              int(stats_max_count), int(max_fit_pixels), seed=seed, progress=progress.sub(0, 0.6))
        identity = DemTransform()
        before = sample.dh(identity, sample.stats_points)
        every = slice(None, None, max(1, len(before) // 50_000))  # a spread-out subset is enough
        check_vertical_units(reference.unit, dem.unit, sample.stats_points.ref[every],
                             (before + sample.stats_points.ref)[every])
        timings["read_and_sample"] = time.perf_counter() - t0
        transform, steps = identity, []
        for i, step in enumerate(self.steps):
            t1 = time.perf_counter()
            transform, info = step.fit(sample, transform, progress.sub(0.6 + 0.35 * i / len(self.steps),
                                                                       0.6 + 0.35 * (i + 1) / len(self.steps)))
            timings[f"step_{i + 1}_{step.name}"] = time.perf_counter() - t1
            steps.append({"name": step.name, "parameters": step.parameters(), "info": info})
            progress.info(f"{step.name}: shift x {transform.shift_x_m:+.3f} m, y {transform.shift_y_m:+.3f} m, "
                          f"z {transform.shift_z_m:+.3f} m")
        t1 = time.perf_counter()
        after = sample.dh(transform, sample.stats_points)
        stats_after = robust_summary(after)
        check_vertical_datum(reference.grid, datum, transform.shift_z_m)
        check_stable_terrain(sample.counts, stats_after["nmad"], sample.slope_points.extra.get("slope", []),
                             min(work.res))
        native = shift_to_native(transform.shift_x_m, transform.shift_y_m, work, reference.grid)
        px = shift_in_px(*native, reference.grid)
        self.result = CoregResult(self.method, transform, native, px[0], px[1], robust_summary(before),
                                  stats_after, histogram(before, after), steps, dict(sample.counts),
                                  reference.grid, work, stable.describe() if stable else "all terrain stable",
                                  timings, vertical_datum=datum)
        timings["stats"] = time.perf_counter() - t1
        timings["fit_total"] = time.perf_counter() - t0
        progress.update(1.0)
        return self.result

    def apply(self, reference, dem, aligned_path=None, dh_path=None, block_size=1024, resampling="bilinear",
              shift_by="resample", cog=True, feedback=None):
        """Write the aligned DEM and/or dh map on the reference grid (see :func:`~.apply.apply_to_files`)."""
        if self.result is None:
            raise InputError("The co-registration has not been fitted yet.", "call fit() first.")
        return apply_to_files(self.result, reference, dem, aligned_path, dh_path, block_size, resampling,
                              shift_by, cog, feedback)


def stable_terrain(outlines=None, outlines_crs=None, mask=None):
    """A :class:`StableTerrain` from a vector path or GeoJSON geometries (in ``outlines_crs``) and/or a mask path."""
    if outlines is None and mask is None:
        return None
    if outlines is None or isinstance(outlines, (str, bytes)) or hasattr(outlines, "__fspath__"):
        return StableTerrain.from_files(outlines, mask)
    return StableTerrain(outlines, outlines_crs, mask)


def _label(value):
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return os.path.basename(os.fspath(value))
    return f"{len(value)} geometries" if isinstance(value, (list, tuple)) else type(value).__name__


def coregister(reference, dem, aligned_path=None, dh_path=None, report_path=None, method="nuth_kaab",
               deramp_order=0, outlines=None, outlines_crs=None, mask=None, max_iterations=10,
               tolerance_m=0.01, slope_limits=(5.0, 70.0), subsample=500_000, seed=42, block_size=1024,
               resampling="bilinear", shift_by="resample", cog=True, convert_datums=True, feedback=None):
    """Fit, apply and report in one call (what the Processing algorithm runs); returns the :class:`CoregResult`.

    Everything is checked and fitted before the first byte is written. ``convert_datums``: see
    :class:`CoregPipeline`.
    """
    progress = as_progress(feedback)
    for path in (aligned_path, dh_path, report_path):
        if path:
            check_output_path(path)
    pipe = make_pipeline(method, deramp_order, max_iterations, tolerance_m, convert_datums=convert_datums)
    result = pipe.fit(reference, dem, stable_terrain(outlines, outlines_crs, mask), subsample=subsample,
                      slope_limits=slope_limits, seed=seed, feedback=progress.sub(0, 0.4))
    t0 = time.perf_counter()
    if aligned_path or dh_path:
        written = pipe.apply(reference, dem, aligned_path, dh_path, block_size, resampling, shift_by, cog,
                             feedback=progress.sub(0.4, 0.97))
        result.dh_map_summary = written["dh_summary"] if dh_path else None
        result.aligned_summary = written["aligned_summary"] if aligned_path else None
    result.timings_s["apply"] = time.perf_counter() - t0
    if report_path:
        inputs = {"reference DEM": DemSource.of(reference, "reference DEM").label,
                  "DEM to align": DemSource.of(dem, "DEM to align").label,
                  "unstable outlines": _label(outlines) if outlines is not None else "none",
                  "unstable mask": _label(mask) if mask is not None else "none",
                  "slope limits (degrees)": f"{slope_limits[0]:g} - {slope_limits[1]:g}",
                  "maximum iterations, tolerance (m)": f"{max_iterations}, {tolerance_m:g}",
                  "subsample (px), seed": f"{subsample}, {seed}", "shift by": shift_by}
        write_report(result, report_path, inputs=inputs)
    progress.update(1.0)
    return result
