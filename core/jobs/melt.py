"""Job: wet snow and melt timing from a Sentinel-1 backscatter time series of one relative orbit (dB ratios to a
dry-snow reference, Nagler et al. 2016 combined ratio on the local incidence angle in degrees), and the local
incidence angle with its layover/shadow mask from a DEM and the annotation geometry."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import MELT_REFERENCE_STATS, MELT_RULES, SAR_UNITS
from ..errors import InputError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, geometries, nan_numbers, optional_output, \
    require_input, setting, thread_limits

ANNOTATION_FILTER = "Sentinel-1 annotation (*.xml *.XML)"
DATE = "{} of the dry-snow reference window (YYYY-MM-DD; empty: the winter months of the stack)"


@dataclass(frozen=True)
class MeltSettings(Settings):
    dates: Optional[str] = setting(None, "Acquisition dates, one per band in order, separated by ',' (empty: from "
                                         "band descriptions, tags or file names)", optional=True,
                                   widget="dates_text", kind=str)
    unit: str = setting("auto", "Backscatter unit", choices=SAR_UNITS)
    reference_start: Optional[str] = setting(None, DATE.format("Start"), optional=True, widget="date", kind=str)
    reference_end: Optional[str] = setting(None, DATE.format("End"), optional=True, widget="date", kind=str)
    reference_statistic: str = setting("mean", "Dry-snow reference", choices=MELT_REFERENCE_STATS)
    rule: str = setting("dual", "Wet-snow rule", choices=MELT_RULES)
    dual_threshold: float = setting(-2.0, "Wet when the combined ratio R_C is below (dB)", unit="dB",
                                    minimum=-20.0, maximum=0.0)
    single_threshold: float = setting(-3.0, "Single-pol rule: wet when the ratio is below (dB)", unit="dB",
                                      minimum=-20.0, maximum=0.0)
    min_angle: float = setting(15.0, "Classify only local incidence angles from (deg)", unit="deg", minimum=0.0,
                               maximum=90.0)
    max_angle: float = setting(75.0, "… up to (deg)", unit="deg", minimum=0.0, maximum=90.0)
    min_run: int = setting(1, "Melt onset/end: minimum run of consecutive wet dates", minimum=1, maximum=20)
    speckle_size: int = setting(3, "Speckle filter: boxcar size (px, 1 = none; for stacks already multilooked)",
                                unit="px", minimum=1, maximum=15)
    theta1: float = setting(20.0, "Weight W: angle theta1 below which W = 1 (deg)", unit="deg", minimum=0.0,
                            maximum=90.0, advanced=True)
    theta2: float = setting(45.0, "Weight W: angle theta2 above which W = k (deg)", unit="deg", minimum=0.0,
                            maximum=90.0, advanced=True)
    k: float = setting(0.5, "Weight W: k (W above theta2)", minimum=0.0, maximum=1.0, advanced=True)
    block: int = setting(256, "Block size (px; memory grows with dates x block²)", unit="px", minimum=32,
                         maximum=4096, advanced=True)


INPUTS = {
    "vv": Port("rasters", "VV (or HH) backscatter of one relative orbit: dated rasters or a dated multi-band stack"),
    "vh": Port("rasters", "VH (or HV) backscatter, same dates and grid (optional: dual-pol rule)", optional=True),
    "angle": Port("raster", "Local incidence angle raster (deg)", optional=True),
    "annotation": Port("file", "…or a Sentinel-1 annotation XML of the track (angle and look direction)",
                       optional=True, file_filter=ANNOTATION_FILTER),
    "dem": Port("raster", "DEM (m; with the annotation: local incidence angle, layover and shadow)", optional=True),
    "outlines": Port("polygons", "Glacier outlines (optional: wet fraction per outline and date)", optional=True),
}
OUTPUTS = {
    "wet_snow": Port("raster", "Wet snow per date (1 wet, 0 dry; one dated band each)", style="sar_wet_snow"),
    "melt_onset": Port("raster", "Melt onset (day number)", style="sar_melt_day"),
    "melt_end": Port("raster", "Melt end (day number)", style="sar_melt_day"),
    "wet_count": Port("raster", "Number of wet dates", style="sar_wet_count"),
    "wet_fraction": Port("polygons", "Wet fraction per outline and date", optional=True),
    "local_angle": Port("raster", "Local incidence angle (deg)", optional=True, style="sar_incidence_angle",
                        default_on=False),
    "layover_shadow": Port("raster", "Layover/shadow mask (0 valid, 1 layover, 2 shadow, 3 angle out of range)",
                           optional=True, style="sar_layover_shadow", default_on=False),
}
NUMBERS = dict(n_dates="Acquisition dates", n_reference_dates="Dates in the dry-snow reference",
               peak_wet_fraction="Largest wet fraction of the classified pixels on one date (0-1)",
               masked_fraction="Fraction of pixels not classified (layover, shadow, angle out of range, no data)")
TEXTS = dict(rule_used="Wet-snow rule used", peak_wet_date="Date of the largest wet fraction",
             band_dates="Date of each band of the wet-snow output (ISO, in band order)")


def _date_list(text):
    if not text or not str(text).strip():
        return None
    return [d.strip() for d in str(text).replace(";", ",").replace("\n", ",").split(",") if d.strip()]


def _centre_latitude(grid):
    if grid.crs is None:
        return None
    from ..sar.annotation import to_lonlat

    x, y = grid.xy(grid.height / 2.0, grid.width / 2.0)
    return float(to_lonlat([x], [y], grid.crs)[1][0])


def time_steps(dates):
    """[(start, end, band)] of a dated output: each band from its date to the next acquisition (the last one for
    the median revisit), ISO dates, end excluded -- the form QGIS temporal properties take."""
    import numpy as np

    from ..timeseries.design import iso

    dates = np.asarray(dates, dtype="datetime64[D]")
    gaps = np.diff(dates)
    last = dates[-1] + (np.median(gaps.astype(np.int64)).astype(np.int64) if gaps.size else 1)
    ends = list(dates[1:]) + [last]
    return [(iso(a), iso(b), i + 1) for i, (a, b) in enumerate(zip(dates, ends))]


def geometry_source(inputs, grid, valid_range, progress):
    """The angle/mask source of the run (see :mod:`serac.core.sar.local_incidence`) or None, with warnings."""
    from ..sar.local_incidence import GivenAngleSource, LocalIncidenceSource
    from ..sar.sources import AnnotationAngleSource, RasterSource

    angle, xml, dem = inputs.get("angle"), inputs.get("annotation"), inputs.get("dem")
    if angle and xml:
        raise InputError("Both a local incidence angle raster and an annotation file were given.",
                         "give only one of them.")
    if xml and dem:
        return LocalIncidenceSource(xml, dem, grid, valid_range)
    if dem:
        progress.warn("The DEM is not used: the local incidence angle from a DEM needs the Sentinel-1 annotation "
                      "(look direction).")
    if xml:
        progress.warn("No DEM: the ellipsoid incidence angle of the annotation is used as the local angle; "
                      "slopes are ignored and layover/shadow are not masked.")
        return GivenAngleSource(AnnotationAngleSource(xml, grid), valid_range)
    if angle:
        return GivenAngleSource(RasterSource(angle, grid, what="local incidence angle"), valid_range)
    return None


def run(inputs: Mapping, outputs: Mapping, settings: MeltSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Read the dated stacks, classify wet snow per date and write the maps, timing and per-outline fractions."""
    from ..sar.melt import detect_melt, reference_indexes, winter_months
    from ..sar.stack import open_stack
    from ..timeseries.design import iso

    s = settings
    progress = Progress(core_feedback(feedback))
    if s.max_angle <= s.min_angle:
        raise InputError(f"The local angle range {s.min_angle:g}-{s.max_angle:g} deg is empty.",
                         "give a minimum below the maximum (15 and 75 deg by default).")
    dates = _date_list(s.dates)
    vv = open_stack(require_input(inputs, "vv", "VV (or HH) backscatter stack"), dates, s.unit, "VV/HH stack",
                    progress)
    vh = None
    if inputs.get("vh") and s.rule == "dual":
        vh = open_stack(inputs["vh"], dates, s.unit, "VH/HV stack", progress)
        missing = sorted(set(map(iso, vv.dates)) ^ set(map(iso, vh.dates)))
        if missing:
            raise InputError(f"The VV and VH stacks do not have the same dates (only in one of them: "
                             f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}).",
                             "give both polarisations of every acquisition.")
        if not vh.grid.matches(vv.grid):
            raise InputError(f"The VH stack ({vh.grid.describe()}) and the VV stack ({vv.grid.describe()}) are on "
                             "different grids.", "give both polarisations on the same grid.")
    warnings = []
    if s.rule == "dual" and vh is None:
        warnings.append("VH (or HV) is missing: the single-polarisation rule (ratio < "
                        f"{s.single_threshold:g} dB, Nagler & Rott 2000) is used instead of the dual-polarisation "
                        "combined ratio.")
    rule = (f"dual-pol combined ratio R_C < {s.dual_threshold:g} dB (Nagler et al. 2016)" if vh is not None else
            f"single-pol ratio R < {s.single_threshold:g} dB (Nagler & Rott 2000)")
    geometry = geometry_source(inputs, vv.grid, (s.min_angle, s.max_angle), progress)
    if geometry is None:
        if vh is not None:
            raise InputError("The dual-polarisation rule needs the local incidence angle (weight W).",
                             "give a local incidence angle raster or the Sentinel-1 annotation (with a DEM), or "
                             "choose the single-polarisation rule.")
        warnings.append("No incidence angle was given: no pixel is masked for layover, shadow or angle range.")
    if s.reference_start or s.reference_end:
        ref_index = reference_indexes(vv.dates, s.reference_start, s.reference_end)
    else:
        latitude = _centre_latitude(vv.grid)
        months = winter_months(latitude)
        ref_index = reference_indexes(vv.dates, months=months)
        progress.info(f"Dry-snow reference: the acquisitions in months {', '.join(map(str, months))} "
                      f"({'northern' if latitude is None or latitude >= 0 else 'southern'} hemisphere winter).")
        if latitude is None:
            warnings.append("The stack has no CRS: the northern-hemisphere winter (December-February) was taken as "
                            "the dry-snow reference window.")
    if ref_index.size < 3:
        warnings.append(f"Only {ref_index.size} date(s) in the dry-snow reference: the reference carries their "
                        "speckle and any disturbance; use a window with more winter acquisitions if possible.")
    for w in warnings:
        progress.warn(w)
    written = {name: optional_output(outputs, name) for name in
               ("wet_snow", "melt_onset", "melt_end", "wet_count", "local_angle", "layover_shadow")}
    if written["wet_snow"] is None:
        raise InputError("The wet-snow output is missing.", "give the path of the wet-snow raster.")
    if geometry is None:
        written["local_angle"] = written["layover_shadow"] = None
    outlines = geometries(inputs.get("outlines"), vv.grid.crs)
    with thread_limits(threads):
        stats = detect_melt(vv, vh, geometry, ref_index, {k: v for k, v in written.items() if v}, outlines,
                            s.reference_statistic, s.theta1, s.theta2, s.k, s.dual_threshold, s.single_threshold,
                            s.min_run, s.speckle_size, s.block, progress.sub(0.02, 1.0))
    dates_iso = stats["dates"]
    numbers = nan_numbers(NUMBERS)
    fractions = stats["wet_fraction"]
    finite = [(f, d) for f, d in zip(fractions, dates_iso) if f == f]
    peak = max(finite) if finite else (float("nan"), "")
    total = vv.grid.width * vv.grid.height * len(dates_iso)
    numbers.update(n_dates=len(dates_iso), n_reference_dates=int(ref_index.size), peak_wet_fraction=peak[0],
                   masked_fraction=1.0 - sum(stats["classified_pixels"]) / total if total else float("nan"),
                   rule_used=rule, peak_wet_date=peak[1], band_dates=",".join(dates_iso))
    progress.info(f"{len(dates_iso)} dates, {ref_index.size} in the dry-snow reference; {rule}. Wet fraction per "
                  "date: " + ", ".join(f"{d} {f:.2f}" for f, d in finite))
    days = stats["day_numbers"]
    steps = time_steps(vv.dates)
    report = {"rule": rule, "dates": dates_iso, "day_numbers": days, "wet_fraction": fractions,
              "reference_dates": [dates_iso[i] for i in ref_index], "mask_counts": stats["mask_counts"],
              "day_number_origin": f"{dates_iso[0][:4]}-01-01 is day 1", "warnings": warnings,
              "angle_source": getattr(geometry, "description", "none"),
              "band_dates": {"wet_snow": dates_iso}, "time_steps": {"wet_snow": [list(t) for t in steps]},
              "display_ranges": {"melt_onset": [days[0], days[-1]], "melt_end": [days[0], days[-1]],
                                 "wet_count": [0, len(days)]}}
    features = {}
    if stats["features"]:
        features["wet_fraction"] = (stats["features"], vv.grid.crs, "Polygon")
    out = {k: v for k, v in written.items() if v}
    return Result(out, numbers, report, features)


