"""Regularised normal equations of many pixels, factorised once per pattern of pair weights.

Pixels of a velocity pair stack mostly share the same pairs (the same valid pairs, the same
pairs rejected): their normal matrices ``N0 = A^T W A`` are then identical and only the
right-hand sides differ. :class:`WeightPatterns` factorises the normal matrix of each
distinct weight row once, and everything that depends only on the weights and on lambda is
computed per pattern:

* the generalised eigendecomposition ``DtD v = s M v``, ``M = N0 + DtD`` (``V^T M V = I``,
  ``V^T DtD V = diag(s)``, ``V^T N0 V = diag(e)``, ``e = 1 - s``), which diagonalises
  ``N0 + lambda DtD`` for every candidate lambda at once (``diag(d)``, ``d = e + lambda s``);
* per candidate: the fraction of the weighted data the fit explains (``2/d - e/d^2`` per
  eigen-direction), the residual degrees of freedom ``m_eff - sum(e/d)`` (GCV), the
  posterior variance factor of every output step ``diag(R N^-1 R^T)`` and the
  variance factor of every pair's residual (leverage).

Per pixel only the projections ``C = V^T A^T W y`` (n x c numbers) remain, so the cost of
a pixel is a few small matrix-vector products; the cost of a pattern is one n x n
eigendecomposition. Every pixel is computed by the same operations whatever the other
pixels of its batch are (a block of the grid gives the values of the whole-grid run). With a
fixed lambda, a Cholesky factorisation of each pattern's system at each lambda it needs costs
less (:mod:`.direct`): the values are then the same to rounding (1e-10 relative), the weights
the same.
"""

from collections import OrderedDict

import numpy as np

from ..rows import distinct_rows


def group_rows(keys):
    """Distinct rows of a (P, m) array: (rows (G, m), inverse (P,) index of each pixel's row, sorted order, starts).

    ``order[starts[g]:starts[g + 1]]`` are the pixels of pattern ``g``.
    """
    keys = np.ascontiguousarray(keys)
    first, inverse = distinct_rows(keys)
    return (keys[first], inverse) + layout(inverse, first.size)


def layout(inverse, n_patterns):
    """(order, starts): ``order[starts[g]:starts[g + 1]]`` are the pixels whose pattern (``inverse``) is g."""
    order = np.argsort(inverse, kind="stable")
    return order, np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=n_patterns))])


def normal_matrices(inv, weights):
    """(N0 (G, n, n), ridge (G,)): ``A^T W A`` of each weight row (G, m), plus a tiny ridge on its diagonal.

    The ridge keeps every system ``N0 + lambda DtD`` positive definite; it belongs to N0 (the
    eigendecomposition of :class:`WeightPatterns` diagonalises what is solved, and
    :class:`~.direct.PatternSystems` solves the same systems).
    """
    # A^T W A one row at a time (a product over all rows at once may round differently with G)
    N0 = inv.ops.xp.matmul(inv._AT, weights[:, :, None] * inv._A)
    ridge = _ridge(N0[:, inv._diag, inv._diag].mean(-1), inv._DtD[inv._diag, inv._diag].mean())
    N0[:, inv._diag, inv._diag] += ridge[:, None]
    return N0, ridge


def apply(ops, M, order, starts, v):
    """``M[g] @ v[p]`` for every pixel p of every pattern g (:func:`layout`'s ``order``, ``starts``): M (G, r, n),
    v (P, n, c) → (P, r, c). Each pixel's product is the same whatever the other pixels are."""
    out = ops.zeros((v.shape[0], M.shape[1], v.shape[2]))
    for g in range(len(starts) - 1):
        idx = order[starts[g]:starts[g + 1]]
        out[idx] = M[g] @ v[idx]
    return out


def products(xp, M, v):
    """``M @ v[p]`` for every pixel p as one matrix product (one packing of M): M (r, n), v (P, n, c) → (P, r, c)."""
    return right(xp, v.swapaxes(1, 2), M.T).swapaxes(1, 2)


def right(xp, V, M):
    """``V @ M`` for a stack V (..., r, n) and one matrix M (n, q) as one matrix product → (..., r, q)."""
    return xp.matmul(V.reshape(-1, V.shape[-1]), M).reshape(tuple(V.shape[:-1]) + (M.shape[-1],))


def apply_flat(ops, M, order, starts, v):
    """:func:`apply` by one matrix product per pattern (:func:`products`); M may be a list of (r, n) matrices."""
    xp = ops.xp
    P, n, c = v.shape
    flat = v[order].swapaxes(1, 2).reshape(P * c, n)  # the pixels of each pattern together: one slice each
    out = ops.zeros((P * c, M[0].shape[0]))
    for g in range(len(starts) - 1):
        if starts[g + 1] > starts[g]:
            out[starts[g] * c:starts[g + 1] * c] = xp.matmul(flat[starts[g] * c:starts[g + 1] * c], M[g].T)
    back = ops.zeros((P, c, out.shape[1]))
    back[order] = out.reshape(P, c, -1)
    return back.swapaxes(1, 2)


def _ridge(diagonal_mean, dtd_mean):
    """The ridge of a system whose ``A^T W A`` has the mean diagonal ``diagonal_mean`` (``dtd_mean``: DtD's)."""
    return 1e-12 * (diagonal_mean + dtd_mean) + 1e-14


def ridges(inv, rows):
    """The ridge (G,) of :func:`normal_matrices` for robust-weight rows (G, m) (numpy; times the base weights), from
    the diagonal of ``A^T W A`` summed directly (the same to rounding)."""
    diagonal = (rows * inv.base_weights[None]) @ (inv.A_intervals**2)  # (G, n)
    return _ridge(diagonal.mean(-1), np.diagonal(inv.DtD).mean())


