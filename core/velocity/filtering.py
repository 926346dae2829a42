"""Quality screening, outlier removal and stable-ground correction of offset fields.

Works on the point grid (2-D arrays, one value per correlation point). Offsets are
in px; velocities in m/yr. Every point carries a status code (``STATUS``):

====  =================  ====================================================
code  name               meaning
====  =================  ====================================================
0     nodata             chip or search window (mostly) outside the images / nodata
1     valid              kept
2     low_quality        ZNCC peak or peak ratio below the thresholds, or no texture
3     outlier            failed the normalized median test
4     search_edge        best match on the border of the search range
====  =================  ====================================================
"""

import math
from dataclasses import dataclass

import numpy as np

from ..stats import nmad

NODATA, VALID, LOW_QUALITY, OUTLIER, SEARCH_EDGE = 0, 1, 2, 3, 4
STATUS = {NODATA: "nodata", VALID: "valid", LOW_QUALITY: "low_quality", OUTLIER: "outlier",
          SEARCH_EDGE: "search_edge"}


def quality_status(ncc, ratio, on_edge, flat, min_ncc=0.2, min_ratio=1.1):
    """Status codes (uint8) from the correlation quality of each point.

    ``min_ncc``: lowest accepted ZNCC peak (-1..1); ``min_ratio``: lowest accepted
    peak-to-second-peak ratio (>= 1).
    """
    status = np.full(np.shape(ncc), VALID, dtype=np.uint8)
    status[(np.asarray(ncc) < min_ncc) | (np.asarray(ratio) < min_ratio) | np.asarray(flat)] = LOW_QUALITY
    status[np.asarray(on_edge)] = SEARCH_EDGE
    return status


def _neighbour_stack(values, radius):
    """(K, rows, cols) values of the (2 radius + 1)^2 - 1 neighbours of every cell (NaN outside)."""
    rows, cols = values.shape
    padded = np.pad(values.astype(np.float32), radius, constant_values=np.nan)
    out = []
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            if dr or dc:
                out.append(padded[radius + dr:radius + dr + rows, radius + dc:radius + dc + cols])
    return np.stack(out)


def normalized_median_test(dx, dy, valid, radius=1, threshold=3.0, epsilon=0.1, min_neighbours=3):
    """Outliers by the normalized median test (Westerweel & Scarano 2005, Exp. Fluids 39: 1096).

    For each valid point, ``r = |u - median(u_n)| / (median(|u_n - median(u_n)|) + epsilon)``
    over its valid neighbours u_n within ``radius`` points, per component; a point is an
    outlier when ``sqrt(r_x^2 + r_y^2) > threshold`` or when it has fewer than
    ``min_neighbours`` valid neighbours (isolated matches are not trusted). ``epsilon`` (px)
    is the expected noise of the offsets. Returns a boolean array.
    """
    valid = np.asarray(valid, dtype=bool)
    residual_sq = np.zeros(valid.shape, dtype=np.float32)
    count = None
    for component in (dx, dy):
        values = np.where(valid, component, np.nan)
        neighbours = _neighbour_stack(values, radius)
        if count is None:
            count = np.isfinite(neighbours).sum(axis=0)
        with np.errstate(invalid="ignore"), _quiet_nan_warnings():
            median = np.nanmedian(neighbours, axis=0)
            spread = np.nanmedian(np.abs(neighbours - median), axis=0)
            r = np.abs(values - median) / (spread + epsilon)
        residual_sq += np.where(np.isfinite(r), r * r, 0.0)
    return valid & ((np.sqrt(residual_sq) > threshold) | (count < min_neighbours))


class _quiet_nan_warnings:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


@dataclass
class StableGround:
    """Offsets measured on stable ground (px): count, median (the correction) and NMAD after correction."""

    count: int
    median_dx: float
    median_dy: float
    nmad_dx: float
    nmad_dy: float

    @property
    def usable(self):
        return self.count > 0 and np.isfinite(self.median_dx)


def stable_ground(dx, dy, stable, min_count=10, estimator="median"):
    """Median (or mode) and NMAD of the offsets at valid points where ``stable`` is True.

    ``estimator``: ``median``, or ``mode`` (:func:`half_sample_mode`, for a population with a
    one-sided tail such as :func:`slow_population`). With fewer than ``min_count`` stable
    points the centres are NaN (no correction).
    """
    sel = np.asarray(stable, dtype=bool) & np.isfinite(dx) & np.isfinite(dy)
    count = int(sel.sum())
    if count < max(1, min_count):
        return StableGround(count, float("nan"), float("nan"), float("nan"), float("nan"))
    centre = half_sample_mode if estimator == "mode" else (lambda v: float(np.median(v)))
    return StableGround(count, centre(dx[sel]), centre(dy[sel]), nmad(dx[sel]), nmad(dy[sel]))


