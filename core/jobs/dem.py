"""Job: DEM co-registration (Nuth & Kääb 2011, vertical shift, deramp) and elevation change dh."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import DEM_METHODS, DERAMP_ORDERS
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, geometries, optional_output, require_input, setting, \
    thread_limits

METHODS, DERAMP = DEM_METHODS, DERAMP_ORDERS
NICE = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass(frozen=True)
class CoregFitSettings(Settings):
    """The fit settings every DEM co-registration shares (to a DEM or to points)."""

    method: str = setting("nuth_kaab", "Method", choices=METHODS)
    deramp_order: int = setting(0, "Polynomial deramp after the shift", choices=DERAMP)
    max_iterations: int = setting(10, "Maximum iterations", minimum=1, maximum=100)
    tolerance: float = setting(0.01, "Tolerance: stop when the horizontal step is below (m)", unit="m",
                               minimum=1e-4, maximum=100.0)
    slope_min: float = setting(5.0, "Minimum slope used by Nuth & Kääb (deg)", unit="deg", minimum=0.0, maximum=89.0)
    slope_max: float = setting(70.0, "Maximum slope used by Nuth & Kääb (deg)", unit="deg", minimum=1.0, maximum=90.0)


#: The setting of the DEM pair jobs that turns the vertical datum conversion (serac.core.dem.pair_datum) on or off.
CONVERT_DATUMS_LABEL = ("Convert vertical datums: when both DEMs declare different ones (compound or 3-D CRS), "
                        "put the second DEM's heights on the reference's with PROJ")


@dataclass(frozen=True)
class DemCoregistrationSettings(CoregFitSettings):
    subsample: int = setting(500000, "Subsample: stable pixels used by the fit", unit="px", minimum=1000,
                             maximum=100_000_000, advanced=True)
    shift_geotransform: bool = setting(False, "Move the geotransform instead of resampling (aligned DEM keeps its "
                                              "own grid)", advanced=True)
    convert_datums: bool = setting(True, CONVERT_DATUMS_LABEL, advanced=True)


#: Unstable terrain left out of the fits (glaciers): outlines and/or a mask raster; the DEM jobs share them.
UNSTABLE_INPUTS = {
    "outlines": Port("polygons", "Unstable terrain: glacier outlines", optional=True),
    "unstable_mask": Port("raster", "Unstable terrain: mask raster, non-zero = unstable", optional=True)}


def unstable_inputs(inputs: Mapping, crs):
    """(outline geometries in ``crs`` or None, mask raster path or None) of the :data:`UNSTABLE_INPUTS`."""
    return geometries(inputs.get("outlines"), crs) or None, inputs.get("unstable_mask") or None


def symmetric_limit(summary, default=10.0):
    """A round half-range (m) covering the 1-99 % dh range of ``summary`` (robust_summary dict)."""
    if not summary or not summary.get("count"):
        return default
    extent = max(abs(summary["p01"]), abs(summary["p99"]))
    return next((n for n in NICE if n >= extent), NICE[-1]) if math.isfinite(extent) else default


NUMBERS = dict(shift_x_m="Shift applied, x east (m)", shift_y_m="Shift applied, y north (m)",
               shift_z_m="Shift applied, z up (m)", shift_x_px="Shift applied, x east (px of the reference)",
               shift_y_px="Shift applied, y north (px of the reference)",
               median_before_m="Stable-terrain median dh before (m)",
               nmad_before_m="Stable-terrain NMAD of dh before (m)",
               median_after_m="Stable-terrain median dh after (m)",
               nmad_after_m="Stable-terrain NMAD of dh after (m)",
               iterations="Nuth & Kääb iterations")
#: What a DEM pair job reports of the vertical datum conversion (:class:`serac.core.dem.pair_datum.PairDatum`).
DATUM_NUMBERS = dict(datum_offset_mean_m="Vertical datum conversion: mean height added to the second DEM (m; 0: "
                                         "not converted)",
                     datum_offset_min_m="Vertical datum conversion: smallest height added (m)",
                     datum_offset_max_m="Vertical datum conversion: largest height added (m)")
DATUM_TEXTS = dict(datum="Vertical datums: conversion done and warnings")


def datum_numbers(pair):
    """The :data:`DATUM_NUMBERS` and :data:`DATUM_TEXTS` of a :class:`~serac.core.dem.pair_datum.PairDatum`."""
    offset = pair.offset_m if pair.converted else {}
    return {"datum_offset_mean_m": offset.get("mean", 0.0), "datum_offset_min_m": offset.get("min", 0.0),
            "datum_offset_max_m": offset.get("max", 0.0), "datum": pair.text()}


def run(inputs: Mapping, outputs: Mapping, settings: DemCoregistrationSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Align ``inputs['dem']`` to ``inputs['reference']``; write the aligned DEM, dh and an HTML report."""
    from ..dem import coregister
    from ..raster_io import read_grid

    progress = Progress(core_feedback(feedback))
    reference = require_input(inputs, "reference", "reference DEM")
    dem = require_input(inputs, "dem", "DEM to align")
    grid = read_grid(reference)
    outlines, mask = unstable_inputs(inputs, grid.crs)
    aligned_path = optional_output(outputs, "output")
    dh_path = optional_output(outputs, "dh")
    report_path = optional_output(outputs, "report_html")
    with thread_limits(threads):
        result = coregister(
            reference, dem, aligned_path, dh_path, report_path, method=settings.method,
            deramp_order=settings.deramp_order, outlines=outlines, outlines_crs=grid.crs, mask=mask,
            max_iterations=settings.max_iterations,
            tolerance_m=settings.tolerance, slope_limits=(settings.slope_min, settings.slope_max),
            subsample=settings.subsample, shift_by="geotransform" if settings.shift_geotransform else "resample",
            convert_datums=settings.convert_datums, feedback=progress.feedback)
    progress.info(result.summary_line())
    d = result.to_dict()
    report = {k: v for k, v in d.items() if k != "histogram"}
    written, ranges = {}, {}
    if aligned_path:
        written["output"] = aligned_path
        summary = result.aligned_summary
        if summary and summary.get("count"):
            ranges["output"] = (summary["p01"], summary["p99"])
    if dh_path:
        written["dh"] = dh_path
        limit = symmetric_limit(result.dh_map_summary)
        ranges["dh"] = (-limit, limit)
    if report_path:
        written["report_html"] = report_path
    report["display_ranges"] = ranges
    numbers = {name: d[name] for name in NUMBERS}
    numbers.update(datum_numbers(result.vertical_datum))
    return Result(written, numbers, report)


JOB = Job("dem_coregistration", "DEM co-registration and elevation change", DemCoregistrationSettings, run,
          {"reference": Port("raster", "Reference DEM (m)"), "dem": Port("raster", "DEM to align (m)"),
           **UNSTABLE_INPUTS},
          {"output": Port("raster", "Aligned DEM", style="dem_elevation"),
           "dh": Port("raster", "Elevation difference dh = aligned - reference (m)", optional=True, style="dem_dh"),
           "report_html": Port("file", "Co-registration report (HTML)", optional=True,
                               file_filter="HTML files (*.html)")},
          {**NUMBERS, **DATUM_NUMBERS}, DATUM_TEXTS)
