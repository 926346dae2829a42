"""Fracture density and dominant orientation per window (m), from traced fracture lines.

The grid of these rasters has one cell per ``window`` x ``window`` px block of the input (the window in m
divided by the pixel size, rounded), aligned with the input's origin. Per cell:

* ``density_km_per_km2``: total fracture-line length in the cell (km, each skeleton pixel counting for
  half of the steps to its chain neighbours) divided by the cell's area (km²) (= km⁻¹; a field of
  parallel crevasses spaced s m apart has about 1000 / s);
* ``fracture_fraction``: fraction of the cell's valid pixels above the threshold (0-1);
* ``orientation_deg``: dominant fracture direction (deg, 0-180 clockwise from grid north), the
  length-weighted axial mean of the lines' local directions (doubled-angle mean), NaN without lines;
* ``coherence``: length of that doubled-angle mean vector (0-1: 1 = all lines parallel).
"""

from __future__ import annotations

import numpy as np
from affine import Affine

from ..raster_io import RasterGrid

DENSITY_BANDS = ("density_km_per_km2", "fracture_fraction")
ORIENTATION_BANDS = ("orientation_deg", "coherence")


def window_px(window_m, pixel_size_m):
    """Window size in px (at least 2) for a window in m."""
    return max(2, int(round(window_m / pixel_size_m)))


def density_grid(grid, cell_px):
    """The grid of the density rasters: cells of ``cell_px`` input pixels, same origin as ``grid``."""
    t = grid.transform * Affine.scale(cell_px)
    return RasterGrid(grid.crs, t, -(-grid.width // cell_px), -(-grid.height // cell_px))


def _cell_sum(values, cell_px, cells_shape):
    """Sum of a (rows, cols) block per cell (the block starts on a cell boundary)."""
    h, w = cells_shape[0] * cell_px, cells_shape[1] * cell_px
    padded = np.zeros((h, w), values.dtype)
    padded[:values.shape[0], :values.shape[1]] = values
    return padded.reshape(cells_shape[0], cell_px, cells_shape[1], cell_px).sum(axis=(1, 3))


def block_density(chains, above, valid, cell_px, pixel_size_m):
    """(density bands, orientation bands) (2, cells_r, cells_c) each for one block of the input.

    ``chains``: :class:`~.lines.Chain` objects with pixels in block coordinates; ``above``: pixels above the
    threshold; ``valid``: valid pixels of the block.
    """
    shape = above.shape
    cells = (-(-shape[0] // cell_px), -(-shape[1] // cell_px))
    length = np.zeros(shape, np.float64)
    vec = np.zeros(shape, np.complex128)
    for ch in chains:
        length[ch.rows, ch.cols] += ch.step_m
        ok = np.isfinite(ch.direction_deg)
        vec[ch.rows[ok], ch.cols[ok]] += ch.step_m[ok] * np.exp(2j * np.radians(ch.direction_deg[ok]))
    n_valid = _cell_sum(valid.astype(np.float64), cell_px, cells)
    area_km2 = n_valid * (pixel_size_m / 1000.0) ** 2
    total_km = _cell_sum(length, cell_px, cells) / 1000.0
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(n_valid > 0, total_km / area_km2, np.nan)
        fraction = np.where(n_valid > 0, _cell_sum((above & valid).astype(np.float64), cell_px, cells) / n_valid,
                            np.nan)
        v = _cell_sum(vec.real, cell_px, cells) + 1j * _cell_sum(vec.imag, cell_px, cells)
        w = total_km * 1000.0
        has = w > 0
        orientation = np.where(has, np.mod(np.degrees(np.angle(v)) / 2.0, 180.0), np.nan)
        coherence = np.where(has, np.abs(v) / np.where(has, w, 1.0), np.nan)
    return (np.stack([density, fraction]).astype(np.float32),
            np.stack([orientation, coherence]).astype(np.float32))
