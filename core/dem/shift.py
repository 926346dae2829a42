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
    out = np.empty(array.shape, dtype=np.float32)
    out[:r0] = np.nan
    out[r1:] = np.nan
    out[:, :c0] = np.nan
    out[:, c1:] = np.nan
    if r0 >= r1 or c0 >= c1:
        return out
    acc = out[r0:r1, c0:c1]  # the weighted slices are summed in place, in the order of the terms
    part = np.empty(acc.shape, dtype=np.float32) if len(terms) > 1 else None
    for k, (r, c, w) in enumerate(terms):
        np.multiply(array[r0 + r:r1 + r, c0 + c:c1 + c], np.float32(w), out=acc if k == 0 else part)
        if k:
            acc += part
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
    out = np.zeros(rows.shape, dtype=np.float32)
    if rows.size == 0:
        return out
    # points whose 2x2 neighbourhood leaves the array are NaN; usually there are none, so test the extremes first
    lo_r, hi_r, lo_c, hi_c = rows.min() + min(kr), rows.max() + max(kr), cols.min() + min(kc), cols.max() + max(kc)
    outside = None
    if not (lo_r >= 0 and hi_r < height and lo_c >= 0 and hi_c < width):
        outside = ((rows + min(kr) < 0) | (rows + max(kr) >= height)
                   | (cols + min(kc) < 0) | (cols + max(kc) >= width))
    # flat index of the first neighbour (clipped), the others are gathered from offset views
    first = min(r * width + c for r, c, _ in terms)
    base = rows * width + cols + first
    if outside is not None:
        np.clip(base, 0, array.size - 1, out=base)
    values = array.ravel()
    for r, c, w in terms:
        part = values[r * width + c - first:].take(base, mode="clip")
        part *= np.float32(w)
        out += part
    if outside is not None:
        out[outside] = np.nan
    return out
