"""Elevation change rate (dh/dt, m/yr) from a series of co-registered DEMs, per pixel, block by block.

At each pixel with at least ``min_count`` valid elevations z_i at times t_i (decimal years):

* the rate b is the Theil-Sen estimator: the median of the pairwise slopes
  (z_j - z_i) / (t_j - t_i) (robust: with three DEMs one blunder cannot pull it; with n DEMs
  up to about 29 % of them), the intercept a the median of z_i - b (t_i - t_ref);
* its standard error combines the scatter about the line, sqrt(sum r_i^2 / (n - 2) /
  sum (t_i - t_mean)^2) (needs n >= 3), and, when the DEMs' own errors sigma_i (m, e.g.
  the stable-terrain NMAD after co-registration) are given, their propagation
  sqrt(sum (t_i - t_mean)^2 sigma_i^2) / sum (t_i - t_mean)^2: the larger of the two is
  reported (three DEMs leave one degree of freedom, too few to trust the scatter alone).

The DEMs are read onto one grid (the first DEM's by default; others are reprojected on the
fly) in blocks, so series of large DEMs fit in memory. A DEM that declares another vertical
datum than the first DEM is read on the first DEM's datum (:func:`~.pair_datum.match_datums`).
"""

import contextlib
import datetime as _dt
import itertools
import warnings

import numpy as np

from ..errors import InputError
from ..progress import as_progress
from ..raster_io import block_count, iter_blocks
from ..stats import robust_summary
from .output import DemOutput
from .pair_datum import match_datums
from .sources import DemSource

OUTPUTS = ("rate", "rate_error", "count", "elevation_at_reference")


def decimal_year(value):
    """A date (datetime.date/datetime, 'YYYY-MM-DD' text or a number) as a decimal year."""
    if isinstance(value, (int, float, np.floating, np.integer)):
        return float(value)
    if isinstance(value, str):
        try:
            value = _dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise InputError(f"Cannot read the date '{value}'.", "give dates as YYYY-MM-DD.") from None
    if isinstance(value, _dt.datetime):
        value = value.date()
    start = _dt.date(value.year, 1, 1)
    length = (_dt.date(value.year + 1, 1, 1) - start).days
    return value.year + (value - start).days / length


