"""Glacier surface velocity by image correlation (feature tracking).

Small composable pieces, from the bottom up:

* :mod:`.prefilters` — image prefilters (none, Wallis, high-pass, orientation).
* :mod:`.backends` — numpy (scipy.fft) and torch (CPU/CUDA) array backends.
* :mod:`.correlation` — batched zero-normalized cross-correlation of N chips at once.
* :mod:`.subpixel` — sub-pixel peak location (spectrum-based Newton refinement, parabola, Gaussian).
* :mod:`.filtering` — quality status, normalized median test, stable-ground statistics.
* :mod:`.engine` — the windowed whole-scene offset tracker (px).
* :mod:`.dates` — acquisition dates from names/metadata; the interval in years.
* :mod:`.velocity` — the georeferenced pipeline: velocities in m/yr, GeoTIFF, arrow points.
"""

from .correlation import Peaks, correlate
from .dates import date_of_raster, interval_years, parse_date
from .engine import (ArraySource, CorrelationParams, OffsetField, OffsetTracker, PointLayout, RasterSource,
                     track_arrays)
from .filtering import STATUS
from .prefilters import PREFILTERS, Prefilter
from .subpixel import METHODS as SUBPIXEL_METHODS
from .velocity import BANDS, VelocityResult, glacier_velocity, write_velocity

__all__ = [
    "ArraySource", "BANDS", "CorrelationParams", "OffsetField", "OffsetTracker", "PREFILTERS", "Peaks",
    "PointLayout", "Prefilter", "RasterSource", "STATUS", "SUBPIXEL_METHODS", "VelocityResult", "correlate",
    "date_of_raster", "glacier_velocity", "interval_years", "parse_date", "track_arrays", "write_velocity",
]
