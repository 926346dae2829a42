"""The grid reader now lives in :mod:`serac.core.raster_io` (one reader for every capability).

Kept so that existing imports (``from serac.core.dem.gridread import BandReader``) still work.
"""

from ..raster_io import ALIGN_TOLERANCE_PX, LATTICE, BandReader, pixel_offset  # noqa: F401
