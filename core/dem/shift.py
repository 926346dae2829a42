"""Bilinear resampling of a grid shifted by a constant sub-pixel offset.

A co-registration shift is the same everywhere on the grid, so the four bilinear
weights are the same for every pixel: shifting is a weighted sum of four offset
slices (whole arrays) or four offset gathers (sample points). Values next to NaN
or outside the array are NaN, so nodata never leaks into the result.

Offsets are in px of the array's grid: ``drow`` down (south), ``dcol`` right (east).
"""

import math

import numpy as np


def _terms(offset):
    """Integer offsets and weights of a 1-D linear interpolation at ``offset`` px."""
    base = math.floor(offset)
    frac = offset - base
    if frac < 1e-9:
        return [(base, 1.0)]
    if frac > 1.0 - 1e-9:
        return [(base + 1, 1.0)]
    return [(base, 1.0 - frac), (base + 1, frac)]


def _bilinear_terms(drow, dcol):
    rows, cols = _terms(drow), _terms(dcol)
    return [(kr, kc, wr * wc) for kr, wr in rows for kc, wc in cols]


def shift_array(array, drow, dcol):
    """``array`` sampled at (row + drow, col + dcol) for every pixel (bilinear), float32.

    Pixels whose sample position falls outside ``array`` or touches NaN are NaN.
    """
    array = np.asarray(array, dtype=np.float32)
    height, width = array.shape
    terms = _bilinear_terms(drow, dcol)
    kr = [t[0] for t in terms]
    kc = [t[1] for t in terms]
    r0, r1 = max(0, -min(kr)), min(height, height - max(kr))
    c0, c1 = max(0, -min(kc)), min(width, width - max(kc))
    out = np.full(array.shape, np.nan, dtype=np.float32)
    if r0 >= r1 or c0 >= c1:
        return out
    acc = None
    for r, c, w in terms:
        part = array[r0 + r:r1 + r, c0 + c:c1 + c] * np.float32(w)
        acc = part if acc is None else np.add(acc, part, out=acc)
    out[r0:r1, c0:c1] = acc
    return out


def shift_points(array, rows, cols, drow, dcol):
    """``array`` sampled at (rows + drow, cols + dcol) (bilinear), float32; NaN outside or next to NaN.

    ``rows`` and ``cols`` are integer pixel indices of the sample points.
    """
    array = np.asarray(array, dtype=np.float32)
    height, width = array.shape
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    terms = _bilinear_terms(drow, dcol)
    kr = [t[0] for t in terms]
    kc = [t[1] for t in terms]
    inside = ((rows + min(kr) >= 0) & (rows + max(kr) < height)
              & (cols + min(kc) >= 0) & (cols + max(kc) < width))
    flat = rows * width + cols
    values = array.ravel()
    out = np.zeros(rows.shape, dtype=np.float32)
    for r, c, w in terms:
        out += np.take(values, flat + (r * width + c), mode="clip") * np.float32(w)
    out[~inside] = np.nan
    return out
