"""Job: velocity time series from many velocity pairs (per-pixel regularised least-squares inversion)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import CORRELATION_BACKENDS, LAMBDA_MODES, PAIR_WEIGHTINGS, ROBUST_WEIGHTS, SMOOTHNESS_ORDERS, \
    VELOCITY_UNITS
from ..errors import InputError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, optional_output, require_input, setting, \
    thread_limits

DATE_TEXT = "{} of the time series (YYYY-MM-DD; empty: from the pairs)"


@dataclass(frozen=True)
class TimeSeriesSettings(Settings):
    dates: Optional[str] = setting(None, "Pair dates, one 'YYYY-MM-DD,YYYY-MM-DD' per input in order, separated by "
                                         "';' (empty: from the tags or file names)", optional=True,
                                   widget="dates_text", kind=str)
    units: str = setting("auto", "Velocity units of the inputs", choices=VELOCITY_UNITS)
    step_days: int = setting(30, "Time step (days; 0: between acquisition dates)", unit="days", minimum=0,
                             maximum=3650)
    start_date: Optional[str] = setting(None, DATE_TEXT.format("Start"), optional=True, widget="date", kind=str)
    end_date: Optional[str] = setting(None, DATE_TEXT.format("End"), optional=True, widget="date", kind=str)
    lambda_mode: str = setting("auto", "Regularisation (smoothing)", choices=LAMBDA_MODES)
    regularisation: float = setting(1.0, "Fixed regularisation lambda (dimensionless)", minimum=0.0, maximum=1e9,
                                    key="LAMBDA")
    order: int = setting(1, "Smoothness of", choices=SMOOTHNESS_ORDERS, advanced=True)
    robust: str = setting("reject", "Outlier pairs", choices=ROBUST_WEIGHTS)
    weighting: str = setting("auto", "Pair weights", choices=PAIR_WEIGHTINGS, advanced=True)
    min_pairs: int = setting(3, "Minimum valid pairs per pixel", minimum=1, maximum=10000, advanced=True)
    fill_gaps: bool = setting(False, "Fill steps no pair covers by interpolation (else no data)", advanced=True)
    backend: str = setting("auto", "Compute backend", choices=CORRELATION_BACKENDS, advanced=True)
    point: Optional[tuple] = setting(None, "Point for a time-series table", optional=True, widget="point",
                                     kind=tuple)


NUMBERS = dict(n_pairs="Pairs used", n_steps="Time steps", pixels_solved="Pixels solved",
               median_residual_rms="Median residual RMS of the pairs (m/yr)",
               median_lambda="Median regularisation (lambda) used")


def pair_items(paths, dates_text):
    """Pair items for open_pairs: paths, or (path, date1, date2) when the dates are given as text."""
    paths = list(paths or [])
    if not paths:
        raise InputError("No velocity pairs were selected.", "select the velocity rasters.")
    text = (dates_text or "").strip()
    if not text:
        return paths
    entries = [e.strip() for e in text.replace("\n", ";").split(";") if e.strip()]
    if len(entries) != len(paths):
        raise InputError(f"{len(entries)} date pairs were given for {len(paths)} input rasters.",
                         "give one 'YYYY-MM-DD,YYYY-MM-DD' per input, in the order of the inputs, or leave the "
                         "dates empty.")
    items = []
    for path, entry in zip(paths, entries):
        dates = [d.strip() for d in entry.replace("/", ",").split(",") if d.strip()]
        if len(dates) != 2:
            raise InputError(f"'{entry}' is not two dates.", "write 'YYYY-MM-DD,YYYY-MM-DD'.")
        items.append((path, dates[0], dates[1]))
    return items


def time_grid(settings, stack):
    """The time grid asked for (start/end dates), or None to let the core span all pairs."""
    import numpy as np

    from ..timeseries import TimeGrid, as_day

    if not (settings.start_date or settings.end_date):
        return None
    lo = as_day(settings.start_date) if settings.start_date else stack.date1.min()
    hi = as_day(settings.end_date) if settings.end_date else stack.date2.max()
    if settings.step_days:
        return TimeGrid.regular(lo, hi, settings.step_days)
    dates = np.concatenate([stack.date1, stack.date2])
    return TimeGrid.from_dates(np.concatenate([[lo, hi], dates[(dates >= lo) & (dates <= hi)]]))


def inversion_settings(s):
    from ..timeseries import InversionSettings

    return InversionSettings(regularisation="auto" if s.lambda_mode == "auto" else s.regularisation, order=s.order,
                             robust=s.robust, weighting=s.weighting, min_pairs=s.min_pairs, fill_gaps=s.fill_gaps,
                             backend=s.backend)


def run(inputs: Mapping, outputs: Mapping, settings: TimeSeriesSettings, feedback=None,
        threads: Optional[int] = None, window: Optional[tuple] = None) -> Result:
    """Invert the pairs ``inputs['input']`` into ``outputs['output']`` (vx, vy, speed per step, m/yr).

    ``window`` (col_off, row_off, width, height; px of the first pair's grid): only that block, for batch
    runners that split a large area into block tasks (``serac batch``); the outputs then cover the block.
    """
    from ..timeseries import PairStack, invert_stack, open_pairs, point_series
    from ..raster_io import display_range

    progress = Progress(core_feedback(feedback))
    s = settings
    out_path = str(require_input(outputs, "output", "time-series output"))
    diag_path = optional_output(outputs, "diagnostics")
    error_path = optional_output(outputs, "error")
    csv_path = optional_output(outputs, "point_csv")
    with thread_limits(threads):
        stack = PairStack(open_pairs(pair_items(inputs.get("input"), s.dates),
                                     units=None if s.units == "auto" else s.units))
        inv_settings = inversion_settings(s)
        result = invert_stack(stack, out_path, time_grid=time_grid(s, stack), step_days=s.step_days or None,
                              settings=inv_settings, diagnostics_path=diag_path, feedback=progress.sub(0.0, 0.95),
                              window=window, error_path=error_path)
        progress.info(result.describe())
        n = result.time_grid.n_steps
        speed_band = 2 * n + 1 if "speed" in result.components else 1
        report = {"time_grid_edges": [str(e) for e in result.time_grid.edges], "band_names": result.band_names,
                  "pairs_left_out": result.pairs_left_out, "weighting": result.weighting, "backend": result.backend,
                  "pixels_total": result.pixels_total}
        ranges = {"output": display_range(out_path, speed_band, stretch="from zero")}
        written = {"output": out_path}
        if error_path:
            written["error"] = error_path
            ranges["error"] = display_range(error_path, speed_band, stretch="from zero")
        if diag_path:
            written["diagnostics"] = diag_path
            ranges["diagnostics"] = display_range(diag_path, 1, stretch="from zero")
        if s.point is not None:
            x, y = s.point[:2]
            series = point_series(stack, x, y, time_grid=result.time_grid, settings=inv_settings)
            report["point"] = {"x": x, "y": y, "pixel": list(series.extra["pixel"]),
                               "regularisation": series.extra["regularisation"]}
            if csv_path:
                write_csv(csv_path, series)
                written["point_csv"] = csv_path
        elif csv_path:
            progress.warn("A CSV for the point series was asked for but no point was given; none written.")
    progress.update(1.0)
    report["display_ranges"] = {k: v for k, v in ranges.items() if v is not None}
    report["display_bands"] = {"output": speed_band, "diagnostics": 1, "error": speed_band}
    if "speed" in result.components:  # step k (edges[k] to edges[k + 1], end excluded) is band speed_band + k
        edges = report["time_grid_edges"]
        steps = [[edges[k], edges[k + 1], speed_band + k] for k in range(n)]
        report["time_steps"] = {"output": steps, "error": steps} if error_path else {"output": steps}
    numbers = {"n_pairs": result.n_pairs, "n_steps": n, "pixels_solved": result.pixels_solved,
               "median_residual_rms": result.median_residual_rms, "median_lambda": result.median_regularisation}
    return Result(written, numbers, report)


def write_csv(path, series):
    rows = series.records()
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


JOB = Job("velocity_timeseries", "Velocity time series (inversion of many pairs)", TimeSeriesSettings, run,
          {"input": Port("rasters", "Velocity pairs (rasters with vx and vy, or _vx/_vy files)")},
          {"output": Port("raster", "Velocity time series (vx, vy, speed per step; m/yr)", style="timeseries_speed"),
           "error": Port("raster", "Velocity error per step (1-sigma vx, vy, speed; m/yr)", optional=True,
                         style="timeseries_error"),
           "diagnostics": Port("raster", "Diagnostics (residual RMS, pairs used, lambda)", optional=True,
                               style="timeseries_residual", default_on=False),
           "point_csv": Port("file", "Time series at the point (CSV)", optional=True,
                             file_filter="CSV files (*.csv)")},
          NUMBERS)
