"""Processing algorithm: velocity time series from many velocity pairs (Serac issue 8).

Parameters in -> serac.core.timeseries.invert_stack (and point_series for the optional
point) -> a multi-band time-series GeoTIFF (styled: speed of one step), an optional
diagnostics GeoTIFF (styled: residual RMS) and an optional CSV of the series at a point.
"""

import csv
import json

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterPoint,
    QgsProcessingParameterString,
)

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..compat import SOURCE_RASTER
from ..qgis_bridge import qgis_crs

UNITS = [("auto", "From the metadata (m/yr when none)"), ("m/yr", "m/yr"), ("m/day", "m/day")]
LAMBDA_MODES = [("auto", "Automatic, per pixel (generalised cross-validation)"), ("fixed", "Fixed value (below)")]
ORDERS = [(1, "First derivative (changes between steps)"), (2, "Second derivative (curvature)")]
ROBUST = [("tukey", "Tukey biweight (rejects outlier pairs)"), ("huber", "Huber (down-weights)"),
          ("none", "None (plain weighted least squares)")]
WEIGHTINGS = [("auto", "Pair errors when every pair has one, else baseline"),
              ("baseline", "Baseline (error inversely proportional to the baseline)"),
              ("error", "Pair errors (from the metadata)"), ("uniform", "Uniform")]
BACKENDS = ["auto", "numpy", "torch-cpu", "torch-cuda"]


def _from_zero(value_range):
    """(0, high) of a (low, high) stretch of a non-negative quantity (speed, RMS), or None."""
    return None if value_range is None or value_range[1] <= 0 else (0.0, value_range[1])


