"""Nuth & Kääb (2011) horizontal + vertical co-registration.

Nuth, C. and Kääb, A. (2011). Co-registration and bias corrections of satellite
elevation data sets for quantifying glacier thickness change. The Cryosphere 5,
271-290, doi:10.5194/tc-5-271-2011.

If the DEM to align is the reference displaced by a horizontal vector of length a
towards azimuth b, then on a slope of angle alpha facing azimuth psi (aspect)

    dh / tan(alpha) = a cos(b - psi) + c            (eq. 3 of the paper)

with dh = DEM - reference. Writing a cos(b - psi) = a cos(b) cos(psi) + a sin(b) sin(psi)
makes the fit linear in (north = a cos b, east = a sin b, c). Here:

* dh is taken on stable terrain with the reference slope within the slope limits, its
  median is removed first (so a vertical offset does not leak into the fit through the
  1/tan(alpha) weighting), and dh/tan(alpha) is reduced to its median per aspect bin
  (robust against outliers and the heavy tails of 1/tan(alpha));
* the bin medians are fitted by weighted least squares (weight = points per bin, the
  inverse variance of a median), at the mean aspect of each bin;
* the DEM is moved by minus the displacement found, re-sampled (bilinear) and the fit
  repeated until a step is shorter than ``tolerance_m`` or ``max_iterations`` is reached;
* the vertical shift is then minus the median stable dh (all slopes) after the
  horizontal shift, rather than the paper's c * tan(mean slope): c mixes the vertical
  offset with the slope distribution, while the median of what is left is a direct
  and robust estimate of it.
"""

import math

import numpy as np

from ..errors import InputError
from ..stats import NMAD_FACTOR
from .select import median
from .step import CoregStep
from .vertical import robust_offset


class AspectBins:
    """Points grouped by aspect (degrees) into bins of ``width_deg``; bin medians of any per-point value."""

    def __init__(self, aspect_deg, width_deg=10.0):
        n = max(4, int(round(360.0 / float(width_deg))))
        index = (np.floor(np.asarray(aspect_deg, dtype=np.float64) / 360.0 * n).astype(np.int64) % n).astype(np.int16)
        self.order = np.argsort(index, kind="stable")  # radix sort for int16
        counts = np.bincount(index, minlength=n)
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        sums = np.bincount(index, weights=np.asarray(aspect_deg, dtype=np.float64), minlength=n)
        centres = (np.arange(n) + 0.5) * 360.0 / n
        self.angle = np.radians(np.where(counts > 0, sums / np.maximum(counts, 1), centres))

    def medians(self, values):
        """(median, count) of the finite ``values`` in each bin."""
        ordered = np.asarray(values)[self.order]
        finite = np.isfinite(ordered)
        all_finite = bool(finite.all())
        n = self.angle.size
        med = np.full(n, np.nan)
        cnt = np.zeros(n, dtype=np.int64)
        for b in range(n):
            v = ordered[self.starts[b]:self.starts[b + 1]]
            if not all_finite:
                v = v[finite[self.starts[b]:self.starts[b + 1]]]
            cnt[b] = v.size
            if v.size:
                med[b] = median(v)
        return med, cnt


def _nmad_of_copy(values):
    """:func:`~serac.core.stats.nmad` of finite float64 ``values`` that may be overwritten (no further copy)."""
    if values.size == 0:
        return float("nan")
    values -= median(values)
    np.abs(values, out=values)
    return float(NMAD_FACTOR * median(values))


def design(angles):
    """Rows [cos(psi), sin(psi), 1] of the linearized fit."""
    return np.stack([np.cos(angles), np.sin(angles), np.ones_like(angles)], axis=1)


def aspect_coverage(angles):
    """Smallest / largest singular value of the design matrix: 0 when aspects cannot separate a shift."""
    if angles.size < 3:
        return 0.0
    s = np.linalg.svd(design(angles), compute_uv=False)
    return float(s[-1] / s[0])


def fit_cosine(bins, values, min_bin_count=20):
    """Fit bin medians of ``values`` with north cos(psi) + east sin(psi) + c (weighted least squares).

    Returns (east, north, c, bins used) in the units of ``values``.
    """
    med, cnt = bins.medians(values)
    ok = (cnt >= min_bin_count) & np.isfinite(med)
    if aspect_coverage(bins.angle[ok]) < MIN_COVERAGE:
        return float("nan"), float("nan"), float("nan"), int(ok.sum())
    w = np.sqrt(cnt[ok].astype(np.float64))
    sol, *_ = np.linalg.lstsq(design(bins.angle[ok]) * w[:, None], med[ok] * w, rcond=None)
    north, east, c = sol
    return float(east), float(north), float(c), int(ok.sum())


