"""Per-pixel least-squares inversion of velocity pairs into a regular time series.

The unknowns are the mean velocities ``u`` (m/yr) of the *intervals between
consecutive acquisition dates* (:func:`.design.interval_grid`), as in TICOI
(Charrier et al., 2022, ISPRS Annals V-3-2022, 311-318, "Fusion of multi-temporal
and multi-sensor ice velocity observations"; Charrier et al., 2025, "TICOI: an
operational Python package to generate regular glacier velocity time series",
EGUsphere preprint): every pair is a whole number of them, so a short pair that
sees a short event (a spring speed-up) is fitted by its own intervals instead of
having to agree with the mean of a month-long output step (where it looked like
an outlier and was rejected). For each pixel, with ``A`` the design matrix of
:mod:`.design` on those intervals (fraction of each pair's baseline in each),
``y`` the pair velocities (m/yr), ``W`` the pair weights and ``D`` the temporal
derivative operator of :func:`.design.smoothness_operator`, ``u`` minimises

    sum_i W_i (y_i - (A u)_i)^2  +  lambda * |D u|^2

solved through the normal equations ``(A^T W A + lambda D^T D) u = A^T W y``;
the output steps are the interval-length weighted means ``R u``
(:func:`.design.resampling_matrix`). Pairs missing at a pixel (NaN) get weight 0
there; vx and vy share one system (two right-hand sides) and one set of weights.
Pixels with the same weights (the same valid pairs and pairs left out: most
pixels of a stack) have the same normal matrix: it is factorised once per such
*weight pattern* (:mod:`.patterns`: a generalised eigendecomposition serving every
candidate lambda; with a fixed lambda, :mod:`.direct`: a Cholesky factorisation at
each lambda needed, the same values to rounding), and each pixel only costs a few
small matrix-vector products; a pixel's values do not depend on the other pixels
of its batch.

Weights: ``W_i = 1 / sigma_i^2`` normalised to a median of 1 over the pairs, with
``sigma_i`` the pair's error (m/yr) when known, else ``sigma_i ∝ 1 / baseline_i``
(a constant displacement error of feature tracking becomes a velocity error
inversely proportional to the temporal baseline), or uniform. ``|D u|^2``
approximates the time integral of the squared rate of change in units of the
output step, so ``lambda`` is dimensionless and does not depend on how close the
acquisition dates are: a change of 1 m/yr from one output step to the next costs
as much as a misfit of 1 m/yr of a pair of median weight.

``lambda`` is fixed, or ('auto', the default) chosen for every pixel among
half-decade candidates (0.01-1000) by generalised cross-validation (Golub, Heath
& Wahba 1979, Technometrics 21(2), 215-223) with the robust weights of the
pixel; one generalised eigendecomposition per weight pattern gives the GCV score
of every candidate in closed form. The best lambda
depends on the ratio of the velocity changes to the noise, so slow ice and
stable ground (noise-dominated) get smoother series than fast ice; a single
lambda cannot suit both. Lambdas leaving fewer than ``MIN_DOF_FRACTION`` of the
pairs as residual degrees of freedom are not chosen (with more intervals than
pairs, near-interpolating fits make GCV meaningless).

Outlier pairs ('reject', the default) are left out when no smoothing level
explains them: each pair's residual is standardised by the pair's own error
(from its weight: a short pair's error is larger, as 1/baseline), by its exact
residual spread at that level (leverage: a pair nearly alone on its intervals is
fitted closely whatever its value and cannot be judged; a pair left out is
compared with the prediction of the others and comes back when it agrees) and by
the pixel's robust scale (median), at every candidate lambda up to the chosen one
(or ``SCREEN_REFERENCE``) that leaves enough degrees of freedom; a pair is left
out when its smallest standardised residual exceeds ``REJECT_Z`` (repeated until
the pairs left out settle, at most ``iterations`` times). A short pair that sees
a real short event is explained by the little-smoothed levels, where the other
short pairs over the event judge it, while a blunder stands out at every level
that can judge it; testing only at the chosen lambda (whose smoothing flattens
the event) made such pairs look like outliers on fast ice. 'tukey' and 'huber'
give continuous weights of the same standardised residuals (Tukey biweight,
c = 4.685, or Huber, k = 1.345; Holland & Welsch 1977): every pixel then has its
own weights, so its own factorisation (slower).

Each output step gets a 1-sigma error (m/yr): ``s^2 diag(R N^-1 R^T)`` with ``N``
the regularised normal matrix at the final weights and ``s^2`` the weighted
residual variance (the posterior covariance; it also counts what the smoothing
cannot resolve).
"""

from dataclasses import dataclass, field

import numpy as np

from ..backend import select_backend
from ..errors import InputError
from ..threads import blas_threads
from .design import (TimeGrid, baselines_days, design_matrix, interval_grid, iso, ordered_pairs, resampling_matrix,
                     smoothness_operator)
from .direct import PatternSystems, diagonals
from .patterns import PatternCache, Parts, apply, group_rows, layout, products

ROBUST_METHODS = ("reject", "tukey", "huber", "none")
WEIGHTINGS = ("auto", "error", "baseline", "uniform")
TUKEY_C = 4.685
HUBER_K = 1.345
#: Smallest robust scale of the weighted residuals (m/yr at median weight), so an exact fit does not flag noise.
MIN_SCALE = 1e-3
#: Lambdas among which 'auto' regularisation chooses per pixel (half-decade steps).
GCV_CANDIDATES = tuple(float(v) for v in np.logspace(-2, 3, 11))
#: Pairs whose residual spread when kept (0-1, see PairInversion._reweight) is smaller are not judged (robust pass).
MIN_SPREAD = 0.3
#: Smallest share of the (robust-weighted) pairs left as residual degrees of freedom by a lambda GCV may choose.
MIN_DOF_FRACTION = 0.2
#: 'reject': standardised residual norm beyond which a pair is left out, for c = 1, 2, 3 components (the norm of
#: c independent standard normal errors exceeds it with probability 1e-3).
REJECT_Z = {1: 3.2905, 2: 3.7169, 3: 4.0331}
#: Pairs are screened at every candidate lambda up to the chosen one or this one, whichever is larger (see
#: PairInversion._screen).
SCREEN_REFERENCE = 1.0
#: Median of |N(0, I_c)| for c = 1, 2, 3 components: turns a median residual norm into a standard deviation.
_MEDIAN_NORM = {1: 0.6744897501960817, 2: 1.1774100225154747, 3: 1.5381722544550522}


