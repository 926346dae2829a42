"""Sub-pixel location of correlation peaks (batched, on an array backend).

Methods (``METHODS``):

* ``"none"`` — the integer peak.
* ``"parabolic"`` — a 1-D parabola through the peak and its two neighbours, per axis.
  Fast, but biased towards integer offsets ("pixel locking", e.g. Westerweel 1997,
  Meas. Sci. Technol. 8: 1379).
* ``"gaussian"`` — the same with a Gaussian (parabola of log values; Willert & Gharib
  1991); falls back to the parabola where values are not positive.
* ``"dft"`` (default) — Newton iterations on the ZNCC itself, evaluated off the
  integer grid. The numerator is the exact trigonometric interpolant of the
  correlation, evaluated from the cross-power spectrum by a matrix-multiply DFT on a
  3 x 3 stencil (the "upsampled DFT" idea of Guizar-Sicairos, Thurman & Fienup 2008,
  Opt. Lett. 33: 156, restricted to the points a Newton step needs); the window
  variance in the denominator varies slowly with the offset and is interpolated
  bi-quadratically from its integer-grid values. Starting from the 2-D quadratic
  through the integer 3 x 3 neighbourhood, each stage fits a quadratic (with cross
  term) to the 3 x 3 stencil of spacing ``h`` and moves to its maximum (at most
  ``2 h``); ``h`` shrinks fourfold whenever the maximum was bracketed by the stencil
  (``DFT_FIRST_STEP``; two steps for every point, up to ``DFT_MAX_ITERATIONS`` where the
  maximum was not bracketed twice), so the final quadratic-fit error is negligible and
  pixel locking disappears.

Positions are in px in the correlation surface; ``hood`` is the (N, 3, 3) surface
around the integer peak at (``row``, ``col``).
"""

import math

import numpy as np

from ..errors import InputError

METHODS = ("dft", "parabolic", "gaussian", "none")

#: Stencil spacing (px) of the first Newton step of the ``dft`` method; Newton steps made for every
#: point; further steps (up to the maximum) only for points whose maximum was not bracketed twice.
DFT_FIRST_STEP = 0.2
DFT_ITERATIONS = 2
DFT_MAX_ITERATIONS = 4


def _parabola(minus, centre, plus):
    curvature = minus - 2.0 * centre + plus
    safe = curvature < 0
    denom = curvature + (~safe) * 1.0
    return safe * ((minus - plus) / (2.0 * denom))


def parabolic(ops, hood):
    """(drow, dcol) of the parabola vertices through the 3 x 3 ``hood``, each clipped to ±0.5 px."""
    drow = _parabola(hood[:, 0, 1], hood[:, 1, 1], hood[:, 2, 1])
    dcol = _parabola(hood[:, 1, 0], hood[:, 1, 1], hood[:, 1, 2])
    return ops.clip(drow, -0.5, 0.5), ops.clip(dcol, -0.5, 0.5)


def gaussian(ops, hood):
    """(drow, dcol) of a Gaussian fit (parabola of the log) to the 3 x 3 ``hood``, clipped to ±0.5 px."""
    positive = ops.amax(ops.where(hood > 0, 0.0, 1.0).reshape(hood.shape[0], 9), 1) == 0
    logs = ops.log(ops.maximum(hood, 1e-6))
    g_row, g_col = parabolic(ops, logs)
    p_row, p_col = parabolic(ops, hood)
    return ops.where(positive, g_row, p_row), ops.where(positive, g_col, p_col)


def _lagrange3(ops, t):
    """Quadratic Lagrange weights for nodes -1, 0, 1 at positions ``t`` (...,) -> (..., 3)."""
    return ops.stack([0.5 * t * (t - 1.0), 1.0 - t * t, 0.5 * t * (t + 1.0)], axis=-1)


