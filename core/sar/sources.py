"""Per-block providers of auxiliary rasters on the backscatter grid.

A *source* has ``read(window) -> float32 (rows, cols)`` giving values on a target
:class:`~serac.core.raster_io.RasterGrid` (the backscatter raster's), window by window, and
``description``. Sources provide the incidence angle (deg), beta (dB/deg) or elevation (m)
whatever its origin:

* :class:`ConstantSource` -- one number everywhere;
* :class:`RasterSource` -- a band of a raster file, reprojected/resampled onto the target grid
  when grids differ (the one grid reader, :class:`~serac.core.raster_io.BandReader`);
* :class:`AnnotationAngleSource` -- the incidence angle from a Sentinel-1 annotation, on an
  image (radar geometry, no CRS) grid or a map grid, optionally following a DEM;
* :class:`LonLatSource` -- longitude/latitude (deg) of pixel centres (for beta models).
"""

import os

import numpy as np

from .. import raster_io
from ..errors import InputError
from . import lattice
from .annotation import IncidenceAngleModel, to_lonlat


class ConstantSource:
    """The same ``value`` in every pixel."""

    def __init__(self, value, description=None):
        self.value = float(value)
        self.description = description or f"constant {self.value:g}"

    def read(self, window):
        return np.full((int(window.height), int(window.width)), self.value, dtype=np.float32)


class RasterSource:
    """Band ``band`` (1-based) of the raster ``path`` on ``grid`` (reprojected if it differs)."""

    def __init__(self, path, grid, band=1, resampling="bilinear", what="raster"):
        self.path = os.fspath(path)
        self.grid = grid
        self.band = int(band)
        self.resampling = resampling
        self.what = what
        self.reader = raster_io.BandReader(self.path, self.band, f"The {what} raster")
        src_grid = self.reader.grid
        self.same_grid = src_grid.matches(grid)
        if not self.same_grid:
            if (src_grid.crs is None) != (grid.crs is None) or (grid.crs is None and src_grid.shape != grid.shape):
                raise InputError(
                    f"The {what} raster ({src_grid.describe()}) and the backscatter ({grid.describe()}) are on "
                    "different grids and cannot be aligned (one has no CRS).",
                    "give rasters on the same grid, or georeferenced rasters that can be reprojected.")
            raster_io.require_overlap(src_grid, grid, f"The {what} raster and the backscatter raster")
        self.description = (f"{what} band {self.band} of {os.path.basename(self.path)}"
                            + ("" if self.same_grid else f" (resampled {resampling} from {src_grid.describe()})"))

    def read(self, window):
        return self.reader.read(self.grid, window, self.resampling)


class LonLatSource:
    """Longitude and latitude (deg) of pixel centres of ``grid``; smooth, so computed every
    ``step`` px and interpolated bilinearly (error far below 1e-6 deg at step 16)."""

    def __init__(self, grid, step=16):
        if grid.crs is None:
            raise InputError("Longitude/latitude are needed but the raster has no CRS.",
                             "use a georeferenced (map-projected) raster.")
        self.grid = grid
        self.step = step
        self.description = "pixel longitude/latitude"

    def read_both(self, window):
        def lonlat(rr, cc):
            lon, lat = to_lonlat(*self.grid.xy(rr, cc), self.grid.crs)
            return lon.reshape(rr.shape), lat.reshape(rr.shape)

        return lattice.smooth_field(lonlat, int(window.row_off), int(window.col_off), int(window.height),
                                    int(window.width), self.step, dtype=np.float64)


