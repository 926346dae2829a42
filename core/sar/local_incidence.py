"""Local incidence angle (degrees) and layover/shadow mask from a DEM and the Sentinel-1 acquisition geometry.

The radar looks at each ground point along a line of sight with an *ellipsoid* incidence angle
``theta_e`` (deg, from the annotation geolocation grid at the point's DEM height: :mod:`.annotation`)
and from a horizontal direction: the *range direction* ``u``, the unit vector on the map pointing away
from the satellite's ground track (the direction of increasing image pixel at constant image line,
taken from the geolocation grid's lon/lat and converted to the map CRS, so grid convergence is
included). The unit vector from the ground towards the satellite is then, in map x (east-ish),
y (north-ish), z (up) components::

    s = (-sin(theta_e) u_x, -sin(theta_e) u_y, cos(theta_e))

and the terrain normal from the DEM gradient (dz/dx, dz/dy, dimensionless)::

    n = (-dz/dx, -dz/dy, 1) / sqrt(1 + (dz/dx)^2 + (dz/dy)^2)

The local incidence angle is ``theta_loc = arccos(n . s)`` (deg). On flat ground it equals
``theta_e``; on a slope of angle ``a`` facing the sensor (rising away from it, in the range plane) it is
``theta_e - a``, facing away ``theta_e + a``.

Layover/shadow (local criteria, per pixel, in the range plane): with ``a_r = atan(grad z . u)`` the
terrain slope along the range direction (positive = facing the sensor),

* **layover** where ``a_r >= theta_e`` (the slope facing the sensor is steeper than the incidence angle:
  its top is imaged before its foot);
* **shadow** where ``-a_r >= 90 - theta_e`` (the slope facing away is steeper than the grazing angle).

These are the *active* layover and shadow areas; areas shadowed by distant terrain or overlaid by another
slope's layover (found by ray tracing along each range line) are not flagged. Codes of the mask:
:data:`VALID` 0, :data:`LAYOVER` 1, :data:`SHADOW` 2, :data:`OUT_OF_RANGE` 3 (local angle outside the
range the caller accepts, e.g. 15-75 deg for melt detection), :data:`NODATA` 255.
"""

from __future__ import annotations

import numpy as np

from rasterio.windows import Window
from ..errors import CRSError, InputError
from ..raster_io import metres_per_unit
from . import lattice
from .annotation import IncidenceAngleModel, to_lonlat
from .sources import AnnotationAngleSource, RasterSource

VALID, LAYOVER, SHADOW, OUT_OF_RANGE, NODATA = 0, 1, 2, 3, 255
MASK_LABELS = {VALID: "valid", LAYOVER: "layover", SHADOW: "shadow", OUT_OF_RANGE: "local angle outside range"}


def local_incidence(theta_e, ux, uy, dzdx, dzdy):
    """Local incidence angle (deg) and range-plane slope (deg, positive facing the sensor).

    ``theta_e``: ellipsoid incidence angle (deg); ``ux``, ``uy``: unit range direction on the map (away
    from the sensor); ``dzdx``, ``dzdy``: DEM gradient along map x and y (m/m). Arrays broadcast.
    """
    t = np.radians(np.asarray(theta_e, dtype=np.float64))
    dzdx = np.asarray(dzdx, dtype=np.float64)
    dzdy = np.asarray(dzdy, dtype=np.float64)
    norm = np.sqrt(1.0 + dzdx * dzdx + dzdy * dzdy)
    cos_loc = (np.sin(t) * (dzdx * ux + dzdy * uy) + np.cos(t)) / norm
    theta_loc = np.degrees(np.arccos(np.clip(cos_loc, -1.0, 1.0)))
    slope_range = np.degrees(np.arctan(dzdx * ux + dzdy * uy))
    return theta_loc.astype(np.float32), slope_range.astype(np.float32)


def layover_shadow(theta_e, slope_range, theta_loc=None, valid_range=None):
    """Mask codes (uint8): layover, shadow, local angle outside ``valid_range`` (min, max deg), else valid.

    NaN inputs give :data:`NODATA`.
    """
    theta_e = np.asarray(theta_e, dtype=np.float32)
    slope_range = np.asarray(slope_range, dtype=np.float32)
    codes = np.full(np.broadcast(theta_e, slope_range).shape, VALID, dtype=np.uint8)
    if theta_loc is not None and valid_range is not None:
        with np.errstate(invalid="ignore"):
            codes[(theta_loc < valid_range[0]) | (theta_loc > valid_range[1])] = OUT_OF_RANGE
    with np.errstate(invalid="ignore"):
        codes[-slope_range >= 90.0 - theta_e] = SHADOW
        codes[slope_range >= theta_e] = LAYOVER
    missing = ~(np.isfinite(theta_e) & np.isfinite(slope_range))
    if theta_loc is not None:
        missing |= ~np.isfinite(theta_loc)
    codes[missing] = NODATA
    return codes


