"""Time grid and design matrices of a velocity time-series inversion.

A velocity pair *i* is the mean velocity between its two acquisition dates
``date1_i < date2_i`` (its temporal baseline, days). The unknowns are the mean
velocities of the intervals of a :class:`TimeGrid`: in the inversion, the
intervals between consecutive acquisition dates (:func:`interval_grid`), whose
means are then averaged onto the output steps (:func:`resampling_matrix`).
Because a mean over an
interval is the duration-weighted average of the means over its parts, pair *i*
observes

    v_i = sum_j A_ij * u_j,   A_ij = overlap(pair i, interval j) / baseline_i   (days / days)

so each row of ``A`` holds the fraction of the pair's baseline that falls in each
interval and sums to 1. Long pairs spread over many intervals, short pairs pin
down one or two: this is how the temporal baseline of each pair enters the
inversion (the same construction as the SBAS design matrix of Berardino et al.,
2002, IEEE TGRS 40(11), written for mean velocities instead of phase).

Dates are handled at day resolution (``numpy.datetime64[D]``): the time of day
of an acquisition does not matter at the baselines glacier velocities use.
"""

import datetime as _dt
import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

DAYS_PER_YEAR = 365.25

_ISO = re.compile(r"^\s*(\d{4})-?(\d{2})-?(\d{2})")


def as_day(value):
    """A date as ``numpy.datetime64`` at day resolution.

    Accepts ``datetime.date``/``datetime``, ``numpy.datetime64``, and strings
    starting with ``YYYY-MM-DD`` or ``YYYYMMDD`` (a time part after them is ignored).
    """
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InputError("A date is missing (NaT).", "give every pair two valid dates.")
        return value.astype("datetime64[D]")
    if isinstance(value, _dt.datetime):
        return np.datetime64(value.date(), "D")
    if isinstance(value, _dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        m = _ISO.match(text)
        if m:
            try:
                return np.datetime64(_dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), "D")
            except ValueError:
                pass
        raise InputError(f"'{text}' is not a date.", "write dates as YYYY-MM-DD (or YYYYMMDD).")
    raise InputError(f"{value!r} is not a date.", "give dates as YYYY-MM-DD strings or datetime.date objects.")


def as_days(values):
    """An array of ``datetime64[D]`` from an iterable of dates (see :func:`as_day`)."""
    return np.array([as_day(v) for v in np.atleast_1d(np.asarray(values, dtype=object))], dtype="datetime64[D]")


def iso(day):
    """``YYYY-MM-DD`` of a day."""
    return str(np.datetime64(day, "D"))


def ordered_pairs(date1, date2):
    """Pair dates as two ``datetime64[D]`` arrays with ``date1 < date2`` element-wise.

    A pair given with its dates the other way round is swapped (a mean velocity
    over an interval does not depend on the order its ends are listed in). Raises
    :class:`InputError` for a pair whose two dates are the same day: its baseline
    is zero, so it holds no velocity.
    """
    d1, d2 = as_days(date1), as_days(date2)
    if d1.shape != d2.shape:
        raise InputError(f"{d1.size} first dates but {d2.size} second dates were given.",
                         "give two dates for every pair.")
    same = np.flatnonzero(d1 == d2)
    if same.size:
        raise InputError(
            f"{same.size} pair(s) have the same first and second date (e.g. pair {same[0] + 1} on {iso(d1[same[0]])}): "
            "a zero temporal baseline holds no velocity.",
            "check the pair dates (file names or DATE1/DATE2 tags) and remove such pairs.")
    return np.minimum(d1, d2), np.maximum(d1, d2)


def baselines_days(date1, date2):
    """Temporal baseline of each pair, days (positive)."""
    d1, d2 = ordered_pairs(date1, date2)
    return (d2 - d1).astype(np.float64)