class AnnotationAngleSource:
    """Incidence angle (deg) from a Sentinel-1 annotation on the backscatter grid.

    * ``grid`` without CRS: the raster is in radar geometry (rows = lines, columns = pixels of
      the annotated image, or a multilooked version of it: the row/column scale factors are
      the size ratios). ``dem`` then must be on that same image grid.
    * ``grid`` with a CRS: map geometry, via the lon/lat of each pixel (see
      :meth:`IncidenceAngleModel.on_map`). The geometry is evaluated every ``step`` px (default:
      every 400 m, at most 16 px) and interpolated bilinearly; with a ``dem`` source (m), the
      angle follows the DEM height through a per-pixel linear height term evaluated the same way.
    """

    #: Ground spacing (m) of the coarse evaluation nodes on map grids: the interpolated angle field
    #: varies on the scale of the geolocation lattice (~10-20 km), so 400 m keeps the bilinear error
    #: below 0.001 deg.
    NODE_SPACING_M = 400.0

    def __init__(self, annotation, grid, dem=None, step=None, kind="cubic"):
        self.model = annotation if isinstance(annotation, IncidenceAngleModel) else \
            IncidenceAngleModel.from_file(annotation, kind)
        self.grid = grid
        self.dem = dem
        self.step = int(step) if step else self._auto_step(grid)
        n_lines, n_pixels = self.model.image_shape
        if grid.crs is None:
            self.line_scale = n_lines / grid.height
            self.pixel_scale = n_pixels / grid.width
            if not (0.999 <= self.line_scale and 0.999 <= self.pixel_scale):
                raise InputError(
                    f"The backscatter raster has no CRS and is larger ({grid.width}x{grid.height} px) than the "
                    f"annotated image ({n_pixels}x{n_lines} px), so it cannot be in that image's radar geometry.",
                    "use the measurement image of this annotation (or a multilooked copy), or a georeferenced raster.")
            if not (_whole_looks(n_lines, grid.height) and _whole_looks(n_pixels, grid.width)):
                raise InputError(
                    f"The backscatter raster has no CRS and its size ({grid.width}x{grid.height} px) is neither the "
                    f"annotated image's ({n_pixels}x{n_lines} px) nor a multilooked copy of it (a whole number of "
                    "looks): the annotation belongs to another product.",
                    "give the annotation XML of this very product, or a georeferenced raster.")
        self.description = "incidence angle from the annotation geolocation grid" + (
            " with DEM heights" if dem is not None else "")

    @classmethod
    def _auto_step(cls, grid):
        """Coarse node step (px, 1-16) giving at most NODE_SPACING_M between nodes."""
        if grid.crs is None:
            return 1
        metres = max(raster_io.pixel_sizes_m(grid))
        return int(np.clip(cls.NODE_SPACING_M // max(metres, 1e-9), 1, 16))

    def read(self, window):
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        heights = self.dem.read(window) if self.dem is not None else None
        if self.grid.crs is None:
            lines = (np.arange(r0, r0 + h) + 0.5) * self.line_scale - 0.5
            pixels = (np.arange(c0, c0 + w) + 0.5) * self.pixel_scale - 0.5
            return self.model.on_image(lines, pixels, heights=heights)
        if heights is None:
            return lattice.smooth_field(self._angle_at(None), r0, c0, h, w, self.step)
        at0, at1 = lattice.smooth_field(self._angle_pair, r0, c0, h, w, self.step, dtype=np.float32)
        # theta(h) = theta(0) + (theta(1000 m) - theta(0)) * h / 1000, NaN heights -> node heights
        fallback = lattice.smooth_field(self._angle_at(None), r0, c0, h, w, self.step) \
            if not np.all(np.isfinite(heights)) else None
        slope = at1 - at0
        slope *= heights / np.float32(1000.0)
        slope += at0
        if fallback is not None:
            slope = np.where(np.isfinite(heights), slope, fallback).astype(np.float32)
        return slope

    def _angle_at(self, height):
        def func(rr, cc):
            xs, ys = self.grid.xy(rr, cc)
            heights = None if height is None else np.full(rr.shape, float(height))
            return self.model.on_map(xs, ys, self.grid.crs, heights=heights)
        return func

    def _angle_pair(self, rr, cc):
        return self._angle_at(0.0)(rr, cc), self._angle_at(1000.0)(rr, cc)


def _whole_looks(n_image, n_raster):
    """True if ``n_raster`` px are ``n_image`` px multilooked by a whole number of looks (rounded either way)."""
    looks = max(1, round(n_image / n_raster))
    return abs(n_image - looks * n_raster) < looks


def as_source(value, grid, what="raster", band=1):
    """A source on ``grid`` from a number, a raster path or an existing source.

    Raises :class:`InputError` when ``value`` is None (a missing input).
    """
    if value is None:
        raise InputError(f"No {what} was given.", f"give the {what} as a number, a raster or (for the incidence "
                         "angle) a Sentinel-1 annotation XML.")
    if hasattr(value, "read") and hasattr(value, "description"):
        return value
    if isinstance(value, (int, float, np.floating, np.integer)):
        return ConstantSource(value, f"constant {what} {float(value):g}")
    path = os.fspath(value)
    if path.lower().endswith((".xml", ".csv")):
        if "angle" not in what:
            raise InputError(f"'{os.path.basename(path)}' is an annotation file, not a {what} raster.",
                             f"give the {what} as a number or a raster.")
        return AnnotationAngleSource(path, grid)
    return RasterSource(path, grid, band=band, what=what)
