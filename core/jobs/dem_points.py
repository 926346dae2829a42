"""Job: co-register a DEM to elevation points (ICESat-2 ATL06 granule or a point layer), with vertical datums.

dh = shifted DEM - point height (m), the sign convention of DEM pairs; the fit, the datum conversion and the
geoid-trap check are :func:`serac.core.dem.points.coregister_to_points`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import VERTICAL_DATUMS
from ..errors import InputError
from ..progress import Progress
from .base import Job, Port, Result, core_feedback, optional_output, require_input, setting, thread_limits
from .dem import NUMBERS as PAIR_NUMBERS
from .dem import UNSTABLE_INPUTS, CoregFitSettings, symmetric_limit, unstable_inputs

#: The numbers of the DEM pair job that a point co-registration gives too, and its own.
NUMBERS = dict({k: v for k, v in PAIR_NUMBERS.items()},
               shift_x_px="Shift applied, x east (px of the DEM)", shift_y_px="Shift applied, y north (px of the DEM)",
               median_before_m="Stable-point median dh before (m)", nmad_before_m="Stable-point NMAD of dh before (m)",
               median_after_m="Stable-point median dh after (m)", nmad_after_m="Stable-point NMAD of dh after (m)",
               count_before="Stable points on the DEM, before", count_after="Stable points on the DEM, after",
               points_on_dem="Points on valid DEM pixels", geoid_trap="Shift close to the geoid undulation (1 = yes)")
TEXTS = dict(datum="Vertical datums: conversion done and warnings")


@dataclass(frozen=True)
class DemPointsSettings(CoregFitSettings):
    elevation_field: Optional[str] = setting(None, "Elevation field of the point layer (m; empty: the Z of 3-D points)",
                                             optional=True, widget="field", parent="points", kind=str)
    points_datum: str = setting("unknown", "Vertical datum of the point heights (ATL06: ellipsoid when unknown)",
                                choices=VERTICAL_DATUMS)
    dem_datum: str = setting("unknown", "Vertical datum of the DEM", choices=VERTICAL_DATUMS)
    min_points: int = setting(200, "Minimum sloping stable points for a horizontal shift", minimum=10,
                              maximum=10_000_000, advanced=True)


def read_points(inputs: Mapping, elevation_field=None):
    """The :class:`~serac.core.dem.altimetry.PointTable` of ``inputs['atl06']`` (granule) or ``inputs['points']``
    (a point vector file, ``path|layername=name`` for one layer of several)."""
    from ..dem.altimetry import read_atl06, read_point_table

    granule, layer = inputs.get("atl06"), inputs.get("points")
    if granule and layer:
        raise InputError("Reference points were given twice: an ATL06 granule and a point layer.",
                         "give one of them.")
    if granule:
        return read_atl06(granule)
    layer = require_input(inputs, "points", "reference points (an ATL06 granule or a point layer)")
    path, _, name = str(layer).partition("|layername=")
    return read_point_table(path, elevation_field or None, layer=name or None)


def _datum(value):
    return None if value == "unknown" else value


def run(inputs: Mapping, outputs: Mapping, settings: DemPointsSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Align ``inputs['dem']`` to the points; write the aligned DEM and the HTML report, return dh at the points."""
    from ..dem.points import apply_to_dem, coregister_to_points
    from ..dem.pipeline import stable_terrain
    from ..dem.report import write_report
    from ..raster_io import read_grid

    progress = Progress(core_feedback(feedback))
    s = settings
    dem = require_input(inputs, "dem", "DEM to align")
    grid = read_grid(dem)
    points = read_points(inputs, s.elevation_field)
    outlines, mask = unstable_inputs(inputs, grid.crs)
    aligned_path = optional_output(outputs, "output")
    report_path = optional_output(outputs, "report_html")
    with thread_limits(threads):
        result = coregister_to_points(
            dem, points, stable=stable_terrain(outlines, grid.crs, mask), method=s.method,
            deramp_order=s.deramp_order, max_iterations=s.max_iterations, tolerance_m=s.tolerance,
            slope_limits=(s.slope_min, s.slope_max), min_points=s.min_points, points_datum=_datum(s.points_datum),
            dem_datum=_datum(s.dem_datum), feedback=progress.sub(0.0, 0.3))
        progress.info(result.summary_line())
        written, ranges = {}, {}
        if aligned_path:
            applied = apply_to_dem(result, dem, aligned_path, feedback=progress.sub(0.3, 0.95))
            written["output"] = aligned_path
            summary = applied["aligned_summary"]
            if summary and summary.get("count"):
                ranges["output"] = (summary["p01"], summary["p99"])
    if report_path:
        write_report(result, report_path, title="DEM co-registration to elevation points",
                     inputs={"DEM to align": result.dem_grid.describe(), "points": points.label,
                             "points on the DEM": result.counts["on_dem"], "stable terrain": result.stable_terrain})
        written["report_html"] = report_path
    features, limit = point_features(result, points)
    ranges["dh_points"] = (-limit, limit)
    d = result.to_dict()
    report = {k: v for k, v in d.items() if k != "histogram"}
    report["display_ranges"] = ranges
    nk = next((st["info"] for st in result.steps if st["name"] == "nuth_kaab"), {})
    datum_text = "; ".join([f"points: {result.datum['points_datum'] or 'not declared'}, DEM: "
                            f"{result.datum['dem_datum'] or 'not declared'}"]
                           + (result.datum["notes"] + result.warnings or ["no conversion, no datum warning"]))
    numbers = {"shift_x_m": result.shift_x_m, "shift_y_m": result.shift_y_m, "shift_z_m": result.shift_z_m,
               "shift_x_px": result.shift_x_px, "shift_y_px": result.shift_y_px,
               "median_before_m": result.stats_before["median"], "nmad_before_m": result.stats_before["nmad"],
               "median_after_m": result.stats_after["median"], "nmad_after_m": result.stats_after["nmad"],
               "iterations": nk.get("iterations", 0), "count_before": result.stats_before["count"],
               "count_after": result.stats_after["count"], "points_on_dem": result.counts["on_dem"],
               "geoid_trap": int(bool(result.datum["flagged"])), "datum": datum_text}
    progress.update(1.0)
    return Result(written, numbers, report,
                  features={"dh_points": (features, result.work_grid.crs, "Point")})


