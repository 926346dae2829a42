"""Separable interpolation on rectilinear lattices (shared by annotation angles and coarse grids).

A value field ``F`` known on lattice nodes ``(rows[i], cols[j])`` is interpolated onto the
target rows ``r`` and columns ``c`` as ``W_r @ F @ W_c.T`` where ``W`` are 1-D interpolation
weight matrices (each target row is a weighted combination of the node values). Cubic
weights come from a not-a-knot cubic spline through the nodes (so nodes are reproduced
exactly), linear weights from hat functions. Evaluating a whole image block is then two
small matrix products, which is much faster than a scattered-data interpolator.
"""

import numpy as np
from scipy.interpolate import CubicSpline

from ..errors import InputError

KINDS = ("linear", "cubic")


def _check_nodes(nodes, what):
    nodes = np.asarray(nodes, dtype=np.float64)
    if nodes.ndim != 1 or nodes.size < 2 or np.any(np.diff(nodes) <= 0):
        raise InputError(f"The {what} of the interpolation lattice must be at least two strictly increasing values.",
                         "check the geolocation grid of the annotation (duplicate or unsorted lines/pixels).")
    return nodes


class Basis:
    """1-D interpolation basis on fixed ``nodes``: :meth:`weights` for any targets (cached spline)."""

    def __init__(self, nodes, kind="cubic"):
        if kind not in KINDS:
            raise InputError(f"Unknown interpolation '{kind}'.", f"use one of {KINDS}.")
        self.nodes = _check_nodes(nodes, "nodes")
        self.kind = kind if self.nodes.size >= 4 else "linear"
        self._spline = (CubicSpline(self.nodes, np.eye(self.nodes.size), axis=0, bc_type="not-a-knot")
                        if self.kind == "cubic" else None)

    def weights(self, targets, derivative=0):
        """(len(targets), len(nodes)) weights: ``weights @ node_values`` interpolates at ``targets``.

        Targets outside the nodes are extrapolated (with the end segment for 'linear', the
        end cubic for 'cubic'). ``derivative`` 1 gives weights of the first derivative.
        """
        targets = np.asarray(targets, dtype=np.float64).ravel()
        if self._spline is not None:
            return self._spline(targets, derivative)
        nodes, n = self.nodes, self.nodes.size
        k = np.clip(np.searchsorted(nodes, targets, side="right") - 1, 0, n - 2)
        h = nodes[k + 1] - nodes[k]
        w = np.zeros((targets.size, n))
        idx = np.arange(targets.size)
        if derivative == 0:
            t = (targets - nodes[k]) / h
            w[idx, k] = 1.0 - t
            w[idx, k + 1] = t
        else:
            w[idx, k] = -1.0 / h
            w[idx, k + 1] = 1.0 / h
        return w


def weights(nodes, targets, kind="cubic", derivative=0):
    """Interpolation weights of ``targets`` on ``nodes`` (see :meth:`Basis.weights`).

    ``kind`` 'cubic' (not-a-knot spline through the nodes; linear with fewer than 4 nodes)
    or 'linear'.
    """
    return Basis(nodes, kind).weights(targets, derivative)


def separable(values, row_weights, col_weights, dtype=np.float32):
    """``row_weights @ values @ col_weights.T`` as ``dtype`` (the interpolated 2-D block)."""
    return (row_weights @ (np.asarray(values, dtype=np.float64) @ col_weights.T)).astype(dtype, copy=False)


def coarse_nodes(start, length, step):
    """Node positions covering [start, start + length - 1] every ``step`` (last position included)."""
    stop = start + length - 1
    nodes = np.arange(start, stop + 1, max(1, int(step)), dtype=np.float64)
    if nodes[-1] != stop:
        nodes = np.append(nodes, stop)
    return nodes


def smooth_field(func, row_off, col_off, height, width, step=16, dtype=np.float32):
    """Evaluate a smooth field ``func(rows2d, cols2d) -> array`` on a coarse lattice and
    upsample it bilinearly onto the (height, width) block at (row_off, col_off).

    ``func`` returns one array or a tuple of arrays (then a tuple is returned). The
    bilinear error is bounded by the field's curvature times step^2/8; with smooth
    geometry fields (angles, lon/lat) and step 16 px it is far below the fields' accuracy.
    """
    rows = coarse_nodes(row_off, height, step)
    cols = coarse_nodes(col_off, width, step)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    out = func(rr, cc)
    single = not isinstance(out, tuple)
    out = (out,) if single else out
    if rows.size == 1 or cols.size == 1:
        full = tuple(np.broadcast_to(_interp_degenerate(o, rows, cols, row_off, col_off, height, width),
                                     (height, width)).astype(dtype) for o in out)
    else:
        wr = weights(rows, np.arange(row_off, row_off + height), "linear")
        wc = weights(cols, np.arange(col_off, col_off + width), "linear")
        full = tuple(_separable_nan(o, wr, wc, dtype) for o in out)
    return full[0] if single else full


def _separable_nan(values, row_weights, col_weights, dtype):
    """:func:`separable` where a target is NaN if any node it depends on is NaN (not the whole row)."""
    values = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(values)
    if not missing.any():
        return separable(values, row_weights, col_weights, dtype)
    out = separable(np.where(missing, 0.0, values), row_weights, col_weights, np.float64)
    reach = np.abs(row_weights) @ missing.astype(np.float64) @ np.abs(col_weights).T
    out[reach > 1e-12] = np.nan
    return out.astype(dtype, copy=False)


def _interp_degenerate(values, rows, cols, row_off, col_off, height, width):
    """Linear interpolation when the block is one row or one column wide."""
    values = np.asarray(values, dtype=np.float64)
    if rows.size == 1 and cols.size == 1:
        return np.full((height, width), values.ravel()[0])
    if rows.size == 1:
        return np.interp(np.arange(col_off, col_off + width), cols, values[0])[None, :]
    return np.interp(np.arange(row_off, row_off + height), rows, values[:, 0])[:, None]