class RangeDirection:
    """Unit range direction (map x, y components; away from the sensor) on a map grid, from the annotation."""

    def __init__(self, model: IncidenceAngleModel, grid, step=16, delta_pixels=50.0):
        self.model = model
        self.grid = grid
        self.step = step
        self.delta = float(delta_pixels)

    def _at(self, rr, cc):
        from rasterio.warp import transform

        xs, ys = self.grid.xy(rr, cc)
        lon, lat = to_lonlat(xs, ys, self.grid.crs)
        line, pixel = self.model.lonlat_to_image(lon, lat)
        ends = []
        for sign in (-1.0, 1.0):
            lo, la = self.model.at_points(line, pixel + sign * self.delta, ("longitude", "latitude"))
            ends.append(transform("EPSG:4326", self.grid.crs, lo, la) if self.grid.crs.to_epsg() != 4326
                        else (lo, la))
        dx = np.asarray(ends[1][0]) - np.asarray(ends[0][0])
        dy = np.asarray(ends[1][1]) - np.asarray(ends[0][1])
        length = np.hypot(dx, dy)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (dx / length).reshape(rr.shape), (dy / length).reshape(rr.shape)

    def read(self, window):
        """(ux, uy) float32 blocks of ``window``."""
        return lattice.smooth_field(self._at, int(window.row_off), int(window.col_off), int(window.height),
                                    int(window.width), self.step)


class LocalIncidenceSource:
    """Local incidence angle (deg) and layover/shadow codes on a map grid from an annotation and a DEM.

    ``read(window)`` gives the local angle; ``read_all(window)`` gives (theta_loc, codes, theta_e).
    ``valid_range`` (min, max deg) marks local angles outside it as :data:`OUT_OF_RANGE`.
    """

    def __init__(self, annotation, dem_path, grid, valid_range=None):
        if grid.crs is None:
            raise CRSError("The local incidence angle needs a georeferenced (map) grid, but the backscatter has "
                           "no CRS (radar geometry).",
                           "terrain-correct (geocode) the backscatter, or give a local incidence angle raster.")
        if grid.crs.is_geographic:
            raise CRSError("The local incidence angle needs a projected grid in metres (the DEM slope), but the "
                           "backscatter is in geographic coordinates (degrees).",
                           "reproject the stack to a metric CRS (e.g. UTM) first.")
        self.grid = grid
        self.unit_m = metres_per_unit(grid.crs) or 1.0  # m per CRS unit (feet: 0.3048)
        self.model = annotation if isinstance(annotation, IncidenceAngleModel) else \
            IncidenceAngleModel.from_file(annotation)
        self.dem = RasterSource(dem_path, grid, what="DEM")
        self.ellipsoid = AnnotationAngleSource(self.model, grid, dem=self.dem)
        self.direction = RangeDirection(self.model, grid)
        self.valid_range = valid_range
        self.description = "local incidence angle from the annotation geometry and the DEM"

    def _gradient(self, window):
        """DEM gradient (dz/dx, dz/dy, m/m) on ``window`` (one pixel of context read around it)."""
        rows, cols = self.grid.shape
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        top, left = max(r0 - 1, 0), max(c0 - 1, 0)
        bottom, right = min(r0 + h + 1, rows), min(c0 + w + 1, cols)
        z = self.dem.read(Window(left, top, right - left, bottom - top)).astype(np.float64)
        t = self.grid.transform
        if z.shape[0] < 2 or z.shape[1] < 2:
            raise InputError("The grid is too small for a DEM slope (at least 2 x 2 px).")
        dz_drow, dz_dcol = np.gradient(z)
        # map x, y per column/row step (north-up: x = a * col, y = e * row)
        dzdx = dz_dcol / (t.a * self.unit_m)
        dzdy = dz_drow / (t.e * self.unit_m)
        sl = (slice(r0 - top, r0 - top + h), slice(c0 - left, c0 - left + w))
        return dzdx[sl], dzdy[sl]

    def read_all(self, window):
        theta_e = self.ellipsoid.read(window)
        ux, uy = self.direction.read(window)
        dzdx, dzdy = self._gradient(window)
        theta_loc, slope_range = local_incidence(theta_e, ux, uy, dzdx, dzdy)
        codes = layover_shadow(theta_e, slope_range, theta_loc, self.valid_range)
        theta_loc[codes == NODATA] = np.nan
        return theta_loc, codes, theta_e

    def read(self, window):
        return self.read_all(window)[0]


class GivenAngleSource:
    """An angle source (deg) taken as the local incidence angle as it is (a local-incidence raster from a terrain
    correction, or the ellipsoid angle where no DEM is given); only :data:`OUT_OF_RANGE` is flagged."""

    def __init__(self, source, valid_range=None):
        self.source = source
        self.valid_range = valid_range
        self.description = source.description

    def read_all(self, window):
        theta = self.source.read(window)
        codes = np.full(theta.shape, VALID, dtype=np.uint8)
        if self.valid_range is not None:
            with np.errstate(invalid="ignore"):
                codes[(theta < self.valid_range[0]) | (theta > self.valid_range[1])] = OUT_OF_RANGE
        codes[~np.isfinite(theta)] = NODATA
        return theta, codes, theta

    def read(self, window):
        return self.source.read(window)
