"""Per-pixel least-squares inversion of velocity pairs into a regular time series.

For each pixel, with ``A`` the design matrix of :mod:`.design` (fraction of each
pair's baseline in each interval), ``y`` the pair velocities (m/yr), ``W`` the
pair weights and ``D`` a temporal difference operator, the interval velocities
``u`` (m/yr) minimise

    sum_i W_i (y_i - (A u)_i)^2  +  lambda * |D u|^2

(Tikhonov regularisation of the first or second temporal derivative), solved
through the normal equations ``(A^T W A + lambda D^T D) u = A^T W y``. The
systems are n_steps x n_steps (tens), so all pixels of a chunk are solved at once
as a batch of small matrices. Pairs missing at a pixel (NaN) get weight 0 there,
so every pixel has its own system. vx and vy share one system (two right-hand
sides) and one set of weights.

Weights: ``W_i = 1 / sigma_i^2`` normalised to a median of 1 over the pairs, with
``sigma_i`` the pair's error (m/yr) when known, else ``sigma_i ∝ 1 / baseline_i``
(a constant displacement error of feature tracking becomes a velocity error
inversely proportional to the temporal baseline), or uniform. Because weights
are relative, ``lambda`` is dimensionless: a change of 1 m/yr between consecutive
steps costs as much as a misfit of 1 m/yr of a pair of median weight.

``lambda`` is fixed, or ('auto', the default) chosen for every pixel among
half-decade candidates (0.01-1000) by generalised cross-validation (Golub, Heath
& Wahba 1979, Technometrics 21(2), 215-223), after a robust pass at lambda = 1 has
fixed the pair weights. The best lambda depends on the ratio of the velocity
changes to the noise, so slow ice and stable ground (noise-dominated) get smoother
series than fast ice; a single lambda cannot suit both.

Outlier pairs are down-weighted by iteratively reweighted least squares (Tukey
biweight, c = 4.685, or Huber, k = 1.345, on residuals scaled by their median
absolute value; Holland & Welsch 1977), following the robust temporal inversion
of TICOI (Charrier et al., 2022, ISPRS Annals V-3-2022, 311-318, "Fusion of
multi-temporal and multi-sensor ice velocity observations"; Charrier et al.,
2025, "TICOI: an operational Python package to generate regular glacier velocity
time series", EGUsphere preprint). TICOI inverts for displacements between
consecutive acquisition dates and interpolates them afterwards; here the
unknowns are the interval velocities of the output grid directly (see
:mod:`.design`), which is the same model when the grid is the acquisition dates.
"""

from dataclasses import dataclass, field

import numpy as np

from ..backend import select_backend
from ..errors import InputError
from ..threads import blas_threads
from .design import TimeGrid, baselines_days, design_matrix, difference_operator, iso, ordered_pairs

ROBUST_METHODS = ("tukey", "huber", "none")
WEIGHTINGS = ("auto", "error", "baseline", "uniform")
TUKEY_C = 4.685
HUBER_K = 1.345
#: Smallest robust scale of the weighted residuals (m/yr at median weight), so an exact fit does not flag noise.
MIN_SCALE = 1e-3
#: Lambdas among which 'auto' regularisation chooses per pixel (half-decade steps).
GCV_CANDIDATES = tuple(float(v) for v in np.logspace(-2, 3, 11))
#: Lambda of the robust (IRLS) pass that fixes the pair weights before 'auto' chooses lambda.
AUTO_START = 1.0
#: Median of |N(0, I_c)| for c = 1, 2, 3 components: turns a median residual norm into a standard deviation.
_MEDIAN_NORM = {1: 0.6744897501960817, 2: 1.1774100225154747, 3: 1.5381722544550522}


@dataclass(frozen=True)
class InversionSettings:
    """How pairs are combined. Units: m/yr for velocities, days for dates.

    * ``regularisation``: lambda (dimensionless, >= 0), weight of the temporal smoothness term,
      or 'auto': chosen for each pixel among ``gcv_candidates`` by generalised
      cross-validation (slow-moving pixels, where noise dominates, get smoother series
      than fast ones; a few times the time of a fixed lambda).
    * ``order``: derivative penalised: 1 (changes between steps), 2 (curvature), 0 (damping).
    * ``robust``: 'tukey', 'huber' or 'none' (plain weighted least squares).
    * ``iterations``: robust reweighting iterations (stops early once weights settle).
    * ``weighting``: 'auto' (pair errors if every pair has one, else 'baseline'), 'error',
      'baseline' (sigma ∝ 1/baseline) or 'uniform'.
    * ``min_pairs``: pixels with fewer valid pairs are left NaN.
    * ``fill_gaps``: keep the (regularised, interpolated) value of steps that no valid pair
      overlaps at a pixel; otherwise they are NaN. Needs ``regularisation`` > 0.
    * ``backend``: 'auto', 'numpy', 'torch-cpu' or 'torch-cuda'.
    * ``chunk_mb``: working memory per batch of pixels, MiB.
    * ``gcv_candidates``: the lambdas 'auto' chooses from.
    """

    regularisation: object = "auto"
    order: int = 1
    robust: str = "tukey"
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

    def sort(self, a):
        return np.sort(a, axis=-1)

    def take(self, a, index):
        return np.take_along_axis(a, index[:, None], axis=-1)[:, 0]

    def as_index(self, a):
        return np.asarray(a, dtype=np.int64)


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

    def sort(self, a):
        return self.xp.sort(a, dim=-1).values

    def take(self, a, index):
        return self.xp.take_along_dim(a, index[:, None], dim=-1)[:, 0]

    def as_index(self, a):
        return self.xp.as_tensor(np.asarray(a, dtype=np.int64), device=self._device)


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
    ``solved`` (P,) bool.
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


