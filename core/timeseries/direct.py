"""Regularised normal equations solved once per weight pattern, one lambda at a time (Cholesky).

With a fixed lambda a pixel needs its system at one lambda, or at a few (the screening levels of
'reject' suspects): the eigendecomposition of :class:`~.patterns.WeightPatterns`, which serves every
candidate lambda at once, costs more than a Cholesky factorisation per lambda needed. Pixels with
the same pair weights share the same normal matrix, so everything that depends on it is computed
once per distinct weight row (a *pattern*; cloud gaps and rejections make many patterns, most held
by a few pixels) and only the right-hand sides are per pixel.

With ``N = N0 + lambda DtD`` (``N0 = A^T W A`` plus the same tiny ridge,
:func:`~.patterns.normal_matrices`) and its inverse from a Cholesky factorisation,
:class:`PatternSystems` gives, per pattern:

* ``N^-1``, from which each pixel's interval velocities are ``x = N^-1 A^T W y`` (m/yr);
* ``a_i^T N^-1 a_i`` and ``|D N^-1 a_i|^2`` (D applied by its few diagonals), hence the leverage
  terms of pair i (relative to its own error, base weight ``b_i``): ``lev1 = 2 b_i a_i^T N^-1 a_i``
  and ``lev2 = b_i a_i^T N^-1 N0 N^-1 a_i = b_i (a_i^T N^-1 a_i - lambda |D N^-1 a_i|^2)``;
* the residual degrees of freedom ``m_eff - tr(N^-1 N0) = m_eff - n + lambda tr(N^-1 DtD)``;
* the posterior variance factors ``diag(R N^-1 R^T)``.

These are the quantities the eigendecomposition gives (the same systems, the same values to
rounding); the weighted residual sum of squares that goes with them is ``r^T W r + ridge |x|^2``.
A pattern's values do not depend on the other patterns solved with it.
"""

import numpy as np

from .patterns import apply_flat, layout, normal_matrices, ridges, right

#: A pattern whose weights are below its parent's (its valid pairs) in at most this many pairs is solved by a downdate.
DOWNDATE_MAX = 6
#: Smallest eigenvalue of ``I - U^T Np^-1 U`` a downdate may have (its rounding grows as the inverse; bounded through
#: the Frobenius norm of the inverse), else the pattern is factorised afresh.
DOWNDATE_MIN = 0.01
#: Largest first-order relative change of ``N^-1`` a downdate may leave for the ridge's change (``|change| tr N^-1``).
RIDGE_DRIFT = 1e-10
#: A row with at most this many pairs missing (or down-weighted) is factorised as a downdate of the system with every
#: pair (then kept as a factorisation, a parent for its own downdates).
FULL_DOWNDATE_MAX = 16
#: What a factorised system keeps for downdates (besides its posterior at the fixed lambda), see PatternSystems._fresh.
PARTS = ("Ninv", "spread", "dd", "t_dtd", "t_inv")


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


