"""Deramp: remove a polynomial trend (order 1-3 in x, y) of stable-terrain dh.

Tilts and bends of dh come from orientation errors of the DEM sources (e.g. ASTER
jitter, unmodelled tilt of a photogrammetric block). The polynomial is fitted to
stable dh by least squares with iterative rejection of points farther than
``clip`` NMAD from the fit (robust against residual outliers), and subtracted.

The rejection window is centred on the median residual, so on skewed errors (a blurred
or noisy DEM: ridges lowered, valleys filled) the points kept are not centred on the
mean and the constant term of the fit is biased (by tenths of a metre) where plain least
squares is not. The constant is therefore re-centred last on the mean residual of the
points within ``recentre_clip`` NMAD (a wide window: gross outliers, e.g. clouds or voids
filled with wrong values, still stay out), iterated with the window centred on that mean.
"""

import numpy as np

from ..errors import InputError
from ..stats import nmad
from .step import CoregStep
from .transform import Polynomial2D


def _recentre(residual, ok, spread, recentre_clip, iterations=3):
    """Mean of the finite ``residual`` within ``recentre_clip`` x ``spread`` of the current centre (m)."""
    centre = float(np.median(residual[ok]))
    for _ in range(iterations):
        near = ok & (np.abs(residual - centre) <= recentre_clip * max(spread, 1e-6))
        if not near.any():
            break
        centre = float(np.mean(residual[near]))
    return centre


def fit_polynomial(x, y, values, order, x0, y0, scale, clip=3.0, iterations=5, recentre_clip=5.0):
    """Robust least-squares :class:`Polynomial2D` of ``values`` (m) at x, y (m), constant re-centred on the
    mean residual within ``recentre_clip`` NMAD (see module docstring; None: no re-centring)."""
    template = Polynomial2D(order, float(x0), float(y0), float(scale))
    ok = np.isfinite(values)
    a_all = template.design(x, y)
    values = np.asarray(values, dtype=np.float64)
    keep = ok.copy()
    coef = np.zeros(a_all.shape[1])
    for _ in range(iterations):
        if keep.sum() < 10 * a_all.shape[1]:
            raise InputError(f"Too few stable pixels ({int(keep.sum())}) to fit an order-{order} ramp.",
                             "use a lower order or more stable terrain.")
        coef, *_ = np.linalg.lstsq(a_all[keep], values[keep], rcond=None)
        residual = values - a_all @ coef
        spread = nmad(residual[keep])
        new_keep = ok & (np.abs(residual - np.median(residual[keep])) <= clip * max(spread, 1e-6))
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    if recentre_clip is not None:
        residual = values - a_all @ coef
        coef = coef.copy()
        coef[0] += _recentre(residual, ok, nmad(residual[keep]), float(recentre_clip))
    return Polynomial2D(order, float(x0), float(y0), float(scale), tuple(float(c) for c in coef))


class Deramp(CoregStep):
    """Subtract a robust polynomial fit (order 1-3 in x, y) of stable dh."""

    name = "deramp"

    def __init__(self, order=1, clip=3.0, recentre_clip=5.0):
        if int(order) not in (1, 2, 3):
            raise InputError(f"Deramp order {order} is not supported.", "use 1 (plane), 2 or 3.")
        self.order = int(order)
        self.clip = float(clip)
        self.recentre_clip = None if recentre_clip is None else float(recentre_clip)

    def fit_step(self, sample, transform, progress):
        points = sample.fit_points
        dh = sample.dh(transform, points)
        left, bottom, right, top = sample.work_grid.bounds
        scale = max(right - left, top - bottom) / 2.0
        x, y = points.xy
        ramp = fit_polynomial(x, y, -dh, self.order, (left + right) / 2, (bottom + top) / 2,
                              scale, self.clip, recentre_clip=self.recentre_clip)
        transform = transform.with_ramp(ramp)
        corners_x = np.array([left, right, left, right, (left + right) / 2])
        corners_y = np.array([bottom, bottom, top, top, (bottom + top) / 2])
        at = ramp(corners_x, corners_y)
        progress.update(1.0)
        return transform, {"order": self.order, "ramp": ramp.to_dict(),
                           "correction_min_max_at_corners_m": [float(at.min()), float(at.max())],
                           "correction_at_centre_m": float(at[-1]),
                           "nmad_before_m": nmad(dh), "nmad_after_m": nmad(dh + ramp(x, y))}