class PairInversion:
    """The inversion of a fixed set of pairs onto a :class:`TimeGrid`.

    ``date1``/``date2`` are the pair dates; ``errors`` their errors (m/yr, NaN or
    None where unknown). Every pair must lie inside ``grid`` (see :func:`prepare_grid`).
    :meth:`solve` takes pair velocities of any number of pixels.
    """

    def __init__(self, date1, date2, grid, settings=None, errors=None):
        self.settings = settings or InversionSettings()
        self.date1, self.date2 = ordered_pairs(date1, date2)
        self.grid = grid
        inside = grid.covers(self.date1, self.date2)
        if not inside.all():
            raise InputError(f"{int((~inside).sum())} pair(s) extend beyond the time grid "
                             f"{iso(grid.edges[0])} to {iso(grid.edges[-1])}.",
                             "use a time grid that spans all pairs, or leave the pairs out.")
        self.baselines = baselines_days(self.date1, self.date2)
        self.A = design_matrix(self.date1, self.date2, grid)
        self.base_weights, self.weighting = pair_weights(self.baselines, errors, self.settings.weighting)
        D = difference_operator(grid, self.settings.order)
        self.DtD = D.T @ D
        self.auto_regularisation = self.settings.regularisation == "auto"
        self.ops, self.backend = array_ops(self.settings.backend)
        n, m = self.n_steps, self.n_pairs
        self._A = self.ops.asarray(self.A)
        self._AT = self.ops.asarray(np.ascontiguousarray(self.A.T))
        self._AA = self.ops.asarray(np.einsum("ij,ik->ijk", self.A, self.A).reshape(m, n * n))
        self._DtD = self.ops.asarray(self.DtD)
        self._diag = self.ops.as_index(np.arange(n))

    @property
    def n_pairs(self):
        return self.A.shape[0]

    @property
    def n_steps(self):
        return self.A.shape[1]

    def describe_regularisation(self):
        st = self.settings
        kind = {0: "values", 1: "first derivative", 2: "second derivative"}[st.order]
        if self.auto_regularisation:
            c = st.gcv_candidates
            return f"{kind}, lambda per pixel by GCV in [{min(c):g}, {max(c):g}]"
        return f"{kind}, lambda {st.regularisation:g}"

    def chunk_pixels(self, n_components):
        """Pixels solved together so that the working arrays stay within ``settings.chunk_mb``."""
        n, m = self.n_steps, self.n_pairs
        per_pixel = 8 * (5 * n * n + m * n + 6 * m * n_components + 4 * m)
        return max(256, int(self.settings.chunk_mb * 2**20 // per_pixel))

    # -- building blocks ----------------------------------------------------------------------------------------------
    def _chunk_arrays(self, obs, valid):
        """Backend arrays of a chunk: y (zero where missing), base weights w0 (0 where missing), valid counts."""
        ops = self.ops
        y = ops.asarray(np.where(valid[:, :, None], obs, 0.0))
        return y, ops.asarray(valid * self.base_weights), ops.as_index(valid.sum(1))

    def _normal(self, w):
        """A^T W A for every pixel; w (P, m) → (P, n, n)."""
        n = self.n_steps
        return (w @ self._AA).reshape(w.shape[0], n, n)

    def _regularised(self, N0, lam):
        """N0 + lambda D^T D (lambda scalar or per pixel), plus a tiny ridge keeping every system positive definite."""
        N = N0 + (lam if np.isscalar(lam) else lam[:, None, None]) * self._DtD
        ridge = 1e-10 * N[:, self._diag, self._diag].mean(-1) + 1e-12
        N[:, self._diag, self._diag] += ridge[:, None]
        return N

    def _solve_weighted(self, w, y, lam):
        """Solve (A^T W A + lambda D^T D) u = A^T W y for every pixel; w (P, m), y (P, m, c)."""
        N = self._regularised(self._normal(w), lam)
        return self.ops.solve(N, self.ops.xp.matmul(self._AT, w[:, :, None] * y))

    def _robust_weights(self, residual_norm, w0, n_valid, n_components):
        """Tukey / Huber weights (P, m) of the residual norms (P, m) scaled by their median."""
        xp = self.ops.xp
        u = xp.sqrt(w0) * residual_norm
        big = xp.where(w0 > 0, u, xp.full_like(u, float("inf")))
        ordered = self.ops.sort(big)
        k = xp.clip(n_valid, 1, None)
        median = 0.5 * (self.ops.take(ordered, (k - 1) // 2) + self.ops.take(ordered, k // 2))
        scale = xp.clip(median / _MEDIAN_NORM.get(n_components, np.sqrt(n_components)), MIN_SCALE, None)
        z = u / scale[:, None]
        if self.settings.robust == "tukey":
            rw = xp.clip(1.0 - (z / TUKEY_C) ** 2, 0.0, None) ** 2
        else:
            rw = HUBER_K / xp.clip(z, HUBER_K, None)
        return xp.where(w0 > 0, rw, xp.zeros_like(rw))

    def _irls(self, y, w0, n_valid, lam):
        """Weighted (and, unless robust is 'none', iteratively reweighted) solution: (x (P, n, c), robust weights)."""
        xp, st = self.ops.xp, self.settings
        rw = xp.where(w0 > 0, xp.ones_like(w0), xp.zeros_like(w0))
        x = self._solve_weighted(w0, y, lam)
        for _ in range(int(st.iterations) if st.robust != "none" else 0):
            res = y - xp.matmul(self._A, x)
            new = self._robust_weights(xp.sqrt((res * res).sum(-1)), w0, n_valid, y.shape[2])
            settled = float(xp.abs(new - rw).max()) < 1e-3
            rw = new
            x = self._solve_weighted(w0 * rw, y, lam)
            if settled:
                break
        return x, rw

    def _gcv_solve(self, y, w, m_eff):
        """Per-pixel lambda among ``settings.gcv_candidates`` minimising GCV: (x (P, n, c), lambda (P,))."""
        ops, xp = self.ops, self.ops.xp
        N0 = self._normal(w)
        rhs = xp.matmul(self._AT, w[:, :, None] * y)
        best_score = best_lam = best_x = None
        for lam in self.settings.gcv_candidates:
            inverse = ops.inv(self._regularised(N0, float(lam)))
            x = xp.matmul(inverse, rhs)
            r = y - xp.matmul(self._A, x)
            rss = (w[:, :, None] * r * r).sum(-1).sum(-1)
            trace = (inverse * N0).sum(-1).sum(-1)  # tr(N^-1 N0); N0 is symmetric
            dof = xp.clip(m_eff - trace, 1e-6, None)
            score = m_eff * rss / dof**2
            if best_score is None:
                best_score, best_lam, best_x = score, xp.full_like(score, float(lam)), x
            else:
                better = score < best_score
                best_score = xp.where(better, score, best_score)
                best_lam = xp.where(better, xp.full_like(score, float(lam)), best_lam)
                best_x = xp.where(better[:, None, None], x, best_x)
        return best_x, best_lam

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
        y, w0, n_valid = self._chunk_arrays(obs[index], v)
        if self.auto_regularisation:
            _, rw = self._irls(y, w0, n_valid, AUTO_START)
            x, lam = self._gcv_solve(y, w0 * rw, rw.sum(-1))
            lam = ops.to_numpy(lam)
        else:
            x, rw = self._irls(y, w0, n_valid, st.regularisation)
            lam = st.regularisation
        res = y - xp.matmul(self._A, x)
        sq = (res * res).mean(-1)
        step_w = rw[:, :, None] * self._A[None]
        step_rms = _weighted_rms(xp, sq[:, :, None], step_w, axis=1)
        rms = _weighted_rms(xp, sq, rw, axis=1)

        x, res, rw = ops.to_numpy(x), ops.to_numpy(res), ops.to_numpy(rw)
        coverage = v @ self.A  # valid pairs, whatever their robust weight
        keep = (coverage > 0) | (st.fill_gaps and not (np.isscalar(lam) and lam == 0))
        out.velocity[index] = np.where(keep[:, :, None], x, np.nan)
        out.residuals[index] = np.where(v[:, :, None], res, np.nan)
        out.weights[index] = rw
        out.residual_rms[index] = ops.to_numpy(rms)
        out.step_rms[index] = np.where(coverage > 0, ops.to_numpy(step_rms), np.nan)
        out.coverage[index] = coverage
        out.regularisation[index] = lam
        out.solved[index] = True


def _weighted_rms(xp, squares, weights, axis):
    """sqrt(sum(w * squares) / sum(w)) along ``axis``; NaN where the weights sum to 0."""
    total = weights.sum(axis)
    rms = xp.sqrt((weights * squares).sum(axis) / xp.clip(total, 1e-12, None))
    return xp.where(total > 0, rms, xp.full_like(rms, float("nan")))


def _empty_solution(P, m, n, c):
    nan = np.nan
    return BatchSolution(np.full((P, n, c), nan), np.full((P, m, c), nan), np.zeros((P, m)), np.full(P, nan),
                         np.full((P, n), nan), np.zeros((P, n)), np.zeros(P, dtype=np.int64), np.full(P, nan),
                         np.zeros(P, dtype=bool))


def _squeeze(sol):
    sol.velocity = sol.velocity[:, :, 0]
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
    left out); ``date1``/``date2`` the pair dates.
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
                       inversion.weighting, {"regularisation": float(sol.regularisation[0])})