class PatternSystems:
    """The systems ``A^T W A + lambda DtD`` of G weight patterns (backend arrays), solved at one lambda at a time.

    ``inv`` the :class:`~.inversion.PairInversion`; ``rows`` (G, m) robust weights (0-1, numpy) of each pattern and
    ``parents`` (G, m) rows at or above them (the pixels' valid pairs); ``lams`` (K,) the candidate lambdas
    (numpy; the last is the fixed one, the only one whose posterior is given); ``cache`` a
    :class:`~.patterns.Parts` keeping factorised rows between calls; ``leverage``: also give the leverage terms
    (screening).

    A row that differs from its parent in at most ``DOWNDATE_MAX`` pairs (pairs left out by the screening) is
    solved from the parent's factorisation by the Woodbury identity (``Np - U U^T``, the columns of U the pairs
    dropped, scaled by the square root of the weight dropped), where that is well conditioned
    (``DOWNDATE_MIN``, ``RIDGE_DRIFT``); any other row is factorised (Cholesky) and kept in the cache. Which way a
    row is solved depends only on the row and its parent, not on the other patterns.
    """

    def __init__(self, inv, rows, parents, lams, cache, leverage=True):
        self.inv, self.ops, self.lams, self.cache, self.leverage = inv, inv.ops, lams, cache, leverage
        self.rows, self.parents = np.ascontiguousarray(rows), np.ascontiguousarray(parents)
        self.m_eff = inv.ops.asarray(self.rows.sum(1))
        self._ridge = ridges(inv, self.rows)  # numpy
        self.ridge = inv.ops.asarray(self._ridge)
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

    def _fresh(self, rows, lam, last):
        """The factorised systems of robust-weight rows (g, m) (numpy): a dict of (g, ...) arrays ``Ninv``,
        ``spread`` and ``dd`` (g, m) (``a_i^T N^-1 a_i``, ``|D N^-1 a_i|^2``), ``t_dtd``, ``t_inv`` (g,)
        (``tr(N^-1 DtD)``, ``tr(N^-1)``) and at the last lambda ``posterior`` (g, k)."""
        inv, ops, xp = self.inv, self.ops, self.ops.xp
        N0, _ = normal_matrices(inv, ops.asarray(rows * inv.base_weights[None]))
        Ninv = ops.inverse_spd(N0 + lam * inv._DtD)
        H = right(xp, Ninv, inv._AT).swapaxes(1, 2)  # N^-1 symmetric: row i of A N^-1 is (N^-1 a_i)^T
        DH = self._difference(H)  # (g, m, rows of D): D N^-1 a_i
        out = {"Ninv": Ninv, "spread": xp.einsum("pin,in->pi", H, inv._A),
               "dd": xp.einsum("pij,pij->pi", DH, DH), "t_dtd": xp.einsum("pij,ij->p", Ninv, inv._DtD),
               "t_inv": xp.einsum("pii->p", Ninv)}
        if last:
            out["posterior"] = xp.einsum("pnk,kn->pk", right(xp, Ninv, inv._R.T), inv._R)  # diag(R N^-1 R^T)
        return out

    def _downdate(self, bases, base_of, rows, parent_rows, ridge, parent_ridge, last, leverage=True):
        """Downdates of rows (d, m) (numpy) below their parents ``parent_rows`` from the parents' systems
        ``bases[base_of]`` (:data:`PARTS`) by the Woodbury identity: ``N^-1 = Np^-1 + Y Ki Y^T`` with
        ``Y = Np^-1 U`` (d, n, k) and ``Ki = (I - U^T Np^-1 U)^-1`` (d, k, k). Returns a dict of (d, ...) arrays
        ``Yt`` (Y^T), ``Ki`` and :meth:`_fresh`'s but ``Ninv`` and ``H`` (and ``dd`` without ``leverage``), and which
        (d,) are accurate."""
        inv, ops, xp = self.inv, self.ops, self.ops.xp
        drop = (parent_rows - rows) * inv.base_weights[None]  # weight dropped per pair, >= 0
        k = max(1, int((drop > 0).sum(1).max()))
        S = np.argsort(drop <= 0, axis=1, kind="stable")[:, :k]  # the pairs dropped first, then any (weight 0)
        sq = np.sqrt(np.take_along_axis(drop, S, 1))
        Ut = ops.asarray(inv.A_intervals[S] * sq[:, :, None])  # (d, k, n): U^T
        d, n = rows.shape[0], self.inv.n_unknowns
        Yt = ops.zeros((d, k, n))
        F = ops.zeros((d, k, n)) if leverage else None
        DtD = inv._DtD
        for b in np.unique(base_of):  # the children of each parent together: one product each
            mine = np.flatnonzero(base_of == b)
            at = ops.as_index(mine)
            Ninv = bases[b]["Ninv"]
            Ym = xp.matmul(Ut[at].reshape(-1, n), Ninv.T)  # rows: (Np^-1 u_s)^T
            Yt[at] = Ym.reshape(-1, k, n)
            if leverage:
                F[at] = xp.matmul(xp.matmul(Ym, DtD), Ninv).reshape(-1, k, n)  # rows: (DtD Y_s)^T Np^-1
        AYt = right(xp, Yt, inv._AT)  # (d, k, m): (A Np^-1 U)^T
        at = ops.as_index(np.arange(d))[:, None]
        G = ops.asarray(sq)[:, :, None] * AYt[at, :, ops.as_index(S)]  # (d, k, k): U^T Np^-1 U
        K = ops.asarray(np.eye(k))[None] - 0.5 * (G + G.swapaxes(1, 2))
        try:
            Ki = ops.inv(K)
        except np.linalg.LinAlgError:  # numerically singular (the pairs dropped hold the system): none downdated
            return None, np.zeros(d, dtype=bool)
        # |Ki|_2 <= |Ki|_F: how much the downdate may grow rounding errors
        conditioned = ops.to_numpy((Ki * Ki).sum((1, 2))) <= 1.0 / DOWNDATE_MIN**2
        Q = xp.matmul(Ki, AYt)  # column i: Ki Y^T a_i, so N^-1 a_i = Np^-1 a_i + Y q_i
        M = xp.matmul(right(xp, Yt, DtD), Yt.swapaxes(1, 2))  # Y^T DtD Y
        at = ops.as_index(base_of)
        parent = {name: ops.stack([base[name] for base in bases])[at] for name in ("spread", "dd", "t_dtd", "t_inv")
                  + (("posterior",) if last else ())}
        out = {"Yt": Yt, "Ki": Ki, "spread": parent["spread"] + (AYt * Q).sum(1),
               "t_dtd": parent["t_dtd"] + (Ki * M).sum((1, 2)),
               "t_inv": parent["t_inv"] + (Ki * xp.matmul(Yt, Yt.swapaxes(1, 2))).sum((1, 2))}
        if leverage:
            E = right(xp, F, inv._AT)  # (d, k, m): Y^T DtD Np^-1 a_i
            out["dd"] = parent["dd"] + 2.0 * (E * Q).sum(1) + (Q * xp.matmul(M, Q)).sum(1)
        if last:
            RYt = right(xp, Yt, inv._R.T)  # (d, k, steps)
            out["posterior"] = parent["posterior"] + (RYt * xp.matmul(Ki, RYt)).sum(1)
        drift = np.abs(ridge - parent_ridge) * ops.to_numpy(out["t_inv"])
        return out, conditioned & (drift <= RIDGE_DRIFT)

    def level(self, j, groups=None):
        """The systems at candidate lambda ``j`` of patterns ``groups`` (numpy indices; None: all, kept for later
        calls), for :meth:`solve`.

        A dict: ``dof`` (g,), with ``leverage`` ``lev1``, ``lev2`` (g, m), at the last lambda ``posterior`` (g, k)
        (backend arrays), and how to solve: ``bases`` (list of ``N^-1`` (n, n)), ``base_of`` (g,) (numpy) and, for
        the patterns downdated from their base (``down``, numpy indices), ``Yt`` and ``Ki``.
        """
        if groups is None and j in self._all:
            return self._all[j]
        inv, ops = self.inv, self.ops
        idx = np.arange(self.rows.shape[0]) if groups is None else np.asarray(groups)
        lam, last = float(self.lams[j]), j == len(self.lams) - 1
        names = ("t_dtd",) + (("spread", "dd") if self.leverage else ()) + (("posterior",) if last else ())
        rows, parents = self.rows[idx], self.parents[idx]
        keys = [(row.tobytes(), lam) for row in rows]
        below = (parents != rows).sum(1)
        down = np.flatnonzero((below > 0) & (below <= DOWNDATE_MAX) & (parents >= rows).all(1)
                               & np.array([key not in self.cache for key in keys], dtype=bool))
        parts, downs = {}, set(down.tolist())
        parent_keys = [(row.tobytes(), lam) for row in parents[down]]
        self._factorise(parts, [(keys[t], rows[t]) for t in range(idx.size) if t not in downs]
                        + list(zip(parent_keys, parents[down])), lam, last)
        base_keys = list(dict.fromkeys([keys[t] for t in range(idx.size) if t not in downs] + parent_keys))
        base_index = {key: b for b, key in enumerate(base_keys)}
        base_of = np.array([base_index.get(key, -1) for key in keys])
        out = {"bases": [parts[key]["Ninv"] for key in base_keys], "base_of": base_of}
        got = {name: ops.zeros((idx.size,) + tuple(parts[base_keys[0]][name].shape)) for name in names} if (
            base_keys) else {}
        if down.size:
            bases = [parts[key] for key in base_keys]
            res, good = self._downdate(bases, np.array([base_index[key] for key in parent_keys]), rows[down],
                                       parents[down], self._ridge[idx[down]],
                                       ridges(inv, parents[down]), last, self.leverage)
            bad = down[~good]
            if bad.size:  # factorised afresh: their own bases
                self._factorise(parts, [(keys[t], rows[t]) for t in bad], lam, last)
                for t in bad:
                    base_index.setdefault(keys[t], len(out["bases"]))
                    if base_index[keys[t]] == len(out["bases"]):
                        out["bases"].append(parts[keys[t]]["Ninv"])
                    base_of[t] = base_index[keys[t]]
            keep = ops.as_index(np.flatnonzero(good))
            down = down[good]
            if down.size:
                base_of[down] = np.array([base_index[key] for key, ok in zip(parent_keys, good) if ok],
                                         dtype=np.int64)
                at = ops.as_index(down)
                for name in names:
                    got[name][at] = res[name][keep]
                out["Yt"], out["Ki"] = res["Yt"][keep], res["Ki"][keep]
        out["down"] = down
        rest = np.setdiff1d(np.arange(idx.size), down)
        if rest.size:  # patterns solved by their own factorisation
            at = ops.as_index(rest)
            for name in names:
                got[name][at] = ops.stack([parts[keys[t]][name] for t in rest])
        out["dof"] = self.m_eff[ops.as_index(idx)] - (inv.n_unknowns - lam * got["t_dtd"])
        if self.leverage:
            out["lev1"] = 2.0 * inv._base[None] * got["spread"]
            out["lev2"] = inv._base[None] * (got["spread"] - lam * got["dd"])
        if last:
            out["posterior"] = got["posterior"]
        if groups is None:
            self._all[j] = out
        return out

    def solve(self, at, inverse, rhs):
        """``x = N^-1 rhs`` (P, n, c) of pixels of patterns ``inverse`` (P,) (numpy, indices into the patterns of
        :meth:`level`'s ``at``) with right-hand sides ``rhs`` (P, n, c)."""
        ops, xp = self.ops, self.ops.xp
        base_px = at["base_of"][inverse]
        order, starts = layout(base_px, len(at["bases"]))
        x = apply_flat(ops, at["bases"], ops.as_index(order), starts, rhs)
        if at["down"].size:  # + Y Ki Y^T rhs
            slot = np.full(at["base_of"].size, -1)
            slot[at["down"]] = np.arange(at["down"].size)
            px = np.flatnonzero(slot[inverse] >= 0)
            if px.size:
                s, p = ops.as_index(slot[inverse[px]]), ops.as_index(px)
                Yt = at["Yt"][s]
                x[p] = x[p] + xp.matmul(Yt.swapaxes(1, 2), xp.matmul(at["Ki"][s], xp.matmul(Yt, rhs[p])))
        return x

    def _factorise(self, parts, wanted, lam, last):
        """Puts into ``parts`` (key → dict of arrays) the systems of ``wanted`` [(key, row)]: from the cache or
        factorised (then cached)."""
        ops = self.ops
        todo = {}
        for key, row in wanted:
            if key in parts or key in todo:
                continue
            if key in self.cache:
                parts[key] = self.cache.get(key)
                self.cache.remember(key, parts[key])
            else:
                todo[key] = row
        if not todo:
            return
        rows = np.stack(list(todo.values()))
        keys = list(todo)
        below = (rows != 1).sum(1)
        near = np.flatnonzero((below > 0) & (below <= FULL_DOWNDATE_MAX) & (rows <= 1).all(1))
        if near.size:  # downdates of the system with every pair, kept as factorisations
            full = np.ones(rows.shape[1])
            full_key = (full.tobytes(), lam)
            self._factorise(parts, [(full_key, full)], lam, last)
            base = parts[full_key]
            res, good = self._downdate([base], np.zeros(near.size, dtype=np.int64), rows[near],
                                       np.broadcast_to(full, rows[near].shape),
                                       ridges(self.inv, rows[near]),
                                       ridges(self.inv, full[None]), last)
            near = near[good]
            if near.size:
                ok = ops.as_index(np.flatnonzero(good))
                Yt, Ki = res["Yt"][ok], res["Ki"][ok]
                made = {name: res[name][ok] for name in PARTS[1:] + (("posterior",) if last else ())}
                made["Ninv"] = base["Ninv"][None] + ops.xp.matmul(Yt.swapaxes(1, 2), ops.xp.matmul(Ki, Yt))
                self._keep(parts, [keys[t] for t in near], made)
        rest = np.setdiff1d(np.arange(len(keys)), near)
        if rest.size:
            self._keep(parts, [keys[t] for t in rest], self._fresh(rows[rest], lam, last))

    def _keep(self, parts, keys, arrays):
        """Puts the systems ``arrays`` (name → (g, ...)) of ``keys`` into ``parts`` and the cache."""
        self.cache.size(sum(8 * int(np.prod(value.shape[1:])) for value in arrays.values()))
        for g, key in enumerate(keys):
            parts[key] = {name: self.ops.copy(value[g]) for name, value in arrays.items()}
            self.cache.remember(key, parts[key])
