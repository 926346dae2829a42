"""What benchmarks/bench_ticoi.py hands to TICOI and takes back from it (numpy only: it runs in TICOI's own venv too).

TICOI (Charrier et al. 2022, 2025; PyPI ``ticoi``) inverts one pixel at a time from the pairs valid there:
``[dates, values]`` with ``dates`` (n, 2) ``datetime64[D]`` (first, second acquisition) and ``values`` (n, 5):
displacement x, y (m over the pair), error x, y (unused here: no a-priori weights) and the temporal baseline
(days). Its velocities are ``displacement / baseline * unit`` with ``unit`` = 365 days for m/yr.
"""

import numpy as np

#: TICOI's days per year for m/yr (its ``unit``).
TICOI_UNIT = 365


def as_days(dates):
    """Dates (``datetime64`` or days since 1970-01-01) as int64 days since 1970-01-01."""
    dates = np.asarray(dates)
    if np.issubdtype(dates.dtype, np.datetime64):
        return dates.astype("datetime64[D]").astype(np.int64)
    return dates.astype(np.int64)


def pixel_observations(date1, date2, velocity, unit=TICOI_UNIT):
    """One pixel's pairs in TICOI's per-pixel input form, only the pairs valid at the pixel.

    ``date1``, ``date2``: (m,) pair dates; ``velocity``: (m, 2) vx, vy of the pairs (m/yr, NaN where missing).
    Returns ``[dates, values]`` (see the module docstring; displacements in m, baselines in days), with n = 0
    rows when no pair is valid.
    """
    d1, d2 = as_days(date1), as_days(date2)
    velocity = np.asarray(velocity, dtype=np.float64)
    valid = np.isfinite(velocity).all(axis=1)
    baseline = (d2 - d1)[valid].astype(np.float64)
    displacement = velocity[valid] * (baseline / unit)[:, None]
    dates = np.stack([d1[valid], d2[valid]], axis=1).astype("datetime64[D]")
    ones = np.ones_like(baseline)
    return [dates, np.column_stack([displacement, ones, ones, baseline])]


def mean_velocity(values, unit=TICOI_UNIT):
    """TICOI's initial guess for its 'LSMR_ini' solver: the pixel's mean pair velocity, [vx, vy] in m/day."""
    velocity = values[:, :2] / values[:, 4:5] * unit
    return [np.asarray(velocity[:, 0].mean() / unit), np.asarray(velocity[:, 1].mean() / unit)]


def equivalent_coef(baselines, step_days, spacing_days, regularisation):
    """TICOI's ``coef`` for regularisation '1' that weighs smoothness against misfit as Serac's lambda does.

    TICOI minimises ``sum_i (d_i - sum X)^2 + coef^2 sum_k (X_{k+1}/t_{k+1} - X_k/t_k)^2`` (displacements d, X in m,
    interval lengths t in days): in m/yr that is ``(1/unit^2) [sum_i b_i^2 r_i^2 + coef^2 sum_k (du_k)^2]``. Serac
    minimises ``sum_i (b_i^2 / median(b^2)) r_i^2 + lambda sum_k (du_k)^2 step / spacing_k`` (baseline weighting).
    Both are proportional when ``coef^2 = lambda median(b^2) step / spacing`` (exact for evenly spaced intervals;
    ``spacing_days`` is their mean spacing otherwise). ``baselines`` (days) are all the stack's pairs.
    """
    b = np.asarray(baselines, dtype=np.float64)
    return float(np.sqrt(regularisation * np.median(b**2) * step_days / spacing_days))


def on_steps(date1, date2, vx, vy, edges):
    """(n_steps, 2) vx, vy of the steps ``[edges[k], edges[k+1])`` found among TICOI's output windows (rows with
    exactly those dates; ``date1``, ``date2`` datetime64 or days, vx, vy m/yr); NaN for steps it does not give."""
    edges = as_days(edges)
    out = np.full((edges.size - 1, 2), np.nan)
    start, end = as_days(date1), as_days(date2)
    k = np.searchsorted(edges, start)
    hit = (k < edges.size - 1) & (edges[np.minimum(k, edges.size - 1)] == start)
    hit[hit] &= edges[k[hit] + 1] == end[hit]
    out[k[hit], 0] = np.asarray(vx, dtype=np.float64)[hit]
    out[k[hit], 1] = np.asarray(vy, dtype=np.float64)[hit]
    return out
