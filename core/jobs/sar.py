"""Job: SAR backscatter incidence-angle normalization (cosine law, linear in dB with a given beta,
beta from an ascending/descending pair, beta per pixel from a time series)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import BETA_ESTIMATORS, SAR_METHODS, SAR_UNITS
from ..errors import InputError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, nan_numbers, optional_output, require_input, \
    setting, thread_limits

METHODS, UNITS, ESTIMATORS = SAR_METHODS, SAR_UNITS, BETA_ESTIMATORS
ANGLE_FILTER = "Sentinel-1 annotation (*.xml *.XML);;Geolocation grid CSV (*.csv)"


@dataclass(frozen=True)
class SarNormalizationSettings(Settings):
    bands: Optional[tuple] = setting(None, "Backscatter bands (default: all but the angle band)", optional=True,
                                     widget="bands", parent="input", kind=tuple)
    unit: str = setting("auto", "Backscatter unit", choices=UNITS)
    angle_band: int = setting(1, "Incidence angle band", minimum=1, widget="band", parent="angle")
    method: str = setting("cosine", "Method", choices=METHODS)
    theta_ref: float = setting(35.0, "Reference incidence angle (deg)", unit="deg", minimum=0.1, maximum=89.9)
    cosine_n: float = setting(2.0, "Cosine-law exponent n (2 = Lambertian)", minimum=0.01, maximum=10.0)
    beta: float = setting(-0.2, "Beta (dB/deg) for the linear method", unit="dB/deg", minimum=-5.0, maximum=5.0)
    window: int = setting(16, "Asc/desc method: window size (px)", unit="px", minimum=4, maximum=512, advanced=True)
    estimator: str = setting("median", "Asc/desc method: window estimator", choices=ESTIMATORS, advanced=True)


INPUTS = {
    "input": Port("raster", "Backscatter raster (sigma0; one band per polarisation)"),
    "angle": Port("raster", "Incidence angle raster (deg)", optional=True),
    "annotation": Port("file", "…or Sentinel-1 annotation XML (incidence angle from its geolocation grid)",
                       optional=True, file_filter=ANGLE_FILTER),
    "dem": Port("raster", "DEM (m; angle from annotation over terrain, elevation term of the asc/desc beta model)",
                optional=True),
    "beta_raster": Port("raster", "Beta raster (dB/deg) for the linear method (overrides the number)",
                        optional=True),
    "pair_other": Port("raster", "Asc/desc method: the other acquisition (opposite pass)", optional=True),
    "pair_other_angle": Port("raster", "Asc/desc method: incidence angle of the other (deg)", optional=True),
    "pair_other_annotation": Port("file", "Asc/desc method: …or annotation XML of the other", optional=True,
                                  file_filter=ANGLE_FILTER),
    "stack": Port("rasters", "Time-series method: backscatter images (>= 3, same area)", optional=True),
    "stack_angles": Port("rasters", "Time-series method: their incidence angle rasters (deg, same order)",
                         optional=True),
}
OUTPUTS = {
    "output": Port("raster", "Normalized backscatter (dB)", style="sar_backscatter_db"),
    "beta_output": Port("raster", "Beta (dB/deg; time series: beta, SE, sigma_ref, RMSE, count)", optional=True,
                        style="sar_beta", default_on=False),
    "angle_output": Port("raster", "Incidence angle (deg) on the backscatter grid", optional=True,
                         style="sar_incidence_angle", default_on=False),
}
NUMBERS = dict(slope_before="Apparent angle slope of band 1 before normalization (dB/deg)",
               slope_after="Apparent angle slope of band 1 after normalization (dB/deg)",
               beta_intercept="Beta model intercept b0 (dB/deg)",
               beta_lon="Beta model longitude coefficient (dB/deg per deg)",
               beta_lat="Beta model latitude coefficient (dB/deg per deg)",
               beta_elev="Beta model elevation coefficient (dB/deg per m)",
               beta_r2="Beta model R2 over the windows",
               beta_rmse="Beta model RMSE over the windows (dB/deg)",
               beta_median="Median estimated beta (dB/deg)",
               beta_se_median="Median standard error of the per-pixel beta (dB/deg)")
TEXTS = dict(input_unit="Backscatter unit used (and why)")


def angle_source(raster, band, xml, grid, dem, what):
    """The incidence angle (deg) from a raster band or an annotation file (exactly one), or None."""
    from ..sar.sources import AnnotationAngleSource, RasterSource

    if raster and xml:
        raise InputError(f"Both an angle raster and an annotation file were given for the {what}.",
                         "give only one of them.")
    if xml:
        return AnnotationAngleSource(xml, grid, dem=RasterSource(dem, grid, what="DEM") if dem else None)
    if raster:
        return RasterSource(raster, grid, band=band or 1, what=what)
    return None


def run(inputs: Mapping, outputs: Mapping, settings: SarNormalizationSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Normalize ``inputs['input']`` to ``settings.theta_ref`` and write ``outputs['output']`` in dB."""
    with thread_limits(threads), tempfile.TemporaryDirectory(prefix="serac_sar_") as scratch:
        return _run(inputs, outputs, settings, Progress(core_feedback(feedback)), scratch)


