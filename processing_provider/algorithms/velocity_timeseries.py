"""Processing algorithm: velocity time series from many velocity pairs (Serac issue 8).

Parameters in -> the core job serac.core.jobs.timeseries -> a multi-band time-series GeoTIFF (styled: speed
of one step), an optional diagnostics GeoTIFF (styled: residual RMS) and an optional CSV of the series at a point.
"""

from qgis.core import QgsProcessingParameterPoint

from ..job_algorithm import JobAlgorithm
from ..qgis_bridge import qgis_crs


class VelocityTimeSeriesAlgorithm(JobAlgorithm):
    ALG_ID = "velocity_timeseries"
    JOB_NAME = "velocity_timeseries"
    DISPLAY_NAME = "Velocity time series (inversion of many pairs)"
    GROUP_ID = "velocity"
    GROUP = "Velocity"
    TAGS = ("velocity", "time series", "inversion", "TICOI", "least squares", "SBAS", "seasonal", "ITS_LIVE",
            "pairs", "temporal baseline")
    SHORT_HELP = (
        "Combines many velocity pairs of one area (each the mean velocity between its two dates) into a regular "
        "time series by per-pixel least-squares inversion, as TICOI does (Charrier et al. 2022, 2025): the unknowns "
        "are the mean velocities between consecutive acquisition dates, each pair observes the baseline-weighted "
        "mean of the intervals it spans, and the result is averaged onto the time steps (interval-length "
        "weighted), so short pairs that see a short event (a spring speed-up) are fitted instead of rejected. "
        "Inputs: rasters with bands named vx and vy (else bands 1 and 2), such as Serac's velocity "
        "output, or single-band ..._vx / ..._vy files side by side (both selected). Dates come from the text "
        "below, else the file tags (DATE1/DATE2, REFERENCE_DATE/SECONDARY_DATE, ...) or the first two dates in "
        "the file name (e.g. 20180304-20180405_vx.tif); identical dates are refused. Pairs on other grids are "
        "resampled onto the first one's. Time steps: every N days from the earliest to the latest date (0: "
        "between consecutive acquisition dates), optionally within a start and end date (pairs outside are left "
        "out). Pair weights: 1/error² (error from the metadata) or, by default, baseline² (a constant "
        "displacement error). Smoothing: lambda times the squared rate of change integrated over time, in units "
        "of the time step (a change of 1 m/yr from one step to the next costs as much as a 1 m/yr misfit of a "
        "pair of median weight), so it does not depend on how close the acquisition dates are; 'automatic' "
        "chooses lambda per pixel by generalised cross-validation (slow ice gets smoother series; fast ice keeps "
        "short events). A fixed lambda of 1 smooths out events shorter than a few steps. Outlier pairs: by default a "
        "pair is left out only when no smoothing level, from little smoothing up to the chosen lambda, explains it "
        "within its own error (its residual standardised by the pair's error, its leverage and the pixel's robust "
        "scale), so short pairs that see a real short event are kept and blunders are left out; Tukey or Huber give "
        "continuous weights instead (slower: pixels then share no factorisation). "
        "Output bands (m/yr): vx_<date> for every step, then vy_<date>, then "
        "speed_<date> (date = centre of the step). Error (optional, on by default): the 1-sigma error of every band "
        "(vx_error_<date>, ..., m/yr) from the covariance of the inversion with the final pair weights, styled and "
        "dated like the series. Diagnostics: residual_rms, pairs_used, pairs_downweighted, "
        "regularisation, then the residual RMS of each step. With a point, the series there is written to a "
        "CSV (one row per step) for plotting.")

    LAYER_NAMES = {"output": "Velocity time series", "error": "Velocity time-series error (1-sigma, m/yr)",
                   "diagnostics": "Time-series residual RMS (m/yr)"}

    def _declare_setting(self, spec):
        if spec.widget == "point":
            self.addParameter(QgsProcessingParameterPoint(spec.name.upper(), self.tr(spec.label), optional=True))
        else:
            super()._declare_setting(spec)

    def point_setting(self, parameters, context, key):
        """The point (x, y) in the CRS of the first pair, or None."""
        if not parameters.get(key):
            return None
        from ...core.raster_io import read_grid

        paths = self.job_inputs(parameters, context, None)["input"]
        crs = read_grid(paths[0]).crs if paths else None
        if crs is None:
            return None
        point = self.parameterAsPoint(parameters, key, context, qgis_crs(crs))
        return (point.x(), point.y())

    def job_outputs(self, parameters, context):
        outputs = super().job_outputs(parameters, context)
        if not parameters.get("POINT") and not parameters.get("POINT_CSV"):
            outputs.pop("point_csv", None)  # a CSV is written only when asked for or when a point is given
        return outputs
