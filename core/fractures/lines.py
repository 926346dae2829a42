"""Fracture lines from a response or probability map: threshold, thin to one pixel, trace, measure.

* :func:`thin` — Zhang & Suen (1984) two-pass thinning, vectorised with numpy (no scikit-image): a
  binary mask to its 8-connected one-pixel skeleton.
* :func:`trace_chains` — the skeleton split at junction pixels (3 or more branches) into simple
  chains of pixels, each ordered from one end to the other (loops from any pixel).
* :func:`chain_properties` — per chain: length (m, sum of centre-to-centre steps times the pixel size),
  orientation (deg, 0-180 clockwise from grid north: principal axis of the chain's pixels) and the
  per-pixel length and local direction used by the density maps (:mod:`.density`).
* :func:`line_features` — GeoJSON-like LineString features in map coordinates with ``id``,
  ``length_m``, ``orientation_deg``, ``mean_response``, ``method`` and the review fields every
  reviewable output carries (``review_status = 'unreviewed'``, reviewer, reviewed_at, review_comment,
  geometry_edited = 0, predicted_size in km).

Junction pixels belong to no chain, so a line ends one pixel short of a junction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..review_fields import initial_values

EIGHT = np.ones((3, 3), bool)


def _neighbours(img):
    """P2..P9 (N, NE, E, SE, S, SW, W, NW) of every pixel of a bool array (False outside)."""
    p = np.pad(img, 1)
    h, w = img.shape
    return [p[0:h, 1:w + 1], p[0:h, 2:w + 2], p[1:h + 1, 2:w + 2], p[2:h + 2, 2:w + 2],
            p[2:h + 2, 1:w + 1], p[2:h + 2, 0:w], p[1:h + 1, 0:w], p[0:h, 0:w]]


def thin(mask, max_iterations=200):
    """One-pixel skeleton of a bool mask (Zhang & Suen 1984 thinning)."""
    img = np.asarray(mask, bool).copy()
    for _ in range(max_iterations):
        changed = False
        for step in (0, 1):
            n = _neighbours(img)
            b = sum(x.astype(np.uint8) for x in n)
            seq = n + [n[0]]
            a = sum(((~seq[i]) & seq[i + 1]).astype(np.uint8) for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                c1, c2 = p2 & p4 & p6, p4 & p6 & p8
            else:
                c1, c2 = p2 & p4 & p8, p2 & p6 & p8
            remove = img & (b >= 2) & (b <= 6) & (a == 1) & ~c1 & ~c2
            if remove.any():
                img &= ~remove
                changed = True
        if not changed:
            break
    return img


def neighbour_count(skeleton):
    """Number of 8-neighbours of every pixel that are set."""
    return sum(x.astype(np.uint8) for x in _neighbours(np.asarray(skeleton, bool)))


def crossing_number(skeleton):
    """Number of separate runs of set pixels around every pixel (8-neighbour ring): 1 at a line end, 2 along a
    line (staircase steps included), 3 or more at a junction."""
    n = _neighbours(np.asarray(skeleton, bool))
    seq = n + [n[0]]
    return sum(((~seq[i]) & seq[i + 1]).astype(np.uint8) for i in range(8))


def trace_chains(skeleton):
    """Simple pixel chains [(rows, cols) int arrays, ordered] of a one-pixel skeleton (junctions removed)."""
    skel = np.asarray(skeleton, bool)
    simple = skel & (crossing_number(skel) <= 2)
    labels, n = ndimage.label(simple, structure=EIGHT)
    chains = []
    offsets = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        sub = labels[sl] == i
        rr, cc = np.nonzero(sub)
        if len(rr) == 1:
            chains.append((rr + sl[0].start, cc + sl[1].start))
            continue
        pixels = set(zip(rr.tolist(), cc.tolist()))
        degree = {p: sum((p[0] + dr, p[1] + dc) in pixels for dr, dc in offsets) for p in pixels}
        start = next((p for p, d in degree.items() if d <= 1), (int(rr[0]), int(cc[0])))
        order = [start]
        seen = {start}
        current = start
        while True:
            nxt = None
            for dr, dc in offsets:
                q = (current[0] + dr, current[1] + dc)
                if q in pixels and q not in seen:
                    nxt = q
                    break
            if nxt is None:
                break
            order.append(nxt)
            seen.add(nxt)
            current = nxt
        arr = np.asarray(order)
        chains.append((arr[:, 0] + sl[0].start, arr[:, 1] + sl[1].start))
    return chains


@dataclass
class Chain:
    """One traced fracture: its pixels (ordered), length (m), orientation (deg) and per-pixel measures."""

    rows: np.ndarray
    cols: np.ndarray
    length_m: float
    orientation_deg: float
    step_m: np.ndarray        # length (m) each pixel stands for (half of the steps to its neighbours)
    direction_deg: np.ndarray  # local direction (deg, 0-180 clockwise from north) at each pixel


def azimuth_deg(d_rows, d_cols):
    """Axial azimuth (deg, 0-180, clockwise from grid north/up) of steps (rows down, cols right)."""
    return np.mod(np.degrees(np.arctan2(d_cols, -d_rows)), 180.0)


def chain_properties(rows, cols, pixel_size_m, local_px=3):
    """:class:`Chain` of ordered pixels; ``local_px``: half-span (px) of the local direction."""
    rows = np.asarray(rows)
    cols = np.asarray(cols)
    steps = np.hypot(np.diff(rows), np.diff(cols)) * pixel_size_m
    length = float(steps.sum())
    per_pixel = np.zeros(len(rows))
    if len(steps):
        per_pixel[:-1] += steps / 2
        per_pixel[1:] += steps / 2
    else:
        per_pixel[:] = pixel_size_m
    if len(rows) >= 2:
        dr, dc = rows - rows.mean(), cols - cols.mean()
        cov = np.array([[np.mean(dr * dr), np.mean(dr * dc)], [np.mean(dr * dc), np.mean(dc * dc)]])
        w, v = np.linalg.eigh(cov)
        orientation = float(azimuth_deg(v[0, 1], v[1, 1]))
        i = np.arange(len(rows))
        a, b = np.clip(i - local_px, 0, len(rows) - 1), np.clip(i + local_px, 0, len(rows) - 1)
        direction = azimuth_deg(rows[b] - rows[a], cols[b] - cols[a])
    else:
        orientation = float("nan")
        direction = np.full(len(rows), np.nan)
    return Chain(rows, cols, length, orientation, per_pixel, direction)


def line_features(chains, grid, response=None, method="", min_length_m=0.0, row_off=0, col_off=0):
    """LineString features (map coordinates of ``grid``) of :class:`Chain` objects at least ``min_length_m``
    long; ``response`` (optional, same block as the chains) gives ``mean_response``; ``row_off``/``col_off``
    place block pixels on the grid."""
    features = []
    for ch in chains:
        if len(ch.rows) < 2 or ch.length_m < min_length_m:
            continue
        x, y = grid.xy(ch.rows + row_off, ch.cols + col_off)
        keep = _simplify(np.column_stack([x, y]), 0.5 * min(grid.res))
        mean = float(np.nanmean(response[ch.rows, ch.cols])) if response is not None else float("nan")
        props = {"id": 0, "length_m": round(ch.length_m, 1), "orientation_deg": round(ch.orientation_deg, 1),
                 "mean_response": round(mean, 4) if math.isfinite(mean) else None, "method": method}
        props.update(initial_values(ch.length_m / 1000.0))
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "LineString", "coordinates": [tuple(map(float, p)) for p in keep]}})
    return features


def _simplify(points, tolerance):
    """Douglas-Peucker simplification of a polyline (N, 2) to ``tolerance`` (map units)."""
    if len(points) <= 2:
        return points
    keep = np.zeros(len(points), bool)
    keep[[0, -1]] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = points[i], points[j]
        seg = b - a
        norm = math.hypot(*seg)
        rel = points[i + 1:j] - a
        d = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm if norm > 0 else np.hypot(rel[:, 0], rel[:, 1])
        k = int(np.argmax(d))
        if d[k] > tolerance:
            keep[i + 1 + k] = True
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    return points[keep]