def rate_of_stack(stack, years, sigmas=None, min_count=3, reference_year=None):
    """Theil-Sen rate of a (n, rows, cols) stack of elevations (m) at ``years``; dict of 2-D float32 arrays.

    Keys: ``rate`` (m/yr), ``rate_error`` (m/yr, 1 sigma), ``count`` (valid DEMs),
    ``elevation_at_reference`` (m at ``reference_year``, default the mean of ``years``).
    """
    z = np.asarray(stack, dtype=np.float32)
    t = np.asarray(years, dtype=np.float64)
    n = t.size
    t_ref = float(np.mean(t)) if reference_year is None else float(reference_year)
    valid = np.isfinite(z)
    count = valid.sum(axis=0)
    slopes = np.full((n * (n - 1) // 2,) + z.shape[1:], np.nan, dtype=np.float32)
    for k, (i, j) in enumerate(itertools.combinations(range(n), 2)):
        if t[j] != t[i]:
            slopes[k] = (z[j] - z[i]) / np.float32(t[j] - t[i])
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels give NaN, as wanted
            rate = np.nanmedian(slopes, axis=0)
            intercept = np.nanmedian(z - rate[None] * (t - t_ref)[:, None, None].astype(np.float32), axis=0)
            tt = np.where(valid, (t - t_ref)[:, None, None], np.nan)
            t_mean = np.nanmean(tt, axis=0)
        ok = count >= max(2, int(min_count))
        sxx = np.nansum((tt - t_mean) ** 2, axis=0)
        resid = z - (intercept + rate * tt)
        scatter = np.sqrt(np.nansum(resid ** 2, axis=0) / np.maximum(count - 2, 1) / sxx)
        scatter[count < 3] = np.nan
        error = scatter
        if sigmas is not None:
            s = np.asarray(sigmas, dtype=np.float64)[:, None, None]
            propagated = np.sqrt(np.nansum(np.where(valid, (tt - t_mean) ** 2 * s ** 2, np.nan), axis=0)) / sxx
            error = np.fmax(scatter, propagated)
    rate = np.where(ok, rate, np.nan)
    return {"rate": rate.astype(np.float32), "rate_error": np.where(ok, error, np.nan).astype(np.float32),
            "count": count.astype(np.float32), "elevation_at_reference": np.where(ok, intercept, np.nan).astype(
                np.float32)}


def elevation_change_rate(dems, dates, sigmas=None, grid=None, min_count=3, block_size=512, out_paths=None,
                          cog=True, convert_datums=True, feedback=None):
    """dh/dt (m/yr) and its error from DEM paths (or :class:`~.sources.DemSource`) at ``dates``.

    ``sigmas``: optional per-DEM error (m); ``grid``: output grid (default the first DEM's);
    ``min_count``: fewer valid DEMs at a pixel gives NaN (2 allows a pair rate, whose error
    then needs ``sigmas``). ``out_paths``: {output name: path} for any of :data:`OUTPUTS`
    (written blockwise, atomically); without it the arrays are returned in a dict.
    ``convert_datums``: read every DEM on the first DEM's vertical datum when both declare one
    (False: heights as stored, with a warning where the datums differ).
    Returns (arrays or written paths, summary dict with the dates as decimal years, the median /
    NMAD of the rate and ``datums``: each later DEM's :class:`~.pair_datum.PairDatum` as a dict).
    """
    progress = as_progress(feedback)
    if len(dems) != len(dates):
        raise InputError(f"{len(dems)} DEMs but {len(dates)} dates.", "give one date per DEM.")
    if len(dems) < 2:
        raise InputError("An elevation change rate needs at least two DEMs.", "add DEMs of other dates.")
    if sigmas is not None and len(sigmas) != len(dems):
        raise InputError(f"{len(sigmas)} DEM errors for {len(dems)} DEMs.", "give one error (m) per DEM or none.")
    years = np.array([decimal_year(d) for d in dates])
    if np.ptp(years) <= 0:
        raise InputError("All DEMs have the same date.", "a rate needs DEMs of different dates.")
    sources = [DemSource.of(d, f"DEM {k + 1}") for k, d in enumerate(dems)]
    grid = grid or sources[0].grid
    pairs = []
    for k in range(1, len(sources)):
        sources[k].require_overlap(grid)
        sources[k], pair = match_datums(sources[0], sources[k], convert_datums, progress)
        pairs.append(pair.to_dict())
    out_paths = dict(out_paths or {})
    for name in out_paths:
        if name not in OUTPUTS:
            raise InputError(f"Unknown rate output '{name}'.", f"use any of {', '.join(OUTPUTS)}.")
    arrays = None if out_paths else {k: np.full(grid.shape, np.nan, dtype=np.float32) for k in OUTPUTS}
    sample = []
    total = block_count(grid.shape, block_size)
    with contextlib.ExitStack() as stack:
        writers = {k: stack.enter_context(DemOutput(p, grid, k, {"UNITS": "m/yr" if "rate" in k else "m"}, cog))
                   for k, p in out_paths.items()}
        for i, (window, _) in enumerate(iter_blocks(grid.shape, block_size)):
            block = np.stack([s.read(grid, window) for s in sources])
            out = rate_of_stack(block, years, sigmas, min_count)
            for k, w in writers.items():
                w.write(out[k], window)
            if arrays is not None:
                r0, c0 = int(window.row_off), int(window.col_off)
                for k in OUTPUTS:
                    arrays[k][r0:r0 + int(window.height), c0:c0 + int(window.width)] = out[k]
            v = out["rate"][::4, ::4]
            sample.append(v[np.isfinite(v)])
            progress.update((i + 1) / total)
    rates = np.concatenate(sample) if sample else np.empty(0)
    summary = {"years": years.tolist(), "datums": pairs, "rate_summary": robust_summary(rates)}
    return (out_paths if out_paths else arrays), summary
