"""Synthetic velocity pair stacks with a known time series (tests, benchmarks, demonstrations).

A :class:`SeasonalSignal` scales a velocity field (e.g. a real vx/vy map) by a
factor that varies with time; the mean of that factor over any interval is
exact (closed form), so pairs of any baseline and the true interval means of a
:class:`~.design.TimeGrid` come from the same truth. Pair noise models
feature-tracking error: a constant displacement error (m) becomes a velocity
error of ``sigma_disp / baseline`` (m/yr).

:func:`naive_series` is the reference a time-series inversion has to beat: each
step is the plain mean of the pairs overlapping it.
"""

from dataclasses import dataclass

import numpy as np

from .design import DAYS_PER_YEAR, as_day, as_days, ordered_pairs, overlap_days

_EPOCH = np.datetime64("2000-01-01", "D")


def _days(dates):
    return (as_days(dates) - _EPOCH).astype(np.float64)


@dataclass(frozen=True)
class SeasonalSignal:
    """Velocity factor ``1 + trend * (t - origin) + amplitude * sin(2π (t - peak + P/4) / P)`` (years, P = 1 yr).

    ``peak_doy``: day of year of the maximum of the seasonal term; ``trend`` per year
    from ``origin``; a ``surge`` (factor, start, end) multiplies the factor inside a period.
    """

    amplitude: float = 0.3
    peak_doy: float = 180.0
    trend: float = 0.0
    surge: tuple = None
    origin: str = "2018-01-01"

    def _phase(self, t):
        return 2 * np.pi * (t - self.peak_doy + DAYS_PER_YEAR / 4) / DAYS_PER_YEAR

    def _integral(self, t):
        """Integral of the factor from day 0 to t (days since 2000-01-01), without the surge."""
        w = 2 * np.pi / DAYS_PER_YEAR
        t0 = _days([self.origin])[0]
        return t + self.trend * (t - t0) ** 2 / (2 * DAYS_PER_YEAR) - self.amplitude * np.cos(self._phase(t)) / w

    def mean(self, date1, date2):
        """Mean factor over each interval [date1, date2) (arrays of dates)."""
        d1, d2 = ordered_pairs(date1, date2)
        t1, t2 = _days(d1), _days(d2)
        out = (self._integral(t2) - self._integral(t1)) / (t2 - t1)
        if self.surge is not None:
            factor, start, end = self.surge
            s, e = _days([start])[0], _days([end])[0]
            lo, hi = np.maximum(t1, s), np.minimum(t2, e)
            # (factor - 1) times the integral of the base factor over the part of the interval inside the surge
            extra = np.where(hi > lo, self._integral(hi) - self._integral(np.minimum(lo, hi)), 0.0)
            out = out + (factor - 1) * extra / (t2 - t1)
        return out

    def grid_means(self, grid):
        """Mean factor over each interval of a time grid."""
        return self.mean(grid.starts, grid.ends)


