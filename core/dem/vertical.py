"""Vertical shift: the constant that removes the median (or mean) stable-terrain dh."""

import numpy as np

from ..errors import InputError
from .select import median
from .step import CoregStep


def robust_offset(dh, statistic="median"):
    """Median (default) or mean of the finite values of ``dh`` (m); NaN if none."""
    v = dh[np.isfinite(dh)]
    if v.size == 0:
        return float("nan")
    return float(median(v) if statistic == "median" else np.mean(v))


class VerticalShift(CoregStep):
    """Shift the DEM vertically by minus the median (or mean) stable dh, in m."""

    name = "vertical"

    def __init__(self, statistic="median"):
        if statistic not in ("median", "mean"):
            raise InputError(f"Unknown vertical-shift statistic '{statistic}'.", "use 'median' or 'mean'.")
        self.statistic = statistic

    def fit_step(self, sample, transform, progress):
        offset = robust_offset(sample.dh(transform, sample.fit_points), self.statistic)
        if not np.isfinite(offset):
            raise InputError("No stable pixel is left to estimate the vertical shift.",
                             "check the overlap of the DEMs and the unstable-terrain mask.")
        progress.update(1.0)
        return transform.moved(dz=-offset), {"shift_z_m": -offset}
