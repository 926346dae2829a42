"""Velocity time series: many velocity pairs of one area combined into a regular series.

* :mod:`.design` — dates, :class:`TimeGrid`, the design matrix (fraction of each pair's
  baseline in each interval), the intervals between acquisition dates, their resampling
  onto output steps and temporal difference operators.
* :mod:`.inversion` — per-pixel weighted, regularised, robust least squares, batched over
  pixels (:class:`PairInversion`, :func:`invert_point`).
* :mod:`.io` — velocity pair rasters with their dates and units (:func:`open_pairs`, :class:`PairStack`).
* :mod:`.stack` — blockwise raster inversion (:func:`invert_stack`) and the series of one point
  (:func:`point_series`).
* :mod:`.synthetic` — pair stacks with a known truth, and the naive per-step average to compare with.
"""

from .design import TimeGrid, as_day, baselines_days, design_matrix, difference_operator
from .inversion import InversionSettings, PairInversion, PointSeries, invert_point, pair_weights
from .io import PairStack, VelocityPair, dates_from_name, dates_from_tags, error_from_tags, open_pair, open_pairs
from .stack import StackResult, invert_stack, point_series

__all__ = [
    "TimeGrid", "as_day", "baselines_days", "design_matrix", "difference_operator",
    "InversionSettings", "PairInversion", "PointSeries", "invert_point", "pair_weights",
    "PairStack", "VelocityPair", "dates_from_name", "dates_from_tags", "error_from_tags", "open_pair", "open_pairs",
    "StackResult", "invert_stack", "point_series",
]
