"""DEM inputs (a file path or an in-memory :class:`~serac.core.raster_io.Raster`) read onto a grid.

A file is read window by window with :class:`~serac.core.raster_io.BandReader`: directly when its
pixels line up with the grid's, otherwise through :func:`~serac.core.raster_io.read_on_grid`,
which reprojects and resamples on the fly, so its CRS, resolution and extent may differ
from the grid's. An in-memory raster must already be on the grid.

A source knows the vertical datum its CRS declares (``datum``); one given a
:class:`~.pair_datum.DatumShift` (:meth:`DemSource.with_datum_shift`, done by
:func:`~.pair_datum.match_datums`) reads its heights on another datum.
"""

import copy
import os

import numpy as np
from rasterio.windows import Window

from ..errors import InputError
from ..progress import warn
from ..raster_io import BandReader, Raster, read_grid, require_overlap
from .datum import datum_of_crs

_METRE = {"m", "metre", "meter", "metres", "meters"}
_FOOT = {"ft", "foot", "feet", "us survey foot", "ftus", "us-ft", "foot_us"}


def normalize_unit(unit):
    """'m', 'ft', another lower-case unit name, or None when undeclared."""
    if not unit:
        return None
    u = str(unit).strip().lower()
    if u in _METRE:
        return "m"
    if u in _FOOT:
        return "ft"
    return u or None


class DemSource:
    """A single-band DEM to be read onto grids, from a path or an in-memory Raster.

    ``datum``: the vertical datum its CRS declares ('ellipsoid', 'EGM96', 'EGM2008', another
    name, or None); ``datum_shift``: the conversion added to every read (None: heights as stored).
    """

    datum_shift = None

    def __init__(self, source, name="DEM", band=1):
        self.name = name
        self.band = band
        if isinstance(source, Raster):
            self.path = None
            self.raster = source
            self.grid = source.grid
            self.unit = None
        else:
            self.path = os.fspath(source)
            self.raster = None
            read_grid(self.path)  # an InputError naming the file if GDAL cannot open it
            self.reader = BandReader(self.path, band, name, zero_is_void=True)
            self.grid = self.reader.grid
            self.unit = normalize_unit(self.reader.unit)
            self._check_is_dem()
        self.datum = datum_of_crs(self.grid.crs)

    def _check_is_dem(self):
        """Refuse an 8-bit raster (an image: 256 levels cannot hold elevations); warn for a multi-band one."""
        if np.dtype(self.reader.dtype).itemsize == 1 and not self.reader.encoding.scaled:
            raise InputError(f"The {self.name} '{self.label}' is an 8-bit raster (values 0-255): an image or a "
                             "mask, not elevations.", f"select the {self.name} layer that holds elevations in m.")
        if self.reader.count > 1:
            warn(f"The {self.name} '{self.label}' has {self.reader.count} bands; Serac uses band {self.band} as "
                 "elevations (m).", "If it is an image rather than a DEM, select the DEM layer instead.")

    @classmethod
    def of(cls, source, name):
        return source if isinstance(source, DemSource) else cls(source, name)

    def with_datum_shift(self, shift):
        """A copy of this source whose reads add ``shift`` (a :class:`~.pair_datum.DatumShift`, or None)."""
        out = copy.copy(self)
        out.datum_shift = shift
        return out

    @property
    def label(self):
        return os.path.basename(self.path) if self.path else f"in-memory {self.name}"

    def require_overlap(self, grid):
        require_overlap(self.grid, grid, f"{self.name} ({self.label}) and the reference grid")

    def read(self, grid, window=None, resampling="bilinear"):
        """Elevations (float32, m, NaN = nodata) on ``window`` of ``grid`` (default: whole grid), on the
        datum ``datum_shift`` converts to when one is set."""
        values = self._read(grid, window, resampling)
        if self.datum_shift is not None:
            values = values + self.datum_shift.on(grid, window)
        return values

    def _read(self, grid, window, resampling):
        if self.raster is not None:
            if not self.raster.grid.matches(grid):
                raise InputError(f"The in-memory {self.name} is not on the working grid.",
                                 "pass a file path (it is reprojected on the fly) or resample it first.")
            data = self.raster.band(self.band)
            if window is not None:
                w = window if isinstance(window, Window) else Window(*window)
                data = data[int(w.row_off):int(w.row_off + w.height), int(w.col_off):int(w.col_off + w.width)]
            return np.asarray(data, dtype=np.float32)
        return self.reader.read(grid, window, resampling)