@dataclass(frozen=True)
class InversionSettings:
    """How pairs are combined. Units: m/yr for velocities, days for dates.

    * ``regularisation``: lambda (dimensionless, >= 0), weight of the temporal smoothness term,
      or 'auto': chosen for each pixel among ``gcv_candidates`` by generalised
      cross-validation (slow-moving pixels, where noise dominates, get smoother series
      than fast ones).
    * ``order``: derivative penalised: 1 (changes between steps), 2 (curvature), 0 (damping).
    * ``robust``: 'reject' (leave out pairs no smoothing level explains; fast), 'tukey', 'huber'
      (continuous weights; slower) or 'none' (plain weighted least squares).
    * ``iterations``: robust screening rounds (each pixel stops once its weights settle).
    * ``weighting``: 'auto' (pair errors if every pair has one, else 'baseline'), 'error',
      'baseline' (sigma ∝ 1/baseline) or 'uniform'.
    * ``min_pairs``: pixels with fewer valid pairs are left NaN.
    * ``fill_gaps``: keep the (regularised, interpolated) value of steps that no valid pair
      overlaps at a pixel; otherwise they are NaN. Needs ``regularisation`` > 0.
    * ``backend``: 'auto', 'numpy', 'torch-cpu' or 'torch-cuda'.
    * ``chunk_mb``: working memory per batch of pixels, MiB (plus up to a quarter of it for the weight
      patterns' factorisations kept between batches).
    * ``gcv_candidates``: the lambdas 'auto' chooses from.
    """

    regularisation: object = "auto"
    order: int = 1
    robust: str = "reject"
    iterations: int = 3
    weighting: str = "auto"
    min_pairs: int = 3
    fill_gaps: bool = False
    backend: str = "auto"
    chunk_mb: float = 96.0
    gcv_candidates: tuple = GCV_CANDIDATES

    def __post_init__(self):
        if isinstance(self.regularisation, str) and self.regularisation.lower() == "auto":
            object.__setattr__(self, "regularisation", "auto")
        else:
            try:
                value = float(self.regularisation)
            except (TypeError, ValueError):
                value = float("nan")
            if not (np.isfinite(value) and value >= 0):
                raise InputError(f"The regularisation {self.regularisation!r} is not a number >= 0 or 'auto'.",
                                 "use 'auto', 0 (none) or a positive value, e.g. 1.")
            object.__setattr__(self, "regularisation", value)
        if self.order not in (0, 1, 2):
            raise InputError(f"Regularisation order {self.order} is not supported.", "use 1 or 2 (or 0).")
        if self.robust not in ROBUST_METHODS:
            raise InputError(f"Unknown robust method '{self.robust}'.", f"use one of {', '.join(ROBUST_METHODS)}.")
        if self.weighting not in WEIGHTINGS:
            raise InputError(f"Unknown pair weighting '{self.weighting}'.", f"use one of {', '.join(WEIGHTINGS)}.")
        candidates = np.asarray(self.gcv_candidates, dtype=np.float64)
        if candidates.ndim != 1 or candidates.size < 1 or not np.all(np.isfinite(candidates) & (candidates > 0)):
            raise InputError("The GCV candidates must be positive numbers.", "give e.g. (0.1, 1, 10).")
        object.__setattr__(self, "gcv_candidates", tuple(float(c) for c in candidates))
        if int(self.iterations) < 0 or int(self.min_pairs) < 1:
            raise InputError("Iterations must be >= 0 and the minimum number of pairs >= 1.")


def pair_weights(baselines, errors=None, weighting="auto"):
    """Relative weight of each pair (median 1): 1/error^2, baseline^2 or 1.

    ``baselines`` in days, ``errors`` in m/yr (NaN/None where unknown). Returns
    (weights, method used).
    """
    baselines = np.asarray(baselines, dtype=np.float64)
    err = np.full(baselines.shape, np.nan) if errors is None else np.asarray(
        [np.nan if e is None else e for e in errors], dtype=np.float64)
    has_errors = bool(np.all(np.isfinite(err) & (err > 0)))
    method = weighting
    if weighting == "auto":
        method = "error" if has_errors else "baseline"
    if method == "error":
        if not has_errors:
            raise InputError("Error weighting needs a positive error (m/yr) for every pair.",
                             "give the pair errors or use baseline weighting.")
        w = 1.0 / err**2
    elif method == "baseline":
        w = baselines**2
    else:
        w = np.ones_like(baselines)
    return w / np.median(w), method


# -- array backends ---------------------------------------------------------------------------------------------------
class _NumpyOps:
    name = "numpy"
    device = "cpu"
    xp = np

    def asarray(self, a):
        return np.asarray(a, dtype=np.float64)

    def to_numpy(self, a):
        return np.asarray(a)

    def solve(self, N, B):
        return np.linalg.solve(N, B)

    def inv(self, N):
        return np.linalg.inv(N)

    def cholesky(self, N):
        return np.linalg.cholesky(N)

    def inv_lower(self, L):
        """Inverse of lower-triangular matrices (LAPACK trtri: a third of a general inverse)."""
        from scipy.linalg.lapack import dtrtri

        out = np.empty_like(L)
        for i, Lk in enumerate(L):
            out[i], info = dtrtri(Lk, lower=1)
            if info != 0:
                return np.linalg.inv(L)
        return out

    def inverse_spd(self, N):
        """Inverses of symmetric positive definite matrices, through their Cholesky factors (LAPACK potrf, potri)."""
        from scipy.linalg.lapack import dpotrf, dpotri

        work = np.array(N, dtype=np.float64, copy=True)
        out = np.empty_like(work)
        for i, Nk in enumerate(work):
            U, info = dpotrf(Nk.T, lower=0, overwrite_a=1)  # N^T = N in Fortran order, no copy: N = U^T U
            if info != 0:
                raise np.linalg.LinAlgError("Matrix is not positive definite")
            inverse, info = dpotri(U, lower=0, overwrite_c=1)  # its upper triangle (Fortran order)
            if info != 0:
                raise np.linalg.LinAlgError("Singular matrix")
            out[i] = inverse.T  # the lower triangle in C order
        return np.tril(out) + np.tril(out, -1).swapaxes(-1, -2)

    def eigh(self, S):
        return np.linalg.eigh(S)

    def take_rows(self, a, index):
        return a[np.arange(a.shape[0]), index]

    def sort(self, a):
        return np.sort(a, axis=-1)

    def take(self, a, index):
        return np.take_along_axis(a, index[:, None], axis=-1)[:, 0]

    def as_index(self, a):
        return np.asarray(a, dtype=np.int64)

    def contiguous(self, a):
        return np.ascontiguousarray(a)

    def zeros(self, shape):
        return np.zeros(shape)

    def concat(self, arrays):
        return np.concatenate(arrays)

    def stack(self, arrays):
        return np.stack(arrays)

    def copy(self, a):
        return np.array(a, copy=True)