# -- local incidence angle on its own --------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalIncidenceSettings(Settings):
    min_angle: float = setting(15.0, "Flag local incidence angles below (deg)", unit="deg", minimum=0.0, maximum=90.0)
    max_angle: float = setting(75.0, "… and above (deg)", unit="deg", minimum=0.0, maximum=90.0)
    block: int = setting(1024, "Block size (px)", unit="px", minimum=64, maximum=8192, advanced=True)


LIA_INPUTS = {
    "dem": Port("raster", "DEM (m, projected CRS; the output grid)"),
    "annotation": Port("file", "Sentinel-1 annotation XML of the acquisition", file_filter=ANNOTATION_FILTER),
}
LIA_OUTPUTS = {
    "local_angle": Port("raster", "Local incidence angle (deg)", style="sar_incidence_angle"),
    "layover_shadow": Port("raster", "Layover/shadow mask (0 valid, 1 layover, 2 shadow, 3 angle out of range)",
                           optional=True, style="sar_layover_shadow"),
}
LIA_NUMBERS = dict(layover_fraction="Fraction of pixels in layover", shadow_fraction="Fraction of pixels in shadow",
                   median_local_angle="Median local incidence angle (deg)")


def run_local_incidence(inputs: Mapping, outputs: Mapping, settings: LocalIncidenceSettings, feedback=None,
                        threads: Optional[int] = None) -> Result:
    """Local incidence angle (deg) and layover/shadow codes on the DEM grid."""
    import numpy as np

    from .. import raster_io
    from ..sar import local_incidence as li

    progress = Progress(core_feedback(feedback))
    dem = os.fspath(require_input(inputs, "dem", "DEM"))
    xml = os.fspath(require_input(inputs, "annotation", "Sentinel-1 annotation XML"))
    grid = raster_io.read_grid(dem)
    source = li.LocalIncidenceSource(xml, dem, grid, (settings.min_angle, settings.max_angle))
    angle_out = os.fspath(require_input(outputs, "local_angle", "local incidence angle output"))
    mask_out = optional_output(outputs, "layover_shadow")
    counts = np.zeros(256, dtype=np.int64)
    sample = []
    blocks = list(raster_io.iter_blocks(grid.shape, settings.block))
    with thread_limits(threads), raster_io.RasterWriter(angle_out, grid, band_names=["local_incidence_angle_deg"]) \
            as angle_writer:
        mask_writer = raster_io.RasterWriter(mask_out, grid, dtype="uint8", nodata=li.NODATA,
                                             band_names=["layover_shadow_code"]) if mask_out else None
        with mask_writer or contextlib.nullcontext():
            for i, (win, _) in enumerate(blocks):
                theta, codes, _ = source.read_all(win)
                angle_writer.write(theta, win)
                if mask_writer:
                    mask_writer.write(codes, win)
                counts += np.bincount(codes.ravel(), minlength=256)
                sample.append(theta[::4, ::4].ravel())
                progress.update((i + 1) / len(blocks))
    total = max(int(counts.sum() - counts[li.NODATA]), 1)
    values = np.concatenate(sample)
    values = values[np.isfinite(values)]
    numbers = {"layover_fraction": counts[li.LAYOVER] / total, "shadow_fraction": counts[li.SHADOW] / total,
               "median_local_angle": float(np.median(values)) if values.size else float("nan")}
    written = {"local_angle": angle_out}
    if mask_out:
        written["layover_shadow"] = mask_out
    lo_hi = raster_io.display_range(values)
    report = {"mask_counts": {li.MASK_LABELS.get(c, "nodata"): int(counts[c]) for c in (0, 1, 2, 3, 255)},
              **({"display_ranges": {"local_angle": lo_hi}} if lo_hi else {})}
    return Result(written, numbers, report)


JOBS = {
    "sar_melt": Job("sar_melt", "Wet snow and melt detection (Sentinel-1)", MeltSettings, run, INPUTS, OUTPUTS,
                    NUMBERS, TEXTS),
    "sar_local_incidence": Job("sar_local_incidence", "Local incidence angle and layover/shadow (Sentinel-1)",
                               LocalIncidenceSettings, run_local_incidence, LIA_INPUTS, LIA_OUTPUTS, LIA_NUMBERS),
}
JOB = JOBS["sar_melt"]
