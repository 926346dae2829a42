"""Least-squares straight lines, vectorized: one fit per pixel, per window or for a whole sample.

``fit_line(x, y, axis=0)`` fits ``y = intercept + slope * x`` along ``axis`` ignoring pairs
where either value is NaN, so the same function gives per-pixel fits of an image stack
(``x``, ``y`` of shape (N, rows, cols)) and one fit of flat samples. The sums are centred
(two passes) for numerical stability in float64.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class LineFit:
    """Result of :func:`fit_line` (arrays over the non-fitted axes, or floats).

    slope (y units per x unit), intercept (y units, at x = 0), slope_se (standard error of the
    slope, NaN with fewer than 3 points), rmse (root mean square residual, y units), r2
    (coefficient of determination), n (number of valid pairs).
    """

    slope: np.ndarray
    intercept: np.ndarray
    slope_se: np.ndarray
    rmse: np.ndarray
    r2: np.ndarray
    n: np.ndarray


def fit_line(x, y, axis=0, through_origin=False, min_count=2, min_spread=0.0):
    """Fit ``y = intercept + slope * x`` along ``axis``; see :class:`LineFit`.

    ``through_origin`` forces the intercept to 0. Fits with fewer than ``min_count`` valid
    pairs, or whose x standard deviation is below ``min_spread`` (x units; for
    ``through_origin`` the root mean square of x), are NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    valid = np.isfinite(x) & np.isfinite(y)
    n = valid.sum(axis=axis)
    xv = np.where(valid, x, 0.0)
    yv = np.where(valid, y, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if through_origin:
            mx = my = np.zeros(n.shape)
            xc, yc = xv, yv
        else:
            mx = xv.sum(axis=axis) / n
            my = yv.sum(axis=axis) / n
            xc = np.where(valid, x - np.expand_dims(mx, axis), 0.0)
            yc = np.where(valid, y - np.expand_dims(my, axis), 0.0)
        sxx = (xc * xc).sum(axis=axis)
        sxy = (xc * yc).sum(axis=axis)
        syy = (yc * yc).sum(axis=axis)
        slope = sxy / sxx
        intercept = my - slope * mx
        resid = np.where(valid, yc - np.expand_dims(slope, axis) * xc, 0.0)
        sse = (resid * resid).sum(axis=axis)
        dof = n - (1 if through_origin else 2)
        slope_se = np.where(dof > 0, np.sqrt(sse / np.maximum(dof, 1) / sxx), np.nan)
        rmse = np.sqrt(sse / n)
        r2 = 1.0 - sse / syy
        bad = (n < min_count) | ~(sxx > 0) | (np.sqrt(sxx / np.maximum(n, 1)) < min_spread)
    out = [np.where(bad, np.nan, v) for v in (slope, intercept, slope_se, rmse, r2)]
    if np.ndim(out[0]) == 0:
        return LineFit(*(float(v) for v in out), int(n))
    return LineFit(*out, n)


def fit_linear_model(design, target, weights=None):
    """(Weighted) least squares ``target ~ design @ coef``; returns (coef, coef_se, rmse, r2).

    ``design`` is (n, p) (include a column of ones for an intercept); ``weights`` (n,), optional,
    proportional to the inverse variance of each target. Standard errors from the weighted
    residual variance with n - p degrees of freedom; ``rmse`` and ``r2`` are unweighted.
    """
    design = np.asarray(design, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    w = np.ones(target.size) if weights is None else np.asarray(weights, dtype=np.float64)
    sw = np.sqrt(w / w.mean())
    coef, *_ = np.linalg.lstsq(design * sw[:, None], target * sw, rcond=None)
    resid = target - design @ coef
    n, p = design.shape
    wsse = float(((resid * sw) ** 2).sum())
    dof = max(n - p, 1)
    cov = np.linalg.pinv((design * sw[:, None]).T @ (design * sw[:, None])) * wsse / dof
    sse = float(resid @ resid)
    sst = float(((target - target.mean()) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else float("nan")
    return coef, np.sqrt(np.clip(np.diag(cov), 0, None)), float(np.sqrt(sse / n)), float(r2)