class _TorchOps:
    name = "torch"

    def __init__(self, device):
        import torch

        self.xp = torch
        self.device = device
        self._device = torch.device(device)

    def asarray(self, a):
        return self.xp.as_tensor(np.asarray(a, dtype=np.float64), device=self._device)

    def to_numpy(self, a):
        return a.detach().cpu().numpy()

    def solve(self, N, B):
        L, info = self.xp.linalg.cholesky_ex(N)
        if bool((info != 0).any()):
            return self.xp.linalg.solve(N, B)
        return self.xp.cholesky_solve(B, L)

    def inv(self, N):
        L, info = self.xp.linalg.cholesky_ex(N)
        if bool((info != 0).any()):
            return self.xp.linalg.inv(N)
        return self.xp.cholesky_inverse(L)

    def cholesky(self, N):
        return self.xp.linalg.cholesky(N)

    def inv_lower(self, L):
        eye = self.xp.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand_as(L)
        return self.xp.linalg.solve_triangular(L, eye, upper=False)

    def inverse_spd(self, N):
        return self.xp.cholesky_inverse(self.cholesky(N))

    def eigh(self, S):
        return self.xp.linalg.eigh(S)

    def take_rows(self, a, index):
        return a[self.xp.arange(a.shape[0], device=a.device), index]

    def sort(self, a):
        return self.xp.sort(a, dim=-1).values

    def take(self, a, index):
        return self.xp.take_along_dim(a, index[:, None], dim=-1)[:, 0]

    def as_index(self, a):
        if isinstance(a, self.xp.Tensor):
            return a.to(device=self._device, dtype=self.xp.int64)
        return self.xp.as_tensor(np.asarray(a, dtype=np.int64), device=self._device)

    def contiguous(self, a):
        return a.contiguous()

    def zeros(self, shape):
        return self.xp.zeros(shape, dtype=self.xp.float64, device=self._device)

    def concat(self, arrays):
        return self.xp.cat(arrays)

    def stack(self, arrays):
        return self.xp.stack(arrays)

    def copy(self, a):
        return a.clone()


def array_ops(backend="auto"):
    """(ops, BackendChoice) for 'auto', 'numpy', 'torch-cpu' or 'torch-cuda'."""
    choice = select_backend(backend, supported=("numpy", "torch-cpu", "torch-cuda"), cpu_default="numpy")
    return (_NumpyOps() if choice.name == "numpy" else _TorchOps(choice.device)), choice


# -- solution of a batch of pixels ------------------------------------------------------------------------------------
@dataclass
class BatchSolution:
    """Result for P pixels, m pairs, n steps, c components (numpy arrays, m/yr).

    ``velocity`` (P, n, c) NaN where not estimated; ``residuals`` (P, m, c) pair
    minus model, NaN for missing pairs; ``weights`` (P, m) final robust weights
    (0-1, 0 for missing or rejected pairs); ``residual_rms`` (P,) RMS of the
    residual over pairs (robust-weighted) and components; ``step_rms`` (P, n) the
    same over the pairs overlapping each step (weighted by overlap); ``coverage``
    (P, n) sum of baseline fractions of the valid pairs in each step;
    ``pairs_used`` (P,) valid pairs; ``regularisation`` (P,) the lambda used;
    ``solved`` (P,) bool; ``error`` (P, n, c) 1-sigma error of ``velocity`` (m/yr, see
    :meth:`PairInversion._step_errors`).
    """

    velocity: np.ndarray
    residuals: np.ndarray
    weights: np.ndarray
    residual_rms: np.ndarray
    step_rms: np.ndarray
    coverage: np.ndarray
    pairs_used: np.ndarray
    regularisation: np.ndarray
    solved: np.ndarray
    error: np.ndarray = None