class WeightPatterns:
    """Factorisations of ``A^T W A + lambda DtD`` for G weight rows and K candidate lambdas (backend arrays).

    ``weights`` (G, m) pair weights (relative, 0 for pairs left out); ``m_eff`` (G,) the
    number of pairs each pattern fits (sum of the robust weights); ``base`` (m,) the pairs'
    base weights (1 / relative error^2); ``lams`` (K,) candidates.
    """

    def __init__(self, inv, weights, m_eff, lams):
        ops, xp = inv.ops, inv.ops.xp
        self.ops = ops
        N0, _ = normal_matrices(inv, weights)
        Li = ops.inv_lower(ops.cholesky(N0 + inv._DtD))
        S = xp.matmul(xp.matmul(Li, inv._DtD), Li.swapaxes(-1, -2))
        s, Q = ops.eigh(0.5 * (S + S.swapaxes(-1, -2)))
        V = xp.matmul(Li.swapaxes(-1, -2), Q)  # (G, n, n)
        s = xp.clip(s, 0.0, 1.0)
        e = xp.clip(1.0 - s, 1e-12, None)
        self.V = ops.contiguous(V)
        self.Vt = ops.contiguous(V.swapaxes(-1, -2))
        self.lams = lams
        d = e[:, None, :] + lams[None, :, None] * s[:, None, :]  # (G, K, n)
        self.d = d
        #: share of the weighted squares of the data explained, per eigen-direction: rss = yWy - sum fit C^2
        self.fit = 2.0 / d - e[:, None, :] / d**2
        self.dof = m_eff[:, None] - (e[:, None, :] / d).sum(-1)  # (G, K) residual degrees of freedom
        RV = xp.matmul(inv._R, V)  # (G, k, n)
        self.posterior = xp.matmul(RV * RV, (1.0 / d).swapaxes(-1, -2))  # (G, k, K): diag(R N^-1 R^T)
        self.AV = ops.contiguous(xp.matmul(inv._A, V))  # (G, m, n): pair velocities of the eigen-directions
        AV2 = self.AV**2 * inv._base[None, :, None]  # rows scaled to unit pair error
        # residual variance of pair i (relative to its own error) with robust weight r_i:
        # 1 - r_i * lev1_i + lev2_i  (kept, r = 1: row norm^2 of I - H; left out, r = 0: prediction error)
        self.lev1 = xp.matmul(AV2, (2.0 / d).swapaxes(-1, -2))  # (G, m, K)
        self.lev2 = xp.matmul(AV2, (e[:, None, :] / d**2).swapaxes(-1, -2))

    #: The per-pattern arrays (first axis: pattern).
    FIELDS = ("V", "Vt", "d", "fit", "dof", "posterior", "AV", "lev1", "lev2")

    @classmethod
    def stacked(cls, ops, parts):
        """The patterns of ``parts`` (one dict of :data:`FIELDS` arrays per pattern, as :meth:`part` gives) in order."""
        pat = cls.__new__(cls)
        pat.ops = ops
        for name in cls.FIELDS:
            setattr(pat, name, ops.stack([part[name] for part in parts]))
        return pat

    def part(self, g):
        """Copies of pattern ``g``'s arrays (a dict of :data:`FIELDS`)."""
        return {name: self.ops.copy(getattr(self, name)[g]) for name in self.FIELDS}

    def nbytes(self):
        """Bytes of one pattern's arrays."""
        return sum(8 * int(np.prod(getattr(self, name).shape[1:])) for name in self.FIELDS)


class Parts:
    """Per-pattern arrays kept between batches of pixels, least recently used first out: at most ``budget`` bytes,
    counted from the first part kept (``nbytes``: bytes of one part)."""

    def __init__(self, budget):
        self.budget = budget
        self._parts = OrderedDict()
        self._limit = None

    def __contains__(self, key):
        return key in self._parts

    def get(self, key):
        return self._parts[key]

    def size(self, nbytes):
        """Sets the number of parts kept from the bytes of one (once)."""
        if self._limit is None:
            self._limit = max(1, int(self.budget // max(nbytes, 1)))
        return self._limit

    def remember(self, key, part):
        self._parts[key] = part
        self._parts.move_to_end(key)
        while len(self._parts) > self._limit:
            self._parts.popitem(last=False)


class PatternCache:
    """Factorisations of weight patterns kept between batches of pixels (least recently used first out).

    A pattern's arrays depend only on its weight row (and the inversion's pairs and lambdas), not on the
    other patterns factorised with it, so the chunks and blocks of a stack reuse them: most pixels share
    the same few patterns (all pairs valid; the same blunder pairs left out). ``budget`` in bytes.
    """

    def __init__(self, budget):
        self._parts = Parts(budget)

    def patterns(self, inv, rows, lams):
        """:class:`WeightPatterns` of distinct robust-weight rows (G, m) (numpy), from the cache where it has them."""
        ops = inv.ops
        keys = [row.tobytes() for row in rows]
        found = {key: self._parts.get(key) for key in keys if key in self._parts}
        missing = [g for g, key in enumerate(keys) if key not in found]
        if missing:
            sub = rows[missing]
            fresh = WeightPatterns(inv, ops.asarray(sub * inv.base_weights[None]), ops.asarray(sub.sum(1)), lams)
            limit = self._parts.size(fresh.nbytes())
            if not found:
                for j in range(min(len(keys), limit)):
                    self._parts.remember(keys[j], fresh.part(j))
                return fresh
            found.update((keys[g], fresh.part(j)) for j, g in enumerate(missing))
        result = WeightPatterns.stacked(ops, [found[key] for key in keys])
        for key in keys:
            self._parts.remember(key, found[key])
        return result