def point_features(result, points):
    """(GeoJSON point features of the points on the DEM with h, dh before/after and stable, display half-range m)."""
    import numpy as np

    from ..stats import robust_summary

    on = np.flatnonzero(np.isfinite(result.dh_before))
    features = [{"geometry": {"type": "Point", "coordinates": (float(result.x[i]), float(result.y[i]))},
                 "properties": {"h_m": float(points.h[i]), "dh_before_m": float(result.dh_before[i]),
                                "dh_after_m": float(result.dh_after[i]), "stable": int(result.stable[i])}}
                for i in on]
    return features, symmetric_limit(robust_summary(result.dh_after[on]))


JOB = Job("dem_points_coregistration", "DEM co-registration to altimetry points", DemPointsSettings, run,
          {"dem": Port("raster", "DEM to align (m)"),
           "points": Port("points", "Reference points: point layer with elevations (m)", optional=True),
           "atl06": Port("file", "Reference points: ICESat-2 ATL06 granule (.h5)", optional=True,
                         file_filter="HDF5 files (*.h5 *.hdf5 *.H5)"),
           **UNSTABLE_INPUTS},
          {"output": Port("raster", "Aligned DEM", style="dem_elevation"),
           "dh_points": Port("points", "dh at the points (m)", optional=True, style="dem_dh_points"),
           "report_html": Port("file", "Co-registration report (HTML)", optional=True,
                               file_filter="HTML files (*.html)")},
          NUMBERS, TEXTS)