class SpectrumInterpolator:
    """Evaluates the ZNCC at arbitrary offsets from the cross-power spectrum of a batch."""

    def __init__(self, ops, spectrum, size, var_hood, energy, row0, col0, offset_hood=None):
        self.offset_hood = offset_hood
        self.ops = ops
        self.spectrum = spectrum
        self.size = size
        self.var_hood = var_hood
        self.energy = energy
        self.row0 = row0
        self.col0 = col0
        n = size
        ky = np.fft.fftfreq(n, 1.0 / n)
        kx = np.arange(n // 2 + 1, dtype=np.float64)
        weight = np.full(kx.shape, 2.0)
        weight[0] = 1.0
        if n % 2 == 0:
            weight[-1] = 1.0
        self.ky = ops.asarray(ky * (2.0 * math.pi / n))
        self.kx = ops.asarray(kx * (2.0 * math.pi / n))
        self.weight = ops.asarray(weight / (n * n))

    def subset(self, index):
        """The interpolator of the points ``index`` only."""
        sub = SpectrumInterpolator.__new__(SpectrumInterpolator)
        sub.__dict__.update(self.__dict__)
        for name in ("spectrum", "var_hood", "energy", "row0", "col0", "offset_hood"):
            if getattr(self, name) is not None:
                setattr(sub, name, getattr(self, name)[index])
        return sub

    def numerator(self, rows, cols):
        """Correlation numerator at rows (N, K) x cols (N, L) -> (N, K, L)."""
        ops = self.ops
        ey = ops.cexp(rows[:, :, None] * self.ky[None, None, :])
        ex = ops.cexp(cols[:, :, None] * self.kx[None, None, :]) * self.weight
        return ops.real((ey @ self.spectrum) @ ops.swap_last(ex))

    def _biquadratic(self, hood, rows, cols):
        """Values at rows (N, K) x cols (N, L), bi-quadratic from a 3 x 3 ``hood`` of integer-grid values."""
        ops = self.ops
        wr = _lagrange3(ops, rows - self.row0[:, None])
        wc = _lagrange3(ops, cols - self.col0[:, None])
        return (wr @ hood) @ ops.swap_last(wc)

    def variance(self, rows, cols):
        """Window variance at rows (N, K) x cols (N, L), bi-quadratic from the 3 x 3 integer values."""
        return self._biquadratic(self.var_hood, rows, cols)

    def ncc(self, rows, cols):
        ops = self.ops
        var = ops.maximum(self.variance(rows, cols), 1e-6)
        numerator = self.numerator(rows, cols)
        if self.offset_hood is not None:  # masked NCC: minus the product of the overlap sums
            numerator = numerator - self._biquadratic(self.offset_hood, rows, cols)
        return numerator / ops.sqrt(var * ops.maximum(self.energy, 1e-6)[:, None, None])


def quadratic_step(ops, f, h):
    """Step (drow, dcol) to the maximum of the quadratic through a 3 x 3 stencil ``f`` of spacing ``h``.

    Uses the full 2-D quadratic (with the cross term, so elongated, rotated peaks are
    handled); where the stencil is not concave, falls back to 1-D parabolas per axis,
    and to no step along an axis that is not concave either.
    """
    g_r = (f[:, 2, 1] - f[:, 0, 1]) / (2 * h)
    g_c = (f[:, 1, 2] - f[:, 1, 0]) / (2 * h)
    h_rr = (f[:, 2, 1] - 2 * f[:, 1, 1] + f[:, 0, 1]) / (h * h)
    h_cc = (f[:, 1, 2] - 2 * f[:, 1, 1] + f[:, 1, 0]) / (h * h)
    h_rc = (f[:, 2, 2] - f[:, 2, 0] - f[:, 0, 2] + f[:, 0, 0]) / (4 * h * h)
    det = h_rr * h_cc - h_rc * h_rc
    concave = (h_rr < 0) & (h_cc < 0) & (det > 0)
    safe_det = ops.where(concave, det, 1.0)
    safe_rr = ops.where(h_rr < 0, h_rr, -1.0)
    safe_cc = ops.where(h_cc < 0, h_cc, -1.0)
    d_r = ops.where(concave, -(h_cc * g_r - h_rc * g_c) / safe_det, ops.where(h_rr < 0, -g_r / safe_rr, 0.0))
    d_c = ops.where(concave, -(h_rr * g_c - h_rc * g_r) / safe_det, ops.where(h_cc < 0, -g_c / safe_cc, 0.0))
    return d_r, d_c


def newton_stage(ops, evaluate, row, col, h):
    """One trust-region Newton step on 3 x 3 stencils of spacing ``h`` (N,) px around (row, col).

    The step is at most ``2 h`` per axis. Returns the new (row, col), the next spacing
    (``h / 4`` where the step stayed within ``h``, i.e. the maximum was bracketed; ``h``
    again otherwise) and the value at the stencil centre.
    """
    steps = ops.asarray(np.array([-1.0, 0.0, 1.0]))
    offsets = h[:, None] * steps[None, :]
    f = evaluate(row[:, None] + offsets, col[:, None] + offsets)
    d_r, d_c = quadratic_step(ops, f, h)
    d_r = ops.clip(d_r / h, -2.0, 2.0) * h
    d_c = ops.clip(d_c / h, -2.0, 2.0) * h
    bracketed = (ops.abs(d_r) <= h) & (ops.abs(d_c) <= h)
    return row + d_r, col + d_c, ops.where(bracketed, h / 4.0, h), f[:, 1, 1]


def refine_peaks(ops, method, hood, row, col, spectrum=None, var_hood=None, energy=None, size=None,
                 first_step=DFT_FIRST_STEP, iterations=DFT_ITERATIONS, max_iterations=DFT_MAX_ITERATIONS,
                 offset_hood=None):
    """Sub-pixel (row, col, value-or-None) from integer peaks (``row``, ``col``) and their 3 x 3 ``hood``.

    ``offset_hood``: 3 x 3 values subtracted from the numerator (the masked NCC's mean term), or None.
    """
    if method not in METHODS:
        raise InputError(f"Unknown sub-pixel method '{method}'.", f"use one of {', '.join(METHODS)}.")
    row_f = row.to(hood.dtype) if hasattr(row, "to") else row.astype(np.float32)
    col_f = col.to(hood.dtype) if hasattr(col, "to") else col.astype(np.float32)
    if method == "none":
        return row_f, col_f, None
    if method == "gaussian":
        d_r, d_c = gaussian(ops, hood)
        return row_f + d_r, col_f + d_c, None
    if method == "parabolic":
        d_r, d_c = parabolic(ops, hood)
        return row_f + d_r, col_f + d_c, None
    # start: the 2-D quadratic through the integer 3 x 3 neighbourhood
    d_r, d_c = quadratic_step(ops, hood, 1.0)
    r, c = row_f + ops.clip(d_r, -0.5, 0.5), col_f + ops.clip(d_c, -0.5, 0.5)
    interp = SpectrumInterpolator(ops, spectrum, size, var_hood, energy, row_f, col_f, offset_hood)
    h = ops.full(r.shape, float(first_step))
    value = None
    for i in range(max_iterations):
        if i < iterations:
            r, c, h, value = newton_stage(ops, interp.ncc, r, c, h)
            continue
        # further steps only where the maximum has not been bracketed twice yet
        active = ops.nonzero(h > first_step / 15.0)
        if active.shape[0] == 0:
            break
        r[active], c[active], h[active], value[active] = newton_stage(
            ops, interp.subset(active).ncc, r[active], c[active], h[active])
    # keep the estimate within the integer peak's cell (beyond it the bi-quadratic variance is extrapolated)
    r = ops.clip(r, row_f - 1.0, row_f + 1.0)
    c = ops.clip(c, col_f - 1.0, col_f + 1.0)
    return r, c, value
