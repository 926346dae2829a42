"""Job: glacier surface velocity (m/yr) of an image pair by normalized cross-correlation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import CORRELATION_BACKENDS, OFFSET_CORRECTIONS, PREFILTERS, SPEED_SCALES, SUBPIXEL_METHODS
from ..errors import InputError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, current_threads, geometries, optional_output, \
    require_input, setting, thread_limits

DATE_LABEL = "{} acquisition date (YYYY-MM-DD; empty: from the file name or metadata)"


@dataclass(frozen=True)
class VelocitySettings(Settings):
    reference_band: int = setting(1, "Reference band", minimum=1, widget="band", parent="reference")
    secondary_band: int = setting(1, "Secondary band", minimum=1, widget="band", parent="secondary")
    reference_date: Optional[str] = setting(None, DATE_LABEL.format("Reference"), optional=True, widget="date",
                                            kind=str)
    secondary_date: Optional[str] = setting(None, DATE_LABEL.format("Secondary"), optional=True, widget="date",
                                            kind=str)
    chip: int = setting(32, "Chip (template) size (px)", unit="px", minimum=8, maximum=1024)
    search: int = setting(16, "Search range ± (px)", unit="px", minimum=2, maximum=1024)
    max_speed: float = setting(0.0, "Maximum expected speed (m/yr; 0: use the search range)", unit="m/yr",
                               minimum=0.0, maximum=1e6)
    spacing: int = setting(12, "Grid spacing (px)", unit="px", minimum=1, maximum=4096)
    prefilter: str = setting("wallis", "Prefilter", choices=PREFILTERS)
    offset_correction: str = setting("auto", "Misregistration (residual offset) measured on",
                                     choices=OFFSET_CORRECTIONS)
    backend: str = setting("auto", "Compute backend", choices=CORRELATION_BACKENDS)
    max_chip: int = setting(0, "Largest chip of the fallback (px; 0: twice the chip; = chip: no fallback)",
                            unit="px", minimum=0, maximum=4096, advanced=True)
    min_ncc: float = setting(0.2, "Minimum correlation (ZNCC peak, -1 to 1)", minimum=-1.0, maximum=1.0,
                             advanced=True)
    min_ratio: float = setting(1.1, "Minimum peak-to-second-peak ratio", minimum=1.0, maximum=100.0, advanced=True)
    min_valid: float = setting(0.9, "Smallest fraction of valid (not nodata) pixels in a chip (e.g. 0.6 for "
                               "Landsat 7 SLC-off; gaps are ignored by the correlation)", minimum=0.05, maximum=1.0,
                               advanced=True)
    max_featureless: float = setting(0.75, "Largest fraction of saturated or featureless pixels in a chip (1: no "
                                     "limit)", minimum=0.01, maximum=1.0, advanced=True)
    median_threshold: float = setting(3.0, "Normalized median test threshold (0: off)", minimum=0.0, maximum=100.0,
                                      advanced=True)
    subpixel_method: str = setting("dft", "Sub-pixel method", choices=SUBPIXEL_METHODS, advanced=True)
    speed_scale: str = setting("linear", "Speed colour scale", choices=SPEED_SCALES, advanced=True)
    arrow_step: int = setting(2, "Arrows: one every N grid points", minimum=1, maximum=1000, advanced=True)


NUMBERS = dict(valid_fraction="Fraction of grid points with a valid velocity (0-1)",
               median_speed="Median speed of the valid points (m/yr)",
               stable_count="Valid points on stable ground",
               stable_median_vx="Stable-ground median vx before correction (m/yr)",
               stable_median_vy="Stable-ground median vy before correction (m/yr)",
               stable_nmad_vx="Stable-ground NMAD of vx after correction (m/yr)",
               stable_nmad_vy="Stable-ground NMAD of vy after correction (m/yr)",
               interval_days="Days from the reference to the secondary acquisition",
               offset_x_px="Misregistration removed along columns (px)",
               offset_y_px="Misregistration removed along rows (px)",
               median_error="Median per-point velocity error, 1 sigma (m/yr)")
ARROW_FIELDS = ("speed", "direction", "vx", "vy", "ncc")


def prior_paths(inputs):
    """(vx, vy) prior velocity rasters, or None; both or neither must be given."""
    vx, vy = inputs.get("prior_vx") or None, inputs.get("prior_vy") or None
    if (vx is None) != (vy is None):
        raise InputError("Only one of the prior velocity rasters (vx, vy) was given.", "give both, or neither.")
    return (vx, vy) if vx else None


def run(inputs: Mapping, outputs: Mapping, settings: VelocitySettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Velocity of ``inputs['secondary']`` relative to ``inputs['reference']``, written to ``outputs['output']``."""
    import numpy as np

    from ..raster_io import display_range, read_grid
    from ..velocity import CorrelationParams, glacier_velocity

    progress = Progress(core_feedback(feedback))
    reference = require_input(inputs, "reference", "reference image")
    secondary = require_input(inputs, "secondary", "secondary image")
    grid = read_grid(reference)
    outlines = geometries(inputs.get("outlines"), grid.crs)
    stable_areas = geometries(inputs.get("stable_areas"), grid.crs)
    prior = prior_paths(inputs)
    s = settings
    params = CorrelationParams(chip=s.chip, search=s.search, spacing=s.spacing, prefilter=s.prefilter,
                               subpixel=s.subpixel_method, max_chip=s.max_chip or None, min_ncc=s.min_ncc,
                               min_ratio=s.min_ratio, min_valid=s.min_valid, max_featureless=s.max_featureless,
                               median_threshold=s.median_threshold if s.median_threshold > 0 else None)
    out_path = optional_output(outputs, "output")
    error_path = optional_output(outputs, "error")
    with thread_limits(threads):
        result = glacier_velocity(reference, secondary, out_path, reference_date=s.reference_date,
                                  secondary_date=s.secondary_date, params=params,
                                  max_speed=s.max_speed if s.max_speed > 0 else None, outlines=outlines or None,
                                  prior=prior, reference_band=s.reference_band, secondary_band=s.secondary_band,
                                  backend=s.backend, threads=current_threads(), feedback=progress.feedback,
                                  stable_areas=stable_areas or None, offset_correction=s.offset_correction,
                                  error_output=error_path)
    summary = result.summary
    progress.info(f"{summary['valid_count']} of {summary['point_count']} points valid "
                  f"({100 * summary['valid_fraction']:.1f} %); median speed {summary['median_speed']:.1f} m/yr over "
                  f"{summary['interval_days']} days; status counts {summary['status_counts']}.")
    if summary["stable_count"]:
        where = {"slow": "slow-moving points", "polygons": "stable ground"}.get(summary["offset_method"], "none")
        progress.info(f"Misregistration measured on {where} ({summary['stable_count']} points): median offset vx "
                      f"{summary['stable_median_vx']:.2f}, vy {summary['stable_median_vy']:.2f} m/yr removed; NMAD "
                      f"after: vx {summary['stable_nmad_vx']:.2f}, vy {summary['stable_nmad_vy']:.2f} m/yr.")
    report = dict(summary)
    report["styles"] = {"output": f"velocity_speed_{s.speed_scale}"}
    # a dated output: the pair's mean velocity holds from the reference to the secondary date (speed: band 3)
    report["time_steps"] = {"output": [[summary["reference_date"], summary["secondary_date"], 3]]}
    if s.speed_scale == "linear":
        speed = result.speed[result.valid]
        top = float(speed.max()) if speed.size else 0.0
        report["display_ranges"] = {"output": display_range(speed, stretch="from zero") or (0.0, max(top, 1.0))}
    if error_path and np.isfinite(result.error).any():
        ranges = report.setdefault("display_ranges", {})
        error_range = display_range(result.error, stretch="from zero") or (0.0, 0.0)
        ranges["error"] = (0.0, max(error_range[1], 1e-3))
    pts = result.points(step=s.arrow_step)
    arrows = [{"geometry": {"type": "Point", "coordinates": [float(pts["x"][i]), float(pts["y"][i])]},
               "properties": {name: float(pts[name][i]) for name in ARROW_FIELDS}} for i in range(len(pts["x"]))]
    written = {k: v for k, v in (("output", out_path), ("error", error_path)) if v}
    return Result(written, {k: float(summary[k]) for k in NUMBERS}, report,
                  features={"arrows": (arrows, result.grid.crs, "Point")})


JOB = Job("glacier_velocity", "Glacier velocity (image correlation)", VelocitySettings, run,
          {"reference": Port("raster", "Reference image (earlier)"),
           "secondary": Port("raster", "Secondary image (later)"),
           "outlines": Port("polygons", "Glacier outlines: outside = stable ground", optional=True),
           "stable_areas": Port("polygons", "Stable areas, e.g. bare rock", optional=True),
           "prior_vx": Port("raster", "Prior velocity vx, east (m/yr)", optional=True),
           "prior_vy": Port("raster", "Prior velocity vy, north (m/yr)", optional=True)},
          {"output": Port("raster", "Velocity (vx, vy, speed m/yr, quality, status)", style="velocity_speed_linear"),
           "error": Port("raster", "Per-point velocity error (m/yr, 1 sigma)", optional=True,
                         style="velocity_error"),
           "arrows": Port("points", "Velocity arrows", optional=True, style="velocity_arrows")},
          NUMBERS)
