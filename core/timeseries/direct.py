"""Regularised normal equations solved pixel by pixel, one lambda at a time (Cholesky).

Where a weight pattern is held by only a few pixels (cloud gaps give nearly every pixel its own
set of valid pairs; continuous robust weights give every pixel its own weights), the
eigendecomposition of :class:`~.patterns.WeightPatterns`, which serves every candidate lambda
at once, costs more than solving the pixel's own system at the one or few lambdas it needs.
With ``N = N0 + lambda DtD = L L^T`` (``N0 = A^T W A`` plus the same tiny ridge,
:func:`~.patterns.normal_matrices`), :class:`PixelSystems` gives, per pixel:

* the interval velocities ``x = N^-1 A^T W y`` (m/yr);
* ``a_i^T N^-1 a_i`` (column norms of ``L^-1 A^T``) and ``|D N^-1 a_i|^2``, hence the leverage terms
  of pair i (relative to its own error, base weight ``b_i``): ``lev1 = 2 b_i a_i^T N^-1 a_i`` and
  ``lev2 = b_i a_i^T N^-1 N0 N^-1 a_i = b_i (a_i^T N^-1 a_i - lambda |D N^-1 a_i|^2)``;
* the residual degrees of freedom ``m_eff - tr(N^-1 N0) = m_eff - n + lambda |L^-1 D^T|_F^2``;
* the posterior variance factors ``diag(R N^-1 R^T)`` (column norms of ``L^-1 R^T``).

These are the quantities the eigendecomposition gives (the same systems, the same values to
rounding); the weighted residual sum of squares that goes with them is ``r^T W r + ridge |x|^2``.
"""

import numpy as np

from .patterns import normal_matrices


def system_columns(A, R, D):
    """``[A^T | D^T | R^T]`` (n, m + rows of D + k): the right-hand sides :class:`PixelSystems` solves for."""
    return np.ascontiguousarray(np.concatenate([A.T, D.T, R.T], axis=1))


class PixelSystems:
    """The systems ``A^T W A + lambda DtD`` of P pixels (backend arrays), factorised at one candidate lambda at a time.

    ``inv`` the :class:`~.inversion.PairInversion`; ``weights`` (P, m) pair weights (robust times base);
    ``wy`` (P, m, c) weighted pair velocities (m/yr); ``m_eff`` (P,) the number of pairs each pixel fits
    (sum of its robust weights); ``lams`` (K,) the candidate lambdas (numpy).
    """

    def __init__(self, inv, weights, wy, m_eff, lams):
        self.inv, self.ops, self.lams = inv, inv.ops, lams
        self.N0, self.ridge = normal_matrices(inv, weights)
        self.rhs = inv.ops.xp.matmul(inv._AT, wy)  # (P, n, c)
        self.m_eff = m_eff
        self._all = {}

    def level(self, j, sel=None):
        """The system at candidate lambda ``j`` of pixels ``sel`` (numpy indices; None: all, kept for later calls).

        A dict of backend arrays: ``x`` (p, n, c) m/yr, ``lev1``, ``lev2`` (p, m), ``dof`` (p,), and for all
        pixels (``sel`` None) ``posterior`` (p, k).
        """
        if sel is None and j in self._all:
            return self._all[j]
        inv, ops, xp = self.inv, self.ops, self.ops.xp
        lam = float(self.lams[j])
        N0, rhs, m_eff = (self.N0, self.rhs, self.m_eff) if sel is None else (
            self.N0[ops.as_index(sel)], self.rhs[ops.as_index(sel)], self.m_eff[ops.as_index(sel)])
        Li = ops.inverse_cholesky(N0 + lam * inv._DtD)
        n, m = inv.n_unknowns, inv.n_pairs
        G = xp.matmul(Li, inv._columns if sel is None else inv._columns_AD)  # L^-1 [A^T | D^T (| R^T)]
        GA, F = G[:, :, :m], G[:, :, m:m + inv._DtD_rank]
        spread = xp.einsum("pij,pij->pj", GA, GA)  # a_i^T N^-1 a_i
        DH = xp.matmul(F.swapaxes(1, 2), GA)  # D N^-1 A^T
        out = {"x": xp.matmul(Li.swapaxes(1, 2), xp.matmul(Li, rhs)),
               "lev1": 2.0 * inv._base[None] * spread,
               "lev2": inv._base[None] * (spread - lam * xp.einsum("pij,pij->pj", DH, DH)),
               "dof": m_eff - (n - lam * (F * F).sum((1, 2)))}
        if sel is None:
            GR = G[:, :, m + inv._DtD_rank:]
            out["posterior"] = xp.einsum("pij,pij->pj", GR, GR)
            self._all[j] = out
        return out