#: Below this :func:`aspect_coverage` the terrain lacks the aspect variety the fit needs.
MIN_COVERAGE = 0.05


class NuthKaab(CoregStep):
    """Horizontal and vertical shift by Nuth & Kääb (2011), iterated (see module docstring).

    ``tolerance_m``: stop when the horizontal step is shorter (m); ``bin_width_deg``:
    aspect bin width (degrees); ``min_bin_count``: fewer points and a bin is ignored;
    ``min_points``: fewer sloping stable points and the terrain is deemed too flat.
    """

    name = "nuth_kaab"

    def __init__(self, max_iterations=10, tolerance_m=0.01, bin_width_deg=10.0, min_bin_count=20,
                 min_points=500):
        if int(max_iterations) < 1:
            raise InputError("Maximum iterations must be at least 1.", "set it to 1 or more (10 is typical).")
        if not tolerance_m > 0:
            raise InputError("The tolerance must be a positive length in m.", "use e.g. 0.01 m.")
        self.max_iterations = int(max_iterations)
        self.tolerance_m = float(tolerance_m)
        self.bin_width_deg = float(bin_width_deg)
        self.min_bin_count = int(min_bin_count)
        self.min_points = int(min_points)

    def _flat_terrain(self, sample, detail):
        lo_hi = " (slope limits {:g}-{:g} degrees)".format(*sample.slope_limits)
        raise InputError(f"The stable terrain is too flat for Nuth & Kääb: {detail}{lo_hi}. The horizontal shift "
                         "is only observable on slopes facing different directions.",
                         "lower the minimum slope, include more (sloping) stable terrain, or use the "
                         "vertical-shift-only method.")

    def fit_step(self, sample, transform, progress):
        points = sample.slope_points
        if len(points) < self.min_points:
            self._flat_terrain(sample, f"{len(points)} stable pixel(s) within the slope limits "
                                       f"(at least {self.min_points} needed)")
        tan_slope = np.tan(np.radians(points.extra["slope"].astype(np.float64)))
        bins = AspectBins(points.extra["aspect"], self.bin_width_deg)
        coverage = aspect_coverage(bins.angle[np.diff(bins.starts) >= self.min_bin_count])
        if coverage < MIN_COVERAGE:
            self._flat_terrain(sample, f"the sloping stable pixels face too few directions (coverage "
                                       f"{coverage:.3f} < {MIN_COVERAGE})")
        history = []
        converged = False
        for iteration in range(1, self.max_iterations + 1):
            dh = sample.dh(transform, points).astype(np.float64)
            finite = np.isfinite(dh)
            if finite.sum() < self.min_points:
                raise InputError("The shifted DEM no longer overlaps enough stable terrain "
                                 f"(iteration {iteration}, shift {transform.shift_x_m:.1f}, "
                                 f"{transform.shift_y_m:.1f} m).",
                                 "check that the DEMs show the same terrain; mask unstable areas.")
            dh -= median(dh[finite])
            east, north, c, used = fit_cosine(bins, dh / tan_slope, self.min_bin_count)
            if not (math.isfinite(east) and math.isfinite(north)):
                self._flat_terrain(sample, "too few aspect bins are populated")
            transform = transform.moved(dx=-east, dy=-north)
            step = math.hypot(east, north)
            history.append({"iteration": iteration, "step_x_m": -east, "step_y_m": -north, "step_m": step,
                            "shift_x_m": transform.shift_x_m, "shift_y_m": transform.shift_y_m,
                            "c": c, "bins": used, "nmad_before_step_m": _nmad_of_copy(dh[finite])})
            progress.update(iteration / self.max_iterations)
            if step < self.tolerance_m:
                converged = True
                break
        offset = robust_offset(sample.dh(transform, sample.fit_points))
        transform = transform.moved(dz=-offset)
        progress.update(1.0)
        return transform, {"iterations": len(history), "converged": converged,
                           "aspect_coverage": coverage, "points": len(points),
                           "shift_z_m": -offset, "history": history}
