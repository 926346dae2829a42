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


def stable_ground(dx, dy, stable, min_count=10):
    """Median and NMAD of the offsets at valid points where ``stable`` is True.

    With fewer than ``min_count`` stable points the medians are NaN (no correction).
    """
    sel = np.asarray(stable, dtype=bool) & np.isfinite(dx) & np.isfinite(dy)
    count = int(sel.sum())
    if count < max(1, min_count):
        return StableGround(count, float("nan"), float("nan"), float("nan"), float("nan"))
    return StableGround(count, float(np.median(dx[sel])), float(np.median(dy[sel])), nmad(dx[sel]), nmad(dy[sel]))
