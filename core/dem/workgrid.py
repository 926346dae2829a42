"""The metric grid co-registration works on, and conversions between it and the reference grid.

Shifts are estimated in metres on a grid in a metric CRS: the reference grid itself
when its CRS is projected in metres, otherwise (geographic CRS, or a projected CRS in
feet) a UTM grid covering it (:func:`serac.core.raster_io.metric_grid_for`). A shift
found there is converted to the reference CRS with the local Jacobian at the centre
of the reference grid, so it can be applied on the reference grid as one constant
offset (exact for a projected-metre reference; for a geographic one the error is the
relative change of the scale across the grid times the shift, e.g. < 1 % of it for a
1-degree tile).
"""

import numpy as np
import rasterio.warp

from ..raster_io import metric_grid_for, require_crs


def working_grid(grid):
    """A grid in metres covering ``grid``: ``grid`` itself when it is already metric."""
    require_crs(grid, "The reference DEM")
    return metric_grid_for(grid)


def _centre(grid):
    left, bottom, right, top = grid.bounds
    return (left + right) / 2.0, (bottom + top) / 2.0


def shift_to_native(shift_x_m, shift_y_m, work_grid, grid):
    """A shift (x east, y north, m) on ``work_grid`` as (dx, dy) in the CRS units of ``grid``."""
    if work_grid.crs == grid.crs:
        return float(shift_x_m), float(shift_y_m)
    cx, cy = _centre(grid)
    (wx,), (wy,) = rasterio.warp.transform(grid.crs, work_grid.crs, [cx], [cy])
    (nx,), (ny,) = rasterio.warp.transform(work_grid.crs, grid.crs, [wx + shift_x_m], [wy + shift_y_m])
    return float(nx - cx), float(ny - cy)


def shift_in_px(dx, dy, grid):
    """A shift (dx east, dy north, CRS units) in px of ``grid`` (x east, y north)."""
    res_x, res_y = grid.res
    return float(dx) / res_x, float(dy) / res_y


def shift_offsets(dx, dy, grid):
    """Sampling offsets (drow, dcol) in px that move a DEM on ``grid`` by (dx east, dy north).

    The moved DEM at p is the original at p - (dx, dy): one column west per
    ``res_x`` east, one row down (south) per ``res_y`` north.
    """
    px_x, px_y = shift_in_px(dx, dy, grid)
    return px_y, -px_x


def pixel_coordinates(grid, window, crs=None):
    """Map coordinates (x, y) of the pixel centres of ``window`` of ``grid``, optionally in ``crs``.

    Returns two (rows, cols) float64 arrays.
    """
    sub = grid.window_grid(window)
    rows, cols = np.meshgrid(np.arange(sub.height), np.arange(sub.width), indexing="ij")
    x, y = sub.xy(rows, cols)
    if crs is not None and crs != grid.crs:
        tx, ty = rasterio.warp.transform(grid.crs, crs, x.ravel(), y.ravel())
        x = np.asarray(tx).reshape(sub.shape)
        y = np.asarray(ty).reshape(sub.shape)
    return x, y