class PairInversion:
    """The inversion of a fixed set of pairs onto a :class:`TimeGrid`.

    ``date1``/``date2`` are the pair dates; ``errors`` their errors (m/yr, NaN or
    None where unknown). The unknowns are the mean velocities of the intervals between
    consecutive acquisition dates (``intervals``, default: from the pair dates; every
    pair must start and end on its edges), resampled to the steps of ``grid`` by
    interval-length weighted means (:func:`~.design.resampling_matrix`). Every pair must
    lie inside ``grid`` (see :func:`prepare_grid`).
    :meth:`solve` takes pair velocities of any number of pixels.
    """

    def __init__(self, date1, date2, grid, settings=None, errors=None, intervals=None):
        self.settings = settings or InversionSettings()
        self.date1, self.date2 = ordered_pairs(date1, date2)
        self.grid = grid
        inside = grid.covers(self.date1, self.date2)
        if not inside.all():
            raise InputError(f"{int((~inside).sum())} pair(s) extend beyond the time grid "
                             f"{iso(grid.edges[0])} to {iso(grid.edges[-1])}.",
                             "use a time grid that spans all pairs, or leave the pairs out.")
        self.baselines = baselines_days(self.date1, self.date2)
        self.A = design_matrix(self.date1, self.date2, grid)  # pairs on the output steps (coverage, step RMS)
        # the unknowns: intervals between acquisition dates (``intervals``: a finer grid of them, e.g. another set's)
        self.intervals = interval_grid(self.date1, self.date2) if intervals is None else intervals
        self.A_intervals = design_matrix(self.date1, self.date2, self.intervals)
        self.R = resampling_matrix(self.intervals, grid)  # interval means -> output step means
        self.base_weights, self.weighting = pair_weights(self.baselines, errors, self.settings.weighting)
        D = smoothness_operator(self.intervals, self.settings.order, float(grid.durations_days.mean()))
        self.DtD = D.T @ D
        self.auto_regularisation = self.settings.regularisation == "auto"
        self.ops, self.backend = array_ops(self.settings.backend)
        n = self.n_unknowns
        Ae = self.A_intervals
        self._A = self.ops.asarray(Ae)
        self._AT = self.ops.asarray(np.ascontiguousarray(Ae.T))
        self._DtD = self.ops.asarray(self.DtD)
        self._R = self.ops.asarray(self.R)
        self._DT = self.ops.asarray(np.ascontiguousarray(D.T))  # for PatternSystems
        bands = diagonals(D)
        self._diagonals = None if bands is None else [(o, self.ops.asarray(v)) for o, v in bands]
        self._A_steps = self.ops.asarray(self.A)
        self._diag = self.ops.as_index(np.arange(n))
        self._base = self.ops.asarray(self.base_weights)
        self._sqrt_base = self.ops.asarray(np.sqrt(self.base_weights))
        # factorisations of the weight patterns met so far, reused by later chunks and blocks (a quarter of chunk_mb)
        self._patterns = PatternCache(self.settings.chunk_mb * 2**20 / 4)
        self._systems = Parts(self.settings.chunk_mb * 2**20 / 4)  # with a fixed lambda: their Cholesky solutions

    @property
    def n_pairs(self):
        return self.A.shape[0]

    @property
    def n_steps(self):
        """Output steps (of ``grid``)."""
        return self.A.shape[1]

    @property
    def n_unknowns(self):
        """Intervals between consecutive acquisition dates (the unknowns)."""
        return self.A_intervals.shape[1]

    def describe_regularisation(self):
        st = self.settings
        kind = {0: "values", 1: "first derivative", 2: "second derivative"}[st.order]
        where = f"on {self.n_unknowns} intervals between acquisition dates"
        if self.auto_regularisation:
            c = st.gcv_candidates
            return f"{kind} {where}, lambda per pixel by GCV in [{min(c):g}, {max(c):g}]"
        return f"{kind} {where}, lambda {st.regularisation:g}"

    def chunk_pixels(self, n_components):
        """Pixels solved together so that their working arrays stay within half of ``settings.chunk_mb``.

        The other half is for the factorisations of their weight patterns (``_max_patterns`` at a time), or
        for the Cholesky factorisations of their weight patterns with a fixed lambda (``_max_direct`` at a time).
        """
        n, m, k, c = self.n_unknowns, self.n_pairs, self.n_steps, n_components
        K = len(self._lambdas()[0])
        per_pixel = 8 * (K * (n * c + 3 * m * c + 8 * m + n + 4) + 4 * m * c + 4 * n * c + 2 * k)
        per_pattern = 8 * (8 * n * n + 2 * m * n + K * (3 * n + k + 2 * m))
        per_system = 8 * (4 * n * n + n * (2 * m + k + n) + 2 * K * m + 2 * n * c)
        budget = self.settings.chunk_mb * 2**20 / 2
        self._max_patterns = max(16, int(budget // per_pattern))
        self._max_direct = max(16, int(budget // per_system))
        return max(256, int(budget // per_pixel))

    # -- building blocks ----------------------------------------------------------------------------------------------
    def _chunk_arrays(self, obs, valid):
        """Backend pair velocities y (P, m, c) of a chunk, zero where missing."""
        return self.ops.asarray(np.where(valid[:, :, None], obs, 0.0))

    def _lambdas(self):
        """(lambdas factorised per pattern, index of the fixed lambda or None for 'auto').

        'auto': the candidates, ascending. A fixed lambda: the candidates the screening may use
        (those up to it or ``SCREEN_REFERENCE``, ascending; none without screening) other than
        itself, then the fixed lambda (last).
        """
        st = self.settings
        lams = sorted(st.gcv_candidates)
        if self.auto_regularisation:
            return np.asarray(lams, dtype=np.float64), None
        lam = st.regularisation
        screened = st.robust != "none" and int(st.iterations) > 0
        levels = [v for v in lams if screened and v <= max(lam, SCREEN_REFERENCE) and v != lam]
        return np.asarray(levels + [lam], dtype=np.float64), len(levels)

    def _fit(self, y, rw, valid, screen=True):
        """Solutions of P pixels with robust weights ``rw`` (P, m) (numpy, 0 for pairs left out or missing).

        Pixels with the same weight row share one :class:`~.patterns.WeightPatterns` factorisation
        over the candidate lambdas (at most ``self._max_patterns`` at a time). 'auto' takes for each
        pixel the candidate minimising GCV, among those leaving at least ``MIN_DOF_FRACTION`` of
        the pairs as residual degrees of freedom. With a fixed lambda (> 0), each pattern's system is
        instead factorised by Cholesky at each lambda needed (:meth:`_fit_direct`: the same values),
        where few are: without screening, or with 'reject' (only the suspects' patterns are screened
        at every level). Returns a dict of backend arrays: ``x`` (P, n, c) interval velocities,
        ``best`` (P,) index of the lambda, ``posterior`` (P, k), ``rss`` (P, c), ``dof`` (P,) (see
        :meth:`_step_errors`), and with ``screen`` ``z`` (P, m) each pair's standardised residual
        (:meth:`_screen`).
        """
        lams, fixed = self._lambdas()
        # continuous robust weights screen every pixel at every level: an eigendecomposition serves them all
        if fixed is not None and lams[fixed] > 0 and (not screen or self.settings.robust == "reject"):
            return self._fit_direct(y, rw, valid, screen)
        return self._fit_patterns(y, rw, valid, screen)

    def _fit_parts(self, y, rw, valid, screen, parts):
        """:meth:`_fit` by parts: ``parts`` a list of (pixel indices, fit method), every pixel in one part."""
        ops = self.ops
        fits = [fit(y[ops.as_index(px)], rw[px], valid[px], screen) for px, fit in parts]
        back = ops.as_index(np.argsort(np.concatenate([px for px, _ in parts])))
        return {key: ops.concat([part[key] for part in fits])[back] for key in fits[0]}

    def _fit_patterns(self, y, rw, valid, screen=True):
        """:meth:`_fit` through the weight patterns' eigendecompositions (:mod:`.patterns`)."""
        ops, xp = self.ops, self.ops.xp
        rows, inverse, order, starts = group_rows(rw)
        if rows.shape[0] > self._max_patterns:  # a few patterns at a time (memory); each pixel is on its own anyway
            step = self._max_patterns
            return self._fit_parts(y, rw, valid, screen, [
                (order[starts[first]:starts[min(first + step, rows.shape[0])]], self._fit)
                for first in range(0, rows.shape[0], step)])
        lams, fixed = self._lambdas()
        m_eff = rows.sum(1)
        pat = self._patterns.patterns(self, rows, ops.asarray(lams))
        g, o = ops.as_index(inverse), ops.as_index(order)
        w = ops.asarray(rw * self.base_weights[None])
        wy = w[:, :, None] * y
        C = apply(ops, pat.Vt, o, starts, xp.matmul(self._AT, wy))  # (P, n, c)
        C2 = C * C
        yWy = (wy * y).sum(1)  # (P, c)
        dof = pat.dof[g]  # (P, K)
        m_px = ops.asarray(m_eff[inverse])
        too_few = self._too_few(dof, m_px)
        if fixed is None:  # GCV of every candidate: m rss / dof^2
            rss = yWy.sum(-1)[:, None] - xp.matmul(pat.fit[g], C2.sum(-1)[:, :, None])[..., 0]  # (P, K)
            score = m_px[:, None] * xp.clip(rss, 0.0, None) / xp.clip(dof, 1e-6, None) ** 2
            score = xp.where(too_few, xp.full_like(score, float("inf")), score)
            top = len(lams) - 1  # else the smoothest
            score[:, top] = xp.where(too_few.all(1), xp.zeros_like(score[:, top]), score[:, top])
            best = xp.argmin(score, 1)
        else:
            best = ops.as_index(np.full(rw.shape[0], fixed, dtype=np.int64))
        x = apply(ops, pat.V, o, starts, C / pat.d[g, best][:, :, None])
        rss_c = xp.clip(yWy - (C2 * pat.fit[g, best][:, :, None]).sum(1), 0.0, None)
        out = {"x": x, "best": best, "posterior": pat.posterior[g, :, best], "rss": rss_c,
               "dof": xp.clip(pat.dof[g, best], 1e-6, None)}
        if screen:
            terms = self._pattern_terms(y, C, pat, g, inverse, o, starts, too_few)
            out["z"] = self._screen(terms, rw, valid, best, lams, fixed, too_few)
        return out

    def _fit_direct(self, y, rw, valid, screen=True):
        """:meth:`_fit` by Cholesky factorisations per weight pattern at the lambdas needed (fixed lambda;
        :mod:`.direct`)."""
        ops, xp = self.ops, self.ops.xp
        m = rw.shape[1]
        rows, inverse, order, starts = group_rows(np.concatenate([rw, valid], 1))  # the valid pairs: the parents
        if rows.shape[0] > self._max_direct:  # memory: n x n matrices per pattern; each pixel is on its own anyway
            step = self._max_direct
            return self._fit_parts(y, rw, valid, screen, [
                (order[starts[first]:starts[min(first + step, rows.shape[0])]], self._fit_direct)
                for first in range(0, rows.shape[0], step)])
        lams, fixed = self._lambdas()
        systems = PatternSystems(self, rows[:, :m], rows[:, m:], lams, self._systems, leverage=screen)
        g = ops.as_index(inverse)
        w = ops.asarray(rw * self.base_weights[None])
        rhs = products(xp, self._AT, w[:, :, None] * y)  # (P, n, c)
        at = systems.level(fixed)
        x = systems.solve(at, inverse, rhs)
        res = y - products(xp, self._A, x)
        # the weighted residual squares plus the ridge's share (as the eigendecompositions' yWy - sum fit C^2)
        rss = (w[:, :, None] * res * res).sum(1) + systems.ridge[g][:, None] * (x * x).sum(1)
        best = ops.as_index(np.full(rw.shape[0], fixed, dtype=np.int64))
        out = {"x": x, "best": best, "posterior": at["posterior"][g], "rss": rss,
               "dof": xp.clip(at["dof"][g], 1e-6, None)}
        if screen:
            out["z"] = self._screen(self._direct_terms(y, rhs, res, systems, inverse), rw, valid, best, lams, fixed)
        return out

    def _too_few(self, dof, m_eff):
        """Levels (P, L) leaving too few residual degrees of freedom ``dof`` (P, L) for ``m_eff`` (P,) pairs: near-
        interpolating fits (more intervals than pairs) make GCV and the screening meaningless."""
        return dof < self.ops.xp.clip(MIN_DOF_FRACTION * m_eff, 1.0, None)[:, None]

    def _residual_norm(self, res):
        """Norm over the components (last axis) of pair residuals (P, m, ..., c), relative to each pair's error."""
        norm = self.ops.xp.sqrt((res * res).sum(-1))
        return norm * self._sqrt_base.reshape((1, -1) + (1,) * (norm.ndim - 2))

    def _pattern_terms(self, y, C, pat, g, inverse, order, starts, too_few):
        """The screening terms of pixels through their weight patterns: ``terms(sel, index)`` for :meth:`_screen`."""
        ops = self.ops

        def terms(sel, index):
            if sel is None:
                y_s, C_s, g_s, o, st, few = y, C, g, order, starts, too_few
            else:
                s = ops.as_index(sel)
                sub_order, st = layout(inverse[sel], pat.d.shape[0])
                y_s, C_s, g_s, o, few = y[s], C[s], g[s], ops.as_index(sub_order), too_few[s]
            P, m, c = y_s.shape
            L = index.shape[1]
            levels = ops.to_numpy(index[0])
            if bool((index == index[:1]).all()):  # the same levels in every row: gather whole rows of patterns
                cols = ops.as_index(levels)
                d = pat.d[:, cols].swapaxes(1, 2)[g_s]  # (P, n, L)
                lev1, lev2 = pat.lev1[:, :, cols][g_s], pat.lev2[:, :, cols][g_s]  # (P, m, L)
                few = few[:, cols]
            else:
                gi = g_s[:, None]
                d = pat.d[gi, index].swapaxes(1, 2)
                lev1 = pat.lev1[gi, :, index].swapaxes(1, 2)
                lev2 = pat.lev2[gi, :, index].swapaxes(1, 2)
                few = few[ops.as_index(np.arange(P))[:, None], index]
            coef = (C_s[:, :, None, :] / d[:, :, :, None]).reshape(P, -1, L * c)  # (P, n, L c)
            res = y_s[:, :, None, :] - apply(ops, pat.AV, o, st, coef).reshape(P, m, L, c)
            return self._residual_norm(res), lev1, lev2, few

        return terms

    def _direct_terms(self, y, rhs, res, systems, inverse):
        """The screening terms of pixels solved by pattern (:class:`~.direct.PatternSystems`; ``rhs`` (P, n, c)
        their right-hand sides, ``res`` (P, m, c) their residuals at the fixed lambda, ``inverse`` (P,) their
        patterns): ``terms(sel, index)`` for :meth:`_screen`, with the same levels in every row of ``index``.
        Levels other than the fixed one are solved only for the patterns of pixels ``sel``."""
        ops, xp = self.ops, self.ops.xp
        fixed = self._lambdas()[1]

        def terms(sel, index):
            if sel is None:
                groups, local, y_s, rhs_s = None, inverse, y, rhs
            else:
                groups, local = np.unique(inverse[sel], return_inverse=True)
                s = ops.as_index(sel)
                y_s, rhs_s = y[s], rhs[s]
            g = ops.as_index(local)
            parts = {"norm": [], "lev1": [], "lev2": [], "dof": []}
            for j in ops.to_numpy(index[0]):
                at = systems.level(int(j), groups)
                if sel is None and int(j) == fixed:
                    r = res
                else:
                    r = y_s - products(xp, self._A, systems.solve(at, local, rhs_s))
                parts["norm"].append(self._residual_norm(r))
                for key in ("lev1", "lev2", "dof"):
                    parts[key].append(at[key][g])
            norm, lev1, lev2, dof = (xp.stack(parts[key], -1) for key in ("norm", "lev1", "lev2", "dof"))
            m_eff = systems.m_eff[g] if sel is None else systems.m_eff[ops.as_index(inverse[sel])]
            return norm, lev1, lev2, self._too_few(dof, m_eff)

        return terms

    def _screen(self, terms, rw, valid, best, lams, fixed, too_few=None):
        """Standardised residual (P, m) of every pair (inf where it cannot be judged), for :meth:`_reweight`.

        A pair is screened at every candidate lambda up to the chosen one or ``SCREEN_REFERENCE``
        (whichever is larger) that leaves enough degrees of freedom, and gets its smallest value.
        At each level (candidate lambda) a pair's residual is divided by its own error (relative,
        from the base weights: a short pair's larger error is allowed for), by its residual spread
        (leverage: a pair nearly alone on its intervals is fitted closely whatever its value; a pair
        left out is compared with the prediction of the others), and by the pixel's robust scale
        at that level (median over the pairs kept). Pairs whose spread when kept is below
        ``MIN_SPREAD`` cannot be judged at that level. A pair is an outlier only if no level
        explains it: a pair that sees a real short event fits the little-smoothed levels, where
        its redundant neighbours (other short pairs) judge it, while a blunder on a long pair
        stands out at the smoother levels where it can be judged.

        With 'reject' all pixels are first screened at the chosen lambda and the reference one only
        (the largest level; with a fixed lambda, the fixed one); the other levels are needed only
        where a pair kept is inconsistent at both (only such a pair can be rejected), and only those
        other levels are computed there. ``terms(sel, index)`` gives the residual norms and leverage
        terms (p, m, L) of pixels ``sel`` (numpy indices, None: all) at levels ``index`` (p, L), and
        which of those levels leave too few degrees of freedom (p, L); ``too_few`` (P, K), where known
        beforehand, spares the levels no pixel can use.
        """
        ops, xp, st = self.ops, self.ops.xp, self.settings
        c = self._components
        lam_b = ops.asarray(lams)
        ceiling = xp.clip(lam_b[best], SCREEN_REFERENCE, None)[:, None]
        level = lam_b[None, :] <= ceiling
        if too_few is not None:
            level = level & ~too_few
        rows = ops.as_index(np.arange(rw.shape[0]))
        level[rows, best] = True
        if fixed is not None:  # the fixed lambda is the largest level
            ref = best
        else:
            ref = (level.shape[1] - 1) - xp.argmax(level.flip(1) * 1 if ops.name == "torch" else level[:, ::-1] * 1,
                                                   1)
        suspect = np.arange(rw.shape[0])
        if st.robust == "reject":
            first = best[:, None] if bool((ref == best).all()) else xp.stack([best, ref], 1)
            norm, lev1, lev2, _ = terms(None, first)
            z = self._smallest(self._standardised(norm, lev1, lev2, rw, valid))
            kept = ops.asarray(rw) > 0
            suspect = np.flatnonzero(ops.to_numpy(((z > REJECT_Z.get(c, REJECT_Z[3])) & xp.isfinite(z) & kept)
                                                  .any(1)))
            level[rows, best] = False  # already in z
            level[rows, ref] = False
        s = ops.as_index(suspect)
        used = np.flatnonzero(ops.to_numpy(level[s].any(0)))
        if used.size == 0:
            return z
        index = ops.as_index(np.tile(used, (suspect.size, 1)))
        norm, lev1, lev2, few = terms(suspect, index)
        judged = level[s][:, ops.as_index(used)] & (~few | (index == best[s][:, None]))
        z_all = self._smallest(self._standardised(norm, lev1, lev2, rw[suspect], valid[suspect], judged))
        if st.robust != "reject":
            return z_all
        z[s] = xp.minimum(z[s], z_all)
        return z

    def _smallest(self, z):
        """Smallest value along the last axis."""
        return z.min(-1) if self.ops.name == "numpy" else z.min(-1).values

    def _standardised(self, norm, lev1, lev2, rw, valid, level=None):
        """Standardised residuals (P, m, K) from weighted residual norms and leverage terms (P, m, K); inf where a pair
        cannot be judged (see :meth:`_screen`)."""
        ops, xp = self.ops, self.ops.xp
        P, m, K = norm.shape
        c = self._components
        rw_b, valid_b = ops.asarray(rw)[:, :, None], ops.asarray(valid.astype(np.float64))[:, :, None]
        judged = (1.0 - lev1 + lev2 > MIN_SPREAD**2) & (valid_b > 0)
        if level is not None:
            judged = judged & level[:, None, :]
        u = norm / xp.sqrt(xp.clip(1.0 - rw_b * lev1 + lev2, MIN_SPREAD**2, None))
        scored = judged & (rw_b > 0)
        big = xp.where(scored, u, xp.full_like(u, float("inf"))).swapaxes(1, 2).reshape(P * K, m)
        ordered = ops.sort(big)
        k = xp.clip(scored.sum(1).reshape(P * K), 1, None)
        median = 0.5 * (ops.take(ordered, (k - 1) // 2) + ops.take(ordered, k // 2))
        scale = xp.clip(median.reshape(P, K) / _MEDIAN_NORM.get(c, np.sqrt(c)), MIN_SCALE, None)
        return xp.where(judged, u / scale[:, None, :], xp.full_like(u, float("inf")))

    def _reweight(self, z, rw, valid):
        """Robust weights (P, m) (numpy) of standardised residuals ``z`` (inf: not judged, keeps its weight ``rw``).

        'reject' keeps (1) or rejects (0) a pair at ``REJECT_Z``; 'tukey' and 'huber' give continuous weights.
        """
        ops, xp, st = self.ops, self.ops.xp, self.settings
        c = self._components
        judged = xp.isfinite(z)
        z = xp.where(judged, z, xp.zeros_like(z))
        if st.robust == "reject":
            new = (z <= REJECT_Z.get(c, REJECT_Z[3])) * 1.0
        elif st.robust == "tukey":
            new = xp.clip(1.0 - (z / TUKEY_C) ** 2, 0.0, None) ** 2
        else:
            new = HUBER_K / xp.clip(z, HUBER_K, None)
        return np.where(valid, np.where(ops.to_numpy(judged), ops.to_numpy(new), rw), 0.0)

    def _robust_fit(self, y, valid):
        """Robust weights (P, m) (numpy) and the final :meth:`_fit` of every pixel.

        Each pixel is refitted until its weights settle (at most ``settings.iterations`` times);
        a pixel's result depends on its own pairs only.
        """
        rw = valid.astype(np.float64)
        fit = self._fit(y, rw, valid, screen=self.settings.robust != "none" and self.settings.iterations > 0)
        active = np.arange(rw.shape[0])
        for iteration in range(int(self.settings.iterations) if "z" in fit else 0):
            z = fit["z"][self.ops.as_index(active)]
            new = self._reweight(z, rw[active], valid[active])
            changed = np.abs(new - rw[active]).max(1) >= 1e-3
            if not changed.any():
                break
            active = active[changed]
            rw[active] = new[changed]
            index = self.ops.as_index(active)
            last = iteration == int(self.settings.iterations) - 1
            for key, value in self._fit(y[index], rw[active], valid[active], screen=not last).items():
                fit[key][index] = value
        return rw, fit

    def _step_errors(self, fit):
        """1-sigma error (P, k, c) of each output step, m/yr: ``s_c^2 diag(R N^-1 R^T)``.

        ``s_c^2`` is the weighted residual sum of squares over its degrees of freedom (the
        pair weights are relative), ``N^-1`` the inverse of the regularised normal matrix
        with the final robust weights: the posterior covariance of the interval velocities,
        which also counts what the smoothing cannot resolve.
        """
        xp = self.ops.xp
        scale2 = fit["rss"] / xp.clip(fit["dof"], 1.0, None)[:, None]  # (P, c)
        return xp.sqrt(xp.clip(fit["posterior"], 0.0, None)[:, :, None] * scale2[:, None, :])

    # -- public -------------------------------------------------------------------------------------------------------
    def solve(self, obs):
        """Invert pair velocities ``obs`` (P, m, c) or (P, m) in m/yr (NaN = missing) → :class:`BatchSolution`."""
        obs = np.asarray(obs, dtype=np.float64)
        squeeze = obs.ndim == 2
        if squeeze:
            obs = obs[:, :, None]
        if obs.shape[1] != self.n_pairs:
            raise InputError(f"{obs.shape[1]} pair values were given for {self.n_pairs} pairs.")
        P, m, c = obs.shape
        out = _empty_solution(P, m, self.n_steps, c)
        valid = np.all(np.isfinite(obs), axis=2)
        n_valid = valid.sum(1)
        out.pairs_used[:] = n_valid
        todo = np.flatnonzero(n_valid >= self.settings.min_pairs)
        step = self.chunk_pixels(c)
        with blas_threads(1):
            for s in range(0, todo.size, step):
                self._solve_chunk(obs, valid, todo[s:s + step], out)
        return _squeeze(out) if squeeze else out

    def _solve_chunk(self, obs, valid, index, out):
        ops, xp, st = self.ops, self.ops.xp, self.settings
        v = valid[index]
        y = self._chunk_arrays(obs[index], v)
        self._components = y.shape[2]
        rw, fit = self._robust_fit(y, v)
        lam = self._lambdas()[0][ops.to_numpy(fit["best"])]
        x = fit["x"]
        res = y - xp.matmul(self._A, x)
        sq = (res * res).mean(-1)
        rw_b = ops.asarray(rw)
        # over the pairs overlapping each step, weighted by robust weight times overlap (P, k)
        step_rms = _weighted_rms(xp, xp.matmul(rw_b * sq, self._A_steps), xp.matmul(rw_b, self._A_steps))
        rms = _weighted_rms(xp, (rw_b * sq).sum(1), rw_b.sum(1))
        velocity = ops.to_numpy(xp.matmul(self._R, x))
        error = ops.to_numpy(self._step_errors(fit))

        res = ops.to_numpy(res)
        coverage = v @ self.A  # valid pairs, whatever their robust weight
        keep = (coverage > 0) | (st.fill_gaps & (lam > 0))[:, None]
        keep &= self.R.sum(1)[None, :] > 0  # steps the pairs' dates do not reach
        out.velocity[index] = np.where(keep[:, :, None], velocity, np.nan)
        out.error[index] = np.where(keep[:, :, None], error, np.nan)
        out.residuals[index] = np.where(v[:, :, None], res, np.nan)
        out.weights[index] = rw
        out.residual_rms[index] = ops.to_numpy(rms)
        out.step_rms[index] = np.where(coverage > 0, ops.to_numpy(step_rms), np.nan)
        out.coverage[index] = coverage
        out.regularisation[index] = lam
        out.solved[index] = True


def _weighted_rms(xp, weighted, total):
    """sqrt(sum(w * squares) / sum(w)) from the two sums; NaN where the weights sum to 0."""
    rms = xp.sqrt(weighted / xp.clip(total, 1e-12, None))
    return xp.where(total > 0, rms, xp.full_like(rms, float("nan")))


def _empty_solution(P, m, n, c):
    nan = np.nan
    return BatchSolution(np.full((P, n, c), nan), np.full((P, m, c), nan), np.zeros((P, m)), np.full(P, nan),
                         np.full((P, n), nan), np.zeros((P, n)), np.zeros(P, dtype=np.int64), np.full(P, nan),
                         np.zeros(P, dtype=bool), np.full((P, n, c), nan))


def _squeeze(sol):
    sol.velocity = sol.velocity[:, :, 0]
    sol.error = sol.error[:, :, 0]
    sol.residuals = sol.residuals[:, :, 0]
    return sol


# -- time grid for a set of pairs -------------------------------------------------------------------------------------
def prepare_grid(date1, date2, time_grid=None, step_days=30):
    """(TimeGrid, boolean mask of the pairs inside it).

    Without ``time_grid``, the grid spans all pairs with ``step_days`` steps
    (``None``/0: the intervals between acquisition dates). Raises
    :class:`InputError` if no pair lies inside the grid.
    """
    d1, d2 = ordered_pairs(date1, date2)
    grid = time_grid if time_grid is not None else TimeGrid.for_pairs(d1, d2, step_days)
    inside = grid.covers(d1, d2)
    if not inside.any():
        raise InputError(f"None of the {d1.size} pairs lies inside the time grid {grid.describe()}.",
                         "choose a time grid (start, end) that spans the pair dates.")
    return grid, inside


# -- single point ---------------------------------------------------------------------------------------------------
@dataclass
class PointSeries:
    """The time series of one point: inverted steps and the pairs behind them (m/yr).

    ``velocity`` (n_steps, c) per component in ``components``; ``observations``,
    ``residuals`` (m, c) and ``weights`` (m,) per pair (pairs outside the grid are
    left out); ``date1``/``date2`` the pair dates; ``error`` (n_steps, c) the 1-sigma
    error of ``velocity`` (m/yr).
    """

    time_grid: TimeGrid
    components: tuple
    velocity: np.ndarray
    observations: np.ndarray
    residuals: np.ndarray
    weights: np.ndarray
    date1: np.ndarray
    date2: np.ndarray
    residual_rms: float
    step_rms: np.ndarray
    coverage: np.ndarray
    weighting: str = ""
    extra: dict = field(default_factory=dict)
    error: np.ndarray = None

    @property
    def speed(self):
        """Speed of each step (m/yr) from vx and vy (or the single component's magnitude)."""
        return np.sqrt(np.sum(self.velocity**2, axis=1))

    def records(self):
        """One dict per step: start, end, centre (ISO dates) and each component's velocity (m/yr)."""
        g = self.time_grid
        rows = []
        for k in range(g.n_steps):
            row = {"start": iso(g.starts[k]), "end": iso(g.ends[k]), "centre": iso(g.centres[k])}
            row.update({comp: float(self.velocity[k, j]) for j, comp in enumerate(self.components)})
            row["speed"] = float(self.speed[k])
            if self.error is not None:
                row.update({f"{comp}_error": float(self.error[k, j]) for j, comp in enumerate(self.components)})
            row["residual_rms"] = float(self.step_rms[k])
            rows.append(row)
        return rows


def invert_point(values, date1, date2, time_grid=None, step_days=30, settings=None, errors=None,
                 components=("vx", "vy")):
    """Invert the pair velocities of one point into a :class:`PointSeries`.

    ``values`` (m,) or (m, c) m/yr, NaN where missing; ``errors`` (m,) m/yr or None.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    components = tuple(components)[: values.shape[1]] if values.shape[1] <= len(components) else tuple(
        f"v{k + 1}" for k in range(values.shape[1]))
    grid, inside = prepare_grid(date1, date2, time_grid, step_days)
    d1, d2 = ordered_pairs(date1, date2)
    err = None if errors is None else np.asarray([np.nan if e is None else e for e in errors], float)[inside]
    inversion = PairInversion(d1[inside], d2[inside], grid, settings, err)
    sol = inversion.solve(values[inside][None])
    return PointSeries(grid, components, sol.velocity[0], values[inside], sol.residuals[0], sol.weights[0],
                       d1[inside], d2[inside], float(sol.residual_rms[0]), sol.step_rms[0], sol.coverage[0],
                       inversion.weighting, {"regularisation": float(sol.regularisation[0])}, sol.error[0])