def half_sample_mode(values):
    """Mode of 1-D samples by the half-sample method (Bickel & Frühwirth 2006): robust to one-sided tails."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    while x.size > 3:
        half = (x.size + 1) // 2
        widths = x[half - 1:] - x[:x.size - half + 1]
        i = int(np.argmin(widths))
        x = x[i:i + half]
    return float(np.mean(x)) if x.size < 3 or x[1] - x[0] == x[2] - x[1] else \
        float(np.mean(x[:2]) if x[1] - x[0] < x[2] - x[1] else np.mean(x[1:]))


def slow_population(dx, dy, valid, max_offset=2.0, bin_px=0.1, min_count=10, min_fraction=0.05):
    """The slow-moving population: valid points in the densest cluster of offsets near zero (boolean).

    Stable ground shows one sharp cluster of offsets, at the misregistration between the
    images; moving ice spreads over larger offsets (and chips that straddle a glacier margin
    make a tail on one side of the cluster). The cluster is found as the mode of the 2-D
    histogram of (dx, dy) (``bin_px`` px bins, smoothed) within ``max_offset`` px of zero,
    refined by the half-sample mode of each axis; its spread ``s`` comes from the 25th
    percentile of the distances to the mode (little touched by a one-sided tail) and its
    members are the points within ``3 s`` (0.15-0.5 px) of the mode. Offsets in px. Returns
    an all-False mask when fewer than ``min_count`` points or ``min_fraction`` of the valid
    points are in the cluster (no stable population to trust).
    """
    from scipy import ndimage

    dx, dy = np.asarray(dx, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool) & np.isfinite(dx) & np.isfinite(dy)
    near = ok & (np.abs(dx) <= max_offset) & (np.abs(dy) <= max_offset)
    none = np.zeros(ok.shape, dtype=bool)
    need = max(min_count, int(math.ceil(min_fraction * ok.sum())))
    if near.sum() < need:
        return none
    edges = np.arange(-max_offset, max_offset + bin_px / 2, bin_px)
    hist, _, _ = np.histogram2d(dy[near], dx[near], bins=(edges, edges))
    hist = ndimage.gaussian_filter(hist, 1.0, mode="constant")
    r, c = np.unravel_index(int(np.argmax(hist)), hist.shape)
    centre = np.array([edges[r] + bin_px / 2, edges[c] + bin_px / 2])
    radius = 0.5
    for _ in range(3):  # re-centre on the mode of the members, and fit the radius to their spread
        members = near & (np.hypot(dy - centre[0], dx - centre[1]) <= radius)
        if members.sum() < need:
            return none
        centre = np.array([half_sample_mode(dy[members]), half_sample_mode(dx[members])])
        distance = np.hypot(dy[members] - centre[0], dx[members] - centre[1])
        sigma = float(np.percentile(distance, 25)) / 0.7585  # 2-D normal: q25 of the distance = 0.7585 sigma
        radius = float(np.clip(3.0 * sigma, 0.15, 0.5))
    members = near & (np.hypot(dy - centre[0], dx - centre[1]) <= radius)
    return members if members.sum() >= need else none


def error_scale(dx, dy, sigma_x, sigma_y, stable, min_count=10):
    """Calibration of the peak error model on stable ground: NMAD of the normalized residuals.

    ``dx``, ``dy``: offsets (any unit), ``sigma_x``, ``sigma_y``: the model's error in the same
    unit, ``stable``: points without motion. Stable offsets differ from their median only by
    error, so ``(d - median) / sigma`` has unit spread when the model is right; the NMAD of
    that ratio (both axes pooled) is the factor the model is scaled by. None with fewer than
    ``min_count`` usable points.
    """
    sel = np.asarray(stable, dtype=bool) & np.isfinite(dx) & np.isfinite(dy) & (sigma_x > 0) & (sigma_y > 0)
    if sel.sum() < min_count:
        return None
    rx = (dx[sel] - np.median(dx[sel])) / sigma_x[sel]
    ry = (dy[sel] - np.median(dy[sel])) / sigma_y[sel]
    scale = nmad(np.concatenate([rx, ry]))
    return scale if np.isfinite(scale) and scale > 0 else None
