"""Terrain attributes of a DEM: slope and aspect from Horn (1981) gradients.

Horn, B. K. P. (1981). Hill shading and the reflectance map. Proc. IEEE 69(1), 14-47:
the gradient at a pixel is a weighted (1-2-1) finite difference over its 3x3
neighbourhood. Gradients are in m/m, slope in degrees from horizontal (0-90),
aspect in degrees clockwise from north (0-360) giving the direction the slope
*faces* (downhill), NaN where the slope is exactly 0 or a neighbour is NaN.

Coordinates: rows run south, columns east; ``dz_dx`` is the change eastwards and
``dz_dy`` the change northwards.
"""

import numpy as np


def _horn(get, res_x, res_y):
    """Horn gradients (dz/dx east, dz/dy north) from an accessor ``get(drow, dcol)``."""

    def weighted(a, b, c):  # get(a) + 2 get(b) + get(c), summed in place in that order
        total = get(*b) * np.float32(2)
        total += get(*a)
        total += get(*c)
        return total

    dz_dx = weighted((-1, 1), (0, 1), (1, 1))
    dz_dx -= weighted((-1, -1), (0, -1), (1, -1))
    dz_dx /= 8.0 * res_x
    dz_dy = weighted((-1, -1), (-1, 0), (-1, 1))
    dz_dy -= weighted((1, -1), (1, 0), (1, 1))
    dz_dy /= 8.0 * res_y
    return dz_dx, dz_dy


def horn_gradients(dem, res):
    """(dz/dx, dz/dy) of a whole DEM array in m/m; NaN on the one-pixel border.

    ``res`` is the pixel size (x, y) in m (positive numbers) or a single number.
    """
    res_x, res_y = (res, res) if np.isscalar(res) else res
    dem = np.asarray(dem, dtype=np.float32)
    height, width = dem.shape
    gx = np.full(dem.shape, np.nan, dtype=np.float32)
    gy = np.full(dem.shape, np.nan, dtype=np.float32)
    if height < 3 or width < 3:
        return gx, gy

    def get(dr, dc):
        return dem[1 + dr:height - 1 + dr, 1 + dc:width - 1 + dc]

    gx[1:-1, 1:-1], gy[1:-1, 1:-1] = _horn(get, res_x, res_y)
    return gx, gy


def horn_gradients_at(dem, rows, cols, res):
    """(dz/dx, dz/dy) in m/m at the pixels (rows, cols) only; NaN on the border or next to NaN."""
    res_x, res_y = (res, res) if np.isscalar(res) else res
    dem = np.asarray(dem, dtype=np.float32)
    height, width = dem.shape
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    interior = (rows >= 1) & (rows <= height - 2) & (cols >= 1) & (cols <= width - 2)
    # index of the north-west neighbour; each neighbour is then gathered from an offset view, no index arithmetic
    north_west = np.where(interior, (rows - 1) * width + (cols - 1), 0)
    values = dem.ravel()
    cache = {}

    def get(dr, dc):
        if (dr, dc) not in cache:
            cache[dr, dc] = values[(dr + 1) * width + dc + 1:].take(north_west)
        return cache[dr, dc]

    gx, gy = _horn(get, res_x, res_y)
    if not interior.all():
        gx[~interior] = np.nan
        gy[~interior] = np.nan
    return gx, gy


def slope_aspect_from_gradients(dz_dx, dz_dy):
    """Slope (degrees) and aspect (degrees clockwise from north, downhill direction)."""
    slope = np.hypot(dz_dx, dz_dy)
    np.arctan(slope, out=slope)
    np.degrees(slope, out=slope)
    aspect = np.arctan2(np.negative(dz_dx), np.negative(dz_dy))
    np.degrees(aspect, out=aspect)
    np.mod(aspect, 360.0, out=aspect)
    aspect[~(slope > 0)] = np.nan
    return slope.astype(np.float32, copy=False), aspect.astype(np.float32, copy=False)


def slope_aspect(dem, res):
    """Slope and aspect (degrees) of a whole DEM array (see module docstring)."""
    return slope_aspect_from_gradients(*horn_gradients(dem, res))


def slope_aspect_at(dem, rows, cols, res):
    """Slope and aspect (degrees) at the pixels (rows, cols) of ``dem``."""
    return slope_aspect_from_gradients(*horn_gradients_at(dem, rows, cols, res))