class VelocityTimeSeriesAlgorithm(SeracAlgorithm):
    ALG_ID = "velocity_timeseries"
    DISPLAY_NAME = "Velocity time series (inversion of many pairs)"
    GROUP_ID = "velocity"
    GROUP = "Velocity"
    TAGS = ("velocity", "time series", "inversion", "TICOI", "least squares", "SBAS", "seasonal", "ITS_LIVE",
            "pairs", "temporal baseline")
    SHORT_HELP = (
        "Combines many velocity pairs of one area (each the mean velocity between its two dates) into a regular "
        "time series by per-pixel least-squares inversion, as TICOI does (Charrier et al. 2022, 2025). Each pair "
        "observes the baseline-weighted mean of the time steps it spans, so short and long pairs are combined "
        "consistently. Inputs: rasters with bands named vx and vy (else bands 1 and 2), such as Serac's velocity "
        "output, or single-band ..._vx / ..._vy files side by side (both selected). Dates come from the text "
        "below, else the file tags (DATE1/DATE2, REFERENCE_DATE/SECONDARY_DATE, ...) or the first two dates in "
        "the file name (e.g. 20180304-20180405_vx.tif); identical dates are refused. Pairs on other grids are "
        "resampled onto the first one's. Time steps: every N days from the earliest to the latest date (0: "
        "between consecutive acquisition dates), optionally within a start and end date (pairs outside are left "
        "out). Pair weights: 1/error² (error from the metadata) or, by default, baseline² (a constant "
        "displacement error). Smoothing: lambda times the squared change between steps; 'automatic' chooses "
        "lambda per pixel by generalised cross-validation (slow ice gets smoother series). Outlier pairs are "
        "rejected by Tukey reweighting. Output bands (m/yr): vx_<date> for every step, then vy_<date>, then "
        "speed_<date> (date = centre of the step). Diagnostics: residual_rms, pairs_used, pairs_downweighted, "
        "regularisation, then the residual RMS of each step. With a point, the series there is written to a "
        "CSV (one row per step) for plotting.")

    INPUT = "INPUT"
    DATES = "DATES"
    UNITS = "UNITS"
    STEP_DAYS = "STEP_DAYS"
    START_DATE = "START_DATE"
    END_DATE = "END_DATE"
    LAMBDA_MODE = "LAMBDA_MODE"
    LAMBDA = "LAMBDA"
    ORDER = "ORDER"
    ROBUST = "ROBUST"
    WEIGHTING = "WEIGHTING"
    MIN_PAIRS = "MIN_PAIRS"
    FILL_GAPS = "FILL_GAPS"
    BACKEND = "BACKEND"
    POINT = "POINT"
    OUTPUT = "OUTPUT"
    DIAGNOSTICS = "DIAGNOSTICS"
    POINT_CSV = "POINT_CSV"
    NUMBERS = dict(N_PAIRS="Pairs used", N_STEPS="Time steps", PIXELS_SOLVED="Pixels solved",
                   MEDIAN_RESIDUAL_RMS="Median residual RMS of the pairs (m/yr)",
                   MEDIAN_LAMBDA="Median regularisation (lambda) used")

    def define_parameters(self):
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, self.tr("Velocity pairs (rasters with vx and vy, or _vx/_vy files)"), SOURCE_RASTER))
        self.addParameter(QgsProcessingParameterString(
            self.DATES, self.tr("Pair dates, one 'YYYY-MM-DD,YYYY-MM-DD' per input in order, separated by ';' "
                                "(empty: from the tags or file names)"), optional=True))
        params.add_enum(self, self.UNITS, "Velocity units of the inputs", UNITS, 0)
        params.add_number(self, self.STEP_DAYS, "Time step (days; 0: between acquisition dates)",
                          30, 0, 3650, integer=True)
        for key, what in ((self.START_DATE, "Start"), (self.END_DATE, "End")):
            self.addParameter(QgsProcessingParameterString(
                key, self.tr(f"{what} of the time series (YYYY-MM-DD; empty: from the pairs)"), optional=True))
        params.add_enum(self, self.LAMBDA_MODE, "Regularisation (smoothing)", LAMBDA_MODES, 0)
        params.add_number(self, self.LAMBDA, "Fixed regularisation lambda (dimensionless)", 1.0, 0.0, 1e9)
        params.add_enum(self, self.ORDER, "Smoothness of", ORDERS, 0)
        params.add_enum(self, self.ROBUST, "Outlier pairs", ROBUST, 0)
        params.add_enum(self, self.WEIGHTING, "Pair weights", WEIGHTINGS, 0)
        params.add_number(self, self.MIN_PAIRS, "Minimum valid pairs per pixel",
                          3, 1, 10000, integer=True, advanced=True)
        fill = QgsProcessingParameterBoolean(self.FILL_GAPS, self.tr(
            "Fill steps no pair covers by interpolation (else no data)"), defaultValue=False)
        self.set_advanced(fill)
        self.addParameter(fill)
        params.add_backend(self, self.BACKEND, options=BACKENDS)
        self.set_advanced(self.parameterDefinition(self.ORDER), self.parameterDefinition(self.WEIGHTING),
                          self.parameterDefinition(self.BACKEND))
        self.addParameter(QgsProcessingParameterPoint(
            self.POINT, self.tr("Point for a time-series table (optional)"), optional=True))
        self.add_raster_output(self.OUTPUT, "Velocity time series (vx, vy, speed per step; m/yr)")
        self.add_raster_output(self.DIAGNOSTICS, "Diagnostics (residual RMS, pairs used, lambda)",
                               optional=True).setCreateByDefault(False)
        self.add_file_output(self.POINT_CSV, "Time series at the point (CSV)", "CSV files (*.csv)")
        self.add_number_outputs(**self.NUMBERS)
        self.add_string_outputs(SUMMARY_JSON="Time-series summary (JSON)")

    # -- inputs -------------------------------------------------------------------------------------------------
    def _pairs(self, parameters, context):
        """Pair items for open_pairs: paths, or (path, date1, date2) when dates are given."""
        layers = self.parameterAsLayerList(parameters, self.INPUT, context)
        paths = []
        for layer in layers:
            if layer.providerType() != "gdal":
                raise QgsProcessingException(
                    f"The layer '{layer.name()}' is a '{layer.providerType()}' layer; Serac reads rasters through "
                    "GDAL files. Fix: export it to GeoTIFF (Raster > Conversion > Translate) and use that.")
            paths.append(layer.source().split("|")[0])
        if not paths:
            raise QgsProcessingException("No velocity pairs were selected. Fix: select the velocity rasters.")
        text = self.parameterAsString(parameters, self.DATES, context).strip()
        if not text:
            return paths
        entries = [e.strip() for e in text.replace("\n", ";").split(";") if e.strip()]
        if len(entries) != len(paths):
            raise QgsProcessingException(
                f"{len(entries)} date pairs were given for {len(paths)} input rasters. Fix: give one "
                "'YYYY-MM-DD,YYYY-MM-DD' per input, in the order of the inputs, or leave the dates empty.")
        items = []
        for path, entry in zip(paths, entries):
            dates = [d.strip() for d in entry.replace("/", ",").split(",") if d.strip()]
            if len(dates) != 2:
                raise QgsProcessingException(f"'{entry}' is not two dates. Fix: write 'YYYY-MM-DD,YYYY-MM-DD'.")
            items.append((path, dates[0], dates[1]))
        return items

    def _time_grid(self, parameters, context, stack):
        """The time grid asked for, or None to let the core span all pairs."""
        import numpy as np

        from ...core.timeseries import TimeGrid, as_day

        start = self.parameterAsString(parameters, self.START_DATE, context).strip()
        end = self.parameterAsString(parameters, self.END_DATE, context).strip()
        if not (start or end):
            return None
        lo = as_day(start) if start else stack.date1.min()
        hi = as_day(end) if end else stack.date2.max()
        step = self.parameterAsInt(parameters, self.STEP_DAYS, context)
        if step:
            return TimeGrid.regular(lo, hi, step)
        dates = np.concatenate([stack.date1, stack.date2])
        return TimeGrid.from_dates(np.concatenate([[lo, hi], dates[(dates >= lo) & (dates <= hi)]]))

    def _settings(self, parameters, context):
        from ...core.timeseries import InversionSettings

        mode = params.choice(self, parameters, context, self.LAMBDA_MODE, LAMBDA_MODES)
        return InversionSettings(
            regularisation="auto" if mode == "auto" else self.parameterAsDouble(parameters, self.LAMBDA, context),
            order=params.choice(self, parameters, context, self.ORDER, ORDERS),
            robust=params.choice(self, parameters, context, self.ROBUST, ROBUST),
            weighting=params.choice(self, parameters, context, self.WEIGHTING, WEIGHTINGS),
            min_pairs=self.parameterAsInt(parameters, self.MIN_PAIRS, context),
            fill_gaps=self.parameterAsBoolean(parameters, self.FILL_GAPS, context),
            backend=params.enum_value(self, parameters, context, self.BACKEND, BACKENDS))

    # -- run ------------------------------------------------------------------------------------------------------
    def run_algorithm(self, parameters, context, feedback):
        from ...core.progress import Progress
        from ...core.timeseries import PairStack, invert_stack, open_pairs, point_series
        from ...core.timeseries.stack import display_range

        units = params.choice(self, parameters, context, self.UNITS, UNITS)
        stack = PairStack(open_pairs(self._pairs(parameters, context), units=None if units == "auto" else units))
        settings = self._settings(parameters, context)
        time_grid = self._time_grid(parameters, context, stack)
        step = self.parameterAsInt(parameters, self.STEP_DAYS, context)
        progress = Progress(feedback)
        out_path = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        diag_path = self.parameterAsOutputLayer(parameters, self.DIAGNOSTICS, context) or None
        result = invert_stack(stack, out_path, time_grid=time_grid, step_days=step or None, settings=settings,
                              diagnostics_path=diag_path, feedback=progress.sub(0.0, 0.95))
        feedback.pushInfo(result.describe())
        outputs = {self.OUTPUT: out_path, "N_PAIRS": result.n_pairs, "N_STEPS": result.time_grid.n_steps,
                   "PIXELS_SOLVED": result.pixels_solved, "MEDIAN_RESIDUAL_RMS": result.median_residual_rms,
                   "MEDIAN_LAMBDA": result.median_regularisation}
        summary = {"time_grid_edges": [str(e) for e in result.time_grid.edges], "band_names": result.band_names,
                   "pairs_left_out": result.pairs_left_out, "weighting": result.weighting,
                   "backend": result.backend, "pixels_total": result.pixels_total}
        n = result.time_grid.n_steps
        speed_band = 2 * n + 1 if "speed" in result.components else 1
        edges = result.time_grid.edges  # speed of step k (dates edges[k] to edges[k + 1]) in band speed_band + k
        steps = [(edges[k], edges[k + 1], speed_band + k) for k in range(n)] if "speed" in result.components else None
        self.style_output(context, out_path, "timeseries_speed", self.tr("Velocity time series"),
                          _from_zero(display_range(out_path, speed_band)), speed_band, time_steps=steps)
        if diag_path:
            outputs[self.DIAGNOSTICS] = diag_path
            self._style(context, diag_path, "timeseries_residual", self.tr("Time-series residual RMS (m/yr)"), 1,
                        _from_zero(display_range(diag_path, 1)))
        point = self.parameterAsPoint(parameters, self.POINT, context, qgis_crs(stack.grid.crs)) \
            if parameters.get(self.POINT) else None
        csv_path = self.parameterAsFileOutput(parameters, self.POINT_CSV, context)
        if point is not None:
            series = point_series(stack, point.x(), point.y(), time_grid=result.time_grid, settings=settings)
            summary["point"] = {"x": point.x(), "y": point.y(), "pixel": list(series.extra["pixel"]),
                                "regularisation": series.extra["regularisation"]}
            if csv_path:
                self._write_csv(csv_path, series)
                outputs[self.POINT_CSV] = csv_path
        elif csv_path and parameters.get(self.POINT_CSV):
            feedback.pushWarning("A CSV for the point series was asked for but no point was given; none written.")
        progress.update(1.0)
        outputs["SUMMARY_JSON"] = json.dumps(summary, default=float)
        return outputs

    @staticmethod
    def _write_csv(path, series):
        rows = series.records()
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def _style(self, context, output_ref, style_name, layer_name, band, value_range):
        self.style_output(context, output_ref, style_name, layer_name, value_range=value_range, band=band)
