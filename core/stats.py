"""Robust statistics used across Serac (DEM residuals, velocity errors, ...).

All functions ignore NaN and return NaN (not an exception) when no finite
value is left, so callers decide whether that is an error.
"""

import numpy as np

#: Scale factor making the median absolute deviation a consistent estimator
#: of the standard deviation for normal data (Höhle & Höhle 2009).
NMAD_FACTOR = 1.4826


def finite_values(values, mask=None):
    """Flattened finite values of ``values`` (optionally where ``mask`` is True)."""
    values = np.asarray(values, dtype=np.float64)
    if mask is not None:
        values = values[np.asarray(mask, dtype=bool)]
    values = values.ravel()
    return values[np.isfinite(values)]


def nmad(values, mask=None):
    """Normalized median absolute deviation, 1.4826 * median(|x - median(x)|), in the units of ``values``."""
    v = finite_values(values, mask)
    if v.size == 0:
        return float("nan")
    return float(NMAD_FACTOR * np.median(np.abs(v - np.median(v))))


def robust_summary(values, mask=None):
    """Count, mean, median, NMAD, standard deviation, RMSE and 1/99 percentiles of finite values.

    Returns a dict of floats (count as int); units are those of ``values``.
    """
    v = finite_values(values, mask)
    if v.size == 0:
        nan = float("nan")
        return {"count": 0, "mean": nan, "median": nan, "nmad": nan, "std": nan,
                "rmse": nan, "p01": nan, "p99": nan}
    med = float(np.median(v))
    p01, p99 = np.percentile(v, [1, 99])
    return {
        "count": int(v.size),
        "mean": float(v.mean()),
        "median": med,
        "nmad": float(NMAD_FACTOR * np.median(np.abs(v - med))),
        "std": float(v.std()),
        "rmse": float(np.sqrt(np.mean(v * v))),
        "p01": float(p01),
        "p99": float(p99),
    }