def _run(inputs, outputs, s, progress, scratch):
    from ..raster_io import band_count, read_grid
    from ..sar.beta_estimation import BetaModelSource, estimate_beta_pair, estimate_beta_timeseries
    from ..sar.engine import normalize_raster, write_sources
    from ..sar.normalization import CosineLaw, LinearDB
    from ..sar.sources import RasterSource

    src = os.fspath(require_input(inputs, "input", "backscatter raster"))
    out_path = os.fspath(require_input(outputs, "output", "normalized backscatter output"))
    grid = read_grid(src)
    dem = inputs.get("dem") or None
    angles = angle_source(inputs.get("angle"), s.angle_band, inputs.get("annotation"), grid, dem, "incidence angle")
    bands = list(s.bands) if s.bands else None
    if bands is None and getattr(angles, "path", None) == os.fspath(src):  # angle stored as a band of the input
        bands = [b for b in range(1, band_count(src) + 1) if b != angles.band] or None
    numbers = nan_numbers(NUMBERS)
    report = {"method": s.method}
    beta_out = optional_output(outputs, "beta_output")
    start = 0.0
    if s.method == "cosine":
        method = CosineLaw(s.cosine_n, s.theta_ref)
    elif s.method == "linear":
        method = LinearDB(inputs.get("beta_raster") or s.beta, s.theta_ref)
    elif s.method == "pair":
        other = require_input(inputs, "pair_other", "other acquisition of the asc/desc method",
                              "set 'the other acquisition (opposite pass)' and its incidence angle.")
        other_angles = angle_source(inputs.get("pair_other_angle"), 1, inputs.get("pair_other_annotation"), grid,
                                    dem, "other acquisition's angle")
        pair = estimate_beta_pair(src, angles, other, other_angles, dem=dem, grid=grid, window=s.window,
                                  estimator=s.estimator, unit=s.unit, band=(bands or [1])[0],
                                  feedback=progress.sub(0.0, 0.4))
        m = pair.model
        numbers.update(beta_intercept=m.intercept, beta_lon=m.lon_coef, beta_lat=m.lat_coef, beta_elev=m.elev_coef,
                       beta_r2=m.r2, beta_rmse=m.rmse)
        report["beta_model"] = m.as_dict()
        method = LinearDB(BetaModelSource(m, grid, dem), s.theta_ref)
        start = 0.4
    else:
        beta_path = beta_out or os.path.join(scratch, "sar_beta_timeseries.tif")
        ts = estimate_beta_timeseries(list(inputs.get("stack") or []), list(inputs.get("stack_angles") or []),
                                      beta_path, s.theta_ref, grid=grid, unit=s.unit,
                                      feedback=progress.sub(0.0, 0.5))
        numbers.update(beta_median=ts.beta["median"], beta_se_median=ts.beta_se["median"])
        report.update(beta=ts.beta, beta_se=ts.beta_se, fitted_fraction=ts.valid_fraction)
        method = LinearDB(RasterSource(beta_path, grid, band=1, what="per-pixel beta"), s.theta_ref)
        start = 0.5

    result = normalize_raster(src, out_path, method, angles, bands=bands, unit=s.unit,
                              feedback=progress.sub(start, 0.9))
    numbers.update(slope_before=result.slope_before[0], slope_after=result.slope_after[0])
    report.update(slope_before=result.slope_before, slope_after=result.slope_after,
                  angle_range=list(result.angle_range), display_range=result.display_range,
                  warnings=result.warnings)
    written = {"output": out_path}
    if s.method == "pair" and beta_out:
        write_sources(beta_out, grid, [method.beta], ["beta_dB_per_deg"], feedback=progress.sub(0.9, 0.95))
    if s.method in ("pair", "timeseries") and beta_out:
        written["beta_output"] = beta_out
    angle_out = optional_output(outputs, "angle_output")
    if angle_out:
        write_sources(angle_out, grid, [angles], ["incidence_angle_deg"], feedback=progress.sub(0.95, 1.0))
        written["angle_output"] = angle_out
    numbers["input_unit"] = f"{result.unit.unit} ({result.unit.source}: {result.unit.evidence})"
    report["display_ranges"] = {"output": list(result.display_range[0])}
    return Result(written, numbers, report)


JOB = Job("sar_normalization", "SAR incidence-angle normalization", SarNormalizationSettings, run, INPUTS, OUTPUTS,
          NUMBERS, TEXTS)
