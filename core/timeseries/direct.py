"""Regularised normal equations solved pixel by pixel, one lambda at a time (Cholesky).

Where a weight pattern is held by only a few pixels (cloud gaps give nearly every pixel its own
set of valid pairs; continuous robust weights give every pixel its own weights), the
eigendecomposition of :class:`~.patterns.WeightPatterns`, which serves every candidate lambda
at once, costs more than solving the pixel's own system at the one or few lambdas it needs.
With ``N = N0 + lambda DtD`` (``N0 = A^T W A`` plus the same tiny ridge,
:func:`~.patterns.normal_matrices`) and its inverse from a Cholesky factorisation,
:class:`PixelSystems` gives, per pixel:

* the interval velocities ``x = N^-1 A^T W y`` (m/yr);
* ``a_i^T N^-1 a_i`` and ``|D N^-1 a_i|^2`` (D applied by its few diagonals), hence the leverage
  terms of pair i (relative to its own error, base weight ``b_i``): ``lev1 = 2 b_i a_i^T N^-1 a_i``
  and ``lev2 = b_i a_i^T N^-1 N0 N^-1 a_i = b_i (a_i^T N^-1 a_i - lambda |D N^-1 a_i|^2)``;
* the residual degrees of freedom ``m_eff - tr(N^-1 N0) = m_eff - n + lambda tr(N^-1 DtD)``;
* the posterior variance factors ``diag(R N^-1 R^T)``.

These are the quantities the eigendecomposition gives (the same systems, the same values to
rounding); the weighted residual sum of squares that goes with them is ``r^T W r + ridge |x|^2``.
"""

import numpy as np

from .patterns import normal_matrices


def diagonals(D):
    """[(offset, values (rows of D,))] of a difference operator D whose row i is nonzero only at columns i + offset
    (the operators of :func:`.design.smoothness_operator`), or None for any other D."""
    rows, cols = D.shape
    bands = [(o, np.diagonal(D, o).copy()) for o in range(cols) if np.diagonal(D, o).any()]
    if any(values.size != rows for _, values in bands):
        return None
    rebuilt = np.zeros_like(D)
    for o, values in bands:
        rebuilt[np.arange(rows), np.arange(rows) + o] = values
    return bands if np.array_equal(rebuilt, D) else None


class PixelSystems:
    """The systems ``A^T W A + lambda DtD`` of P pixels (backend arrays), solved at one candidate lambda at a time.

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

    def _difference(self, H):
        """``D h`` of every row h of H (..., n) → (..., rows of D)."""
        inv = self.inv
        if inv._diagonals is None:
            return self.ops.xp.matmul(H, inv._DT)
        rows = inv._DT.shape[1]
        out = None
        for o, values in inv._diagonals:
            term = H[..., o:o + rows] * values
            out = term if out is None else out + term
        return H[..., :0] if out is None else out

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
        Ninv = ops.inverse_spd(N0 + lam * inv._DtD)
        H = xp.matmul(inv._A, Ninv)  # (p, m, n): row i is (N^-1 a_i)^T
        spread = xp.einsum("pin,in->pi", H, inv._A)  # a_i^T N^-1 a_i
        DH = self._difference(H)  # (p, m, rows of D): D N^-1 a_i
        out = {"x": xp.matmul(Ninv, rhs),
               "lev1": 2.0 * inv._base[None] * spread,
               "lev2": inv._base[None] * (spread - lam * xp.einsum("pij,pij->pi", DH, DH)),
               "dof": m_eff - (inv.n_unknowns - lam * xp.einsum("pij,ij->p", Ninv, inv._DtD))}
        if sel is None:
            out["posterior"] = xp.einsum("pkn,kn->pk", xp.matmul(inv._R, Ninv), inv._R)  # diag(R N^-1 R^T)
            self._all[j] = out
        return out