@dataclass(frozen=True, eq=False)
class TimeGrid:
    """Consecutive time intervals [edges[k], edges[k+1]) whose mean velocities are estimated.

    ``edges`` is a strictly increasing ``datetime64[D]`` array of ``n_steps + 1`` dates.
    """

    edges: np.ndarray

    def __post_init__(self):
        edges = as_days(self.edges)
        if edges.size < 2:
            raise InputError("A time grid needs at least two dates (one interval).",
                             "give a longer period or a shorter time step.")
        if np.any(np.diff(edges).astype(np.int64) <= 0):
            raise InputError("The dates of a time grid must be strictly increasing.", "sort them and drop duplicates.")
        object.__setattr__(self, "edges", edges)

    @classmethod
    def regular(cls, start, end, step_days):
        """Steps of ``step_days`` days from ``start`` until ``end`` is covered (the last step may end after it)."""
        start, end = as_day(start), as_day(end)
        step = int(round(float(step_days)))
        if step < 1:
            raise InputError(f"A time step of {step_days} day(s) is too short.", "use a step of at least 1 day.")
        if end <= start:
            raise InputError(f"The period {iso(start)} to {iso(end)} is empty.",
                             "give an end date after the start date.")
        n = int(np.ceil((end - start).astype(np.int64) / step))
        return cls(start + np.arange(n + 1) * np.timedelta64(step, "D"))

    @classmethod
    def from_dates(cls, dates):
        """Intervals between consecutive distinct dates (e.g. the union of all acquisition dates)."""
        return cls(np.unique(as_days(dates)))

    @classmethod
    def for_pairs(cls, date1, date2, step_days=None):
        """The grid spanning all pairs: regular ``step_days`` steps, or (``None``/0) the acquisition dates."""
        d1, d2 = ordered_pairs(date1, date2)
        if not step_days:
            return cls.from_dates(np.concatenate([d1, d2]))
        return cls.regular(d1.min(), d2.max(), step_days)

    @property
    def n_steps(self):
        return self.edges.size - 1

    @property
    def starts(self):
        return self.edges[:-1]

    @property
    def ends(self):
        return self.edges[1:]

    @property
    def durations_days(self):
        """Length of each interval, days."""
        return np.diff(self.edges).astype(np.float64)

    @property
    def centres(self):
        """Centre date of each interval (rounded down to the day)."""
        return self.starts + (np.diff(self.edges).astype(np.int64) // 2).astype("timedelta64[D]")

    @property
    def labels(self):
        """``YYYY-MM-DD`` of each interval centre (used in band names)."""
        return [iso(c) for c in self.centres]

    def centres_years(self, origin=None):
        """Interval centres in decimal years since ``origin`` (default: the first edge), e.g. for plotting."""
        origin = self.edges[0] if origin is None else as_day(origin)
        mid = (self.starts - origin).astype(np.float64) + self.durations_days / 2
        return mid / DAYS_PER_YEAR

    def covers(self, date1, date2):
        """Boolean per pair: does the grid contain the whole pair?"""
        d1, d2 = ordered_pairs(date1, date2)
        return (d1 >= self.edges[0]) & (d2 <= self.edges[-1])

    def describe(self):
        d = self.durations_days
        steps = f"{d[0]:g}-day steps" if np.all(d == d[0]) else f"steps of {d.min():g}-{d.max():g} days"
        return f"{self.n_steps} {steps} from {iso(self.edges[0])} to {iso(self.edges[-1])}"


def overlap_days(date1, date2, grid):
    """(n_pairs, n_steps) days of each pair's interval falling in each grid interval."""
    d1, d2 = ordered_pairs(date1, date2)
    lo = np.maximum(d1[:, None], grid.starts[None, :])
    hi = np.minimum(d2[:, None], grid.ends[None, :])
    return np.clip((hi - lo).astype(np.float64), 0.0, None)


def design_matrix(date1, date2, grid):
    """(n_pairs, n_steps) fraction of each pair's baseline that falls in each grid interval.

    Rows sum to 1 for pairs inside the grid (check with :meth:`TimeGrid.covers`);
    a pair's mean velocity is the row times the vector of interval mean velocities.
    """
    return overlap_days(date1, date2, grid) / baselines_days(date1, date2)[:, None]


def difference_operator(grid, order=1):
    """Temporal derivative operator D ((n_steps - order), n_steps) of a time grid.

    ``order`` 1: changes between consecutive intervals; 2: changes of that change
    (curvature). Rows are divided by the spacing of interval centres relative to
    the mean spacing, so on a regular grid they are the plain differences
    ``[-1, 1]`` and ``[1, -2, 1]``, and on an irregular grid (acquisition dates)
    a given rate of change costs the same however the intervals are spaced.
    ``order`` 0 gives the identity (damping towards zero).
    """
    n = grid.n_steps
    if order not in (0, 1, 2):
        raise InputError(f"Regularisation order {order} is not supported.",
                         "use 0, 1 (first derivative) or 2 (second).")
    if order == 0:
        return np.eye(n)
    if n <= order:
        return np.zeros((0, n))
    mid = grid.starts.astype(np.float64) + grid.durations_days / 2
    spacing = np.diff(mid)
    rel = spacing / spacing.mean()
    first = np.zeros((n - 1, n))
    idx = np.arange(n - 1)
    first[idx, idx] = -1.0 / rel
    first[idx, idx + 1] = 1.0 / rel
    if order == 1:
        return first
    # second derivative: difference of consecutive first differences, over their mean relative spacing
    gap = (rel[:-1] + rel[1:]) / 2
    return (first[1:] - first[:-1]) / gap[:, None]


def interval_grid(date1, date2):
    """The elementary intervals between consecutive acquisition dates of the pairs (the unknowns of the inversion).

    Every pair is a whole number of these intervals, so a pair that sees a short event (a
    spring speed-up) is fitted by the velocities of its own intervals instead of being
    forced to agree with the mean of a longer output step (TICOI's formulation, Charrier
    et al. 2022).
    """
    d1, d2 = ordered_pairs(date1, date2)
    return TimeGrid.from_dates(np.concatenate([d1, d2]))


def resampling_matrix(fine, coarse):
    """(coarse.n_steps, fine.n_steps) interval-length weights: interval means of ``fine`` -> those of ``coarse``.

    Row k averages the fine intervals overlapping step k, each weighted by the days it
    shares with the step (the velocity is taken constant within a fine interval); steps
    only partly covered by ``fine`` average over the covered part; rows of steps ``fine``
    does not reach are zero.
    """
    lo = np.maximum(fine.starts[None, :], coarse.starts[:, None])
    hi = np.minimum(fine.ends[None, :], coarse.ends[:, None])
    days = np.clip((hi - lo).astype(np.float64), 0.0, None)
    total = days.sum(1, keepdims=True)
    return np.divide(days, total, out=np.zeros_like(days), where=total > 0)


def smoothness_operator(grid, order=1, reference_days=None):
    """Temporal derivative operator of a time grid whose squared norm approximates an integral over time.

    ``|D u|^2`` is ``reference_days^(2 order - 1) * integral (d^order u / dt^order)^2 dt``
    discretised on the interval centres: order 1 gives ``sum (u_{k+1} - u_k)^2 *
    reference_days / spacing_k``, so a change costs less when it happens over a longer
    spacing and the cost of a given rate of change does not depend on how finely
    the grid is cut (acquisition dates a few days apart or a month apart).
    On a regular grid of ``reference_days`` steps it is the plain difference operator.
    ``reference_days`` defaults to the mean spacing; order 0 damps towards zero
    (``sum u_k^2 * duration_k / reference_days``).
    """
    n = grid.n_steps
    if order not in (0, 1, 2):
        raise InputError(f"Regularisation order {order} is not supported.",
                         "use 0, 1 (first derivative) or 2 (second).")
    if order == 0:
        ref = float(reference_days or grid.durations_days.mean())
        return np.diag(np.sqrt(grid.durations_days / ref))
    if n <= order:
        return np.zeros((0, n))
    mid = grid.starts.astype(np.float64) + grid.durations_days / 2
    spacing = np.diff(mid)
    ref = float(reference_days or spacing.mean())
    idx = np.arange(n - 1)
    rate = np.zeros((n - 1, n))  # (u_{k+1} - u_k) / spacing_k * ref
    rate[idx, idx] = -ref / spacing
    rate[idx, idx + 1] = ref / spacing
    if order == 1:
        return rate * np.sqrt(spacing / ref)[:, None]
    gap = (spacing[:-1] + spacing[1:]) / 2
    return (rate[1:] - rate[:-1]) * (ref / gap * np.sqrt(gap / ref))[:, None]