def acquisition_dates(start, end, revisit_days, rng=None, jitter_days=0, drop_fraction=0.0):
    """Regular acquisition dates every ``revisit_days`` from ``start`` to ``end``, with optional gaps (clouds)."""
    start, end = as_day(start), as_day(end)
    n = int((end - start).astype(np.int64) // revisit_days) + 1
    dates = start + (np.arange(n) * revisit_days).astype("timedelta64[D]")
    rng = rng or np.random.default_rng(0)
    if jitter_days:
        dates = dates + rng.integers(-jitter_days, jitter_days + 1, n).astype("timedelta64[D]")
    if drop_fraction:
        dates = dates[rng.random(n) >= drop_fraction]
    return np.unique(dates)


def random_pairs(dates, n_pairs, min_baseline=5, max_baseline=365, rng=None):
    """``n_pairs`` distinct pairs of ``dates`` with baselines in [min_baseline, max_baseline] days.

    Baselines are drawn roughly log-uniformly, so short and long pairs are both common.
    Returns (date1, date2) arrays, sorted by date1.
    """
    rng = rng or np.random.default_rng(0)
    dates = np.unique(as_days(dates))
    i, j = np.triu_indices(dates.size, 1)
    gap = (dates[j] - dates[i]).astype(np.float64)
    ok = (gap >= min_baseline) & (gap <= max_baseline)
    i, j, gap = i[ok], j[ok], gap[ok]
    if i.size < n_pairs:
        raise ValueError(f"only {i.size} pairs with baselines in [{min_baseline}, {max_baseline}] days")
    # weight candidates so that log(baseline) is about uniform
    bins = np.digitize(np.log(gap), np.linspace(np.log(gap.min()), np.log(gap.max()) + 1e-9, 9))
    counts = np.bincount(bins)
    p = 1.0 / counts[bins]
    pick = rng.choice(i.size, n_pairs, replace=False, p=p / p.sum())
    order = np.lexsort((dates[j[pick]], dates[i[pick]]))
    return dates[i[pick]][order], dates[j[pick]][order]


def pair_stack(field, signal, date1, date2, sigma_disp=0.0, outlier_pairs=0, outlier_size=500.0,
               outlier_fraction=1.0, rng=None):
    """Pair velocities (m, c, rows, cols) of ``field`` (c, rows, cols) m/yr scaled by ``signal``.

    Noise: ``sigma_disp`` m of displacement error, i.e. ``sigma_disp / baseline * 365.25`` m/yr.
    ``outlier_pairs`` pairs get a blunder of ``outlier_size`` m/yr (random sign per
    component) on ``outlier_fraction`` of their pixels. Returns (stack, outlier index array).
    """
    rng = rng or np.random.default_rng(0)
    field = np.asarray(field, dtype=np.float64)
    d1, d2 = ordered_pairs(date1, date2)
    factor = signal.mean(d1, d2)
    stack = factor[:, None, None, None] * field[None]
    baseline = (d2 - d1).astype(np.float64)
    if sigma_disp:
        stack = stack + rng.normal(size=stack.shape) * (sigma_disp * DAYS_PER_YEAR / baseline)[:, None, None, None]
    bad = rng.choice(d1.size, outlier_pairs, replace=False) if outlier_pairs else np.array([], dtype=int)
    for k in bad:
        hit = rng.random(field.shape[1:]) < outlier_fraction
        sign = rng.choice([-1.0, 1.0], size=(field.shape[0], 1, 1))
        stack[k] = np.where(hit[None], stack[k] + sign * outlier_size, stack[k])
    return stack, bad


def naive_series(values, date1, date2, grid):
    """Plain mean of the pairs overlapping each step, ignoring baselines: (n_steps, ...) from (m, ...)."""
    overlaps = overlap_days(date1, date2, grid) > 0  # (m, n)
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    valid = np.isfinite(flat)
    total = overlaps.T.astype(np.float64) @ np.where(valid, flat, 0.0)
    count = overlaps.T.astype(np.float64) @ valid.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / count
    return out.reshape((grid.n_steps,) + values.shape[1:])


def write_pair_files(folder, stack, date1, date2, grid, units="m/yr", unit_metadata=True, separate_components=False,
                     prefix=""):
    """Write pair velocities (m, c, rows, cols) in m/yr as GeoTIFFs named by their dates; returns the paths.

    Values are converted to ``units`` ('m/yr', 'm/day', ...), written in the band
    ``units`` tags when ``unit_metadata``. With
    ``separate_components`` each component goes to its own ``..._vx.tif`` /
    ``..._vy.tif`` file (as GLAFT does), else one file with bands vx, vy.
    """
    import os

    from ..raster_io import write_raster
    from .io import unit_factor

    factor = unit_factor(units)
    d1, d2 = ordered_pairs(date1, date2)
    names = ("vx", "vy")[: stack.shape[1]]
    band_tags = {i + 1: {"units": units} for i in range(len(names))} if unit_metadata else {}
    paths = []
    for k in range(stack.shape[0]):
        stem = os.path.join(folder, f"{prefix}{str(d1[k]).replace('-', '')}-{str(d2[k]).replace('-', '')}")
        data = (np.asarray(stack[k]) / factor).astype(np.float32)
        if separate_components:
            for j, comp in enumerate(names):
                tags = {1: {"units": units}} if unit_metadata else {}
                write_raster(f"{stem}_{comp}.tif", data[j], grid, band_names=[comp], band_tags=tags, cog=False)
            paths.append(f"{stem}_vx.tif")
        else:
            write_raster(f"{stem}.tif", data, grid, band_names=list(names), band_tags=band_tags, cog=False)
            paths.append(f"{stem}.tif")
    return paths


def add_gaps(stack, fraction=0.2, rng=None):
    """Blank (NaN) a random rectangle of about ``fraction`` of the area in each pair, in place (clouds)."""
    rng = rng or np.random.default_rng(0)
    rows, cols = stack.shape[-2:]
    side = np.sqrt(fraction)
    h, w = max(1, int(rows * side)), max(1, int(cols * side))
    for k in range(stack.shape[0]):
        r, c = rng.integers(0, rows - h + 1), rng.integers(0, cols - w + 1)
        stack[k, ..., r:r + h, c:c + w] = np.nan
    return stack


@dataclass
class Scenario:
    """A synthetic pair stack over a velocity field: pairs (m, c, rows, cols) m/yr, dates, truth signal, blunders."""

    stack: np.ndarray
    date1: np.ndarray
    date2: np.ndarray
    signal: SeasonalSignal
    field: np.ndarray
    outliers: np.ndarray

    def truth(self, grid):
        """True interval velocities (n_steps, c, rows, cols) m/yr on a time grid."""
        return self.signal.grid_means(grid)[:, None, None, None] * self.field[None]


def field_scenario(field, n_pairs=40, start="2018-01-01", end="2019-12-31", revisit_days=8, drop_fraction=0.0,
                   min_baseline=16, max_baseline=365, signal=None, sigma_disp=3.0, outlier_pairs=0,
                   outlier_size=300.0, outlier_fraction=0.5, gap_fraction=0.0, seed=0):
    """Pairs of a real (or any) velocity field (c, rows, cols) m/yr scaled by a seasonal signal.

    Acquisitions every ``revisit_days`` (a ``drop_fraction`` of them lost to clouds),
    ``n_pairs`` pairs with baselines in [min_baseline, max_baseline] days,
    ``sigma_disp`` m displacement noise, ``outlier_pairs`` blunder pairs, and a
    cloud gap of ``gap_fraction`` of the area per pair.
    """
    rng = np.random.default_rng(seed)
    signal = signal or SeasonalSignal()
    dates = acquisition_dates(start, end, revisit_days, rng, drop_fraction=drop_fraction)
    d1, d2 = random_pairs(dates, n_pairs, min_baseline, max_baseline, rng)
    stack, bad = pair_stack(field, signal, d1, d2, sigma_disp=sigma_disp, outlier_pairs=outlier_pairs,
                            outlier_size=outlier_size, outlier_fraction=outlier_fraction, rng=rng)
    if gap_fraction:
        add_gaps(stack, gap_fraction, rng)
    return Scenario(stack, d1, d2, signal, np.asarray(field, dtype=np.float64), bad)


def short_pairs(dates, start, end, baselines=(8, 16)):
    """Pairs of acquisition ``dates`` with the given baselines (days) that lie within [start, end]: (date1, date2)."""
    dates = np.unique(as_days(dates))
    start, end = as_day(start), as_day(end)
    d1, d2 = [], []
    for a in dates[(dates >= start) & (dates <= end)]:
        for b in baselines:
            other = a + np.timedelta64(int(b), "D")
            if other <= end and other in dates:
                d1.append(a)
                d2.append(other)
    return np.array(d1, dtype="datetime64[D]"), np.array(d2, dtype="datetime64[D]")


def speedup_scenario(field, n_pairs=40, speedup=(1.5, "2018-05-16", "2018-06-09"), short_baselines=(8, 16),
                     start="2018-01-01", end="2019-12-31", revisit_days=8, sigma_disp=3.0, outlier_pairs=2,
                     outlier_size=300.0, outlier_fraction=0.5, seed=0):
    """A seasonal series with a short spring speed-up, seen by short pairs: a :class:`Scenario`.

    ``field`` (c, rows, cols) m/yr is scaled by a seasonal cycle (amplitude 0.3, peak at day
    200) times ``speedup`` = (factor, first day, last day). Besides ``n_pairs`` random
    pairs (16-365 day baselines) every pair of acquisitions ``short_baselines`` days
    apart within a revisit of the speed-up is added (these see the speed-up itself).
    ``Scenario.short`` marks them.
    """
    rng = np.random.default_rng(seed)
    signal = SeasonalSignal(amplitude=0.3, peak_doy=200, surge=tuple(speedup))
    dates = acquisition_dates(start, end, revisit_days, rng)
    r1, r2 = random_pairs(dates, n_pairs, 16, 365, rng)
    margin = np.timedelta64(int(revisit_days), "D")
    s1, s2 = short_pairs(dates, as_day(speedup[1]) - margin, as_day(speedup[2]) + margin, short_baselines)
    d1, d2 = np.concatenate([r1, s1]), np.concatenate([r2, s2])
    stack, bad = pair_stack(field, signal, d1, d2, sigma_disp=sigma_disp, outlier_pairs=outlier_pairs,
                            outlier_size=outlier_size, outlier_fraction=outlier_fraction, rng=rng)
    sc = Scenario(stack, d1, d2, signal, np.asarray(field, dtype=np.float64), bad)
    sc.short = np.arange(d1.size) >= r1.size
    return sc
