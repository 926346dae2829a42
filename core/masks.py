"""Glacier masks: outlines burnt onto a raster grid, and the stable-terrain complement."""

from dataclasses import dataclass

import numpy as np

from .errors import InvalidSetting
from .progress import as_progress, warn
from .raster_io import (RasterWriter, iter_blocks, pixel_area_m2, rasterize_geometries, read_grid, read_raster,
                        require_crs)


@dataclass
class MaskSummary:
    """Numbers describing a glacier mask: pixel counts and areas (km^2)."""

    glacier_px: int
    total_px: int
    glacier_area_km2: float
    warning: str = None

    @property
    def glacier_fraction(self):
        return self.glacier_px / self.total_px if self.total_px else 0.0


def glacier_mask(geometries, grid, all_touched=False):
    """uint8 mask on ``grid``: 1 inside the outlines (GeoJSON dicts in the grid CRS), 0 outside."""
    return rasterize_geometries(geometries, grid, value=1, all_touched=all_touched, dtype="uint8")


def stable_mask(geometries, grid, valid=None, all_touched=True):
    """Boolean stable-terrain mask: outside every outline (``all_touched`` grows the outlines by
    the pixels they touch, so edge pixels are not counted as stable) and, if given, where ``valid``."""
    stable = glacier_mask(geometries, grid, all_touched=all_touched) == 0
    return stable if valid is None else stable & valid


def write_glacier_mask(grid, path, geometries, all_touched=False, block=2048, feedback=None):
    """Rasterize outlines onto ``grid`` and write the uint8 mask to ``path`` window by window.

    Arguments in the order of :func:`mask_raster`: the grid (or raster) first, the output, the outlines.

    Returns a :class:`MaskSummary`. Areas are ground areas (km²) in any CRS
    (:func:`~serac.core.raster_io.pixel_area_m2`).
    """
    require_crs(grid, "The reference raster")
    with RasterWriter(path, grid, count=1, dtype="uint8", nodata=None, band_names=["glacier_mask"],
                      tags={"SERAC_PRODUCT": "glacier_mask", "VALUES": "1=glacier, 0=outside"}) as writer:
        counted = _write_blocks(writer, grid, block, feedback, lambda window, mask: mask, geometries, all_touched)
    return _summary(grid, counted)


def mask_raster(path, out_path, geometries, keep="inside", all_touched=False, block=2048, feedback=None):
    """Copy a raster (all bands, float32) keeping its values only ``keep`` = 'inside' or 'outside'
    the outlines (GeoJSON dicts in the raster's CRS); everything else becomes nodata (NaN).

    Works window by window, so rasters larger than memory are fine; band names and
    metadata are kept. Rasterization is done by Serac (invalid or overlapping outlines,
    common in RGI, are fine). Returns the :class:`MaskSummary` of the outlines on its grid.
    """
    if keep not in ("inside", "outside"):
        raise InvalidSetting(f"keep must be 'inside' or 'outside', not {keep!r}.", "use 'inside' or 'outside'.")
    grid = read_grid(path)
    require_crs(grid, "The raster to mask")
    first = read_raster(path, window=(0, 0, 1, 1))
    tags = dict(first.tags, SERAC_MASKED=f"kept {keep} the glacier outlines")

    def masked(window, mask):
        data = read_raster(path, window=window).data
        data[:, (mask == 1) != (keep == "inside")] = np.nan
        return data

    with RasterWriter(out_path, grid, count=first.count, dtype="float32", band_names=first.band_names,
                      tags=tags) as writer:
        counted = _write_blocks(writer, grid, block, feedback, masked, geometries, all_touched)
    return _summary(grid, counted)


def _write_blocks(writer, grid, block, feedback, make, geometries, all_touched):
    """Rasterize the outlines block by block, write ``make(window, mask)`` there.

    Returns (glacier pixels, glacier area m²)."""
    progress = as_progress(feedback)
    glacier_px, area_m2 = 0, 0.0
    blocks = list(iter_blocks(grid.shape, block))
    for i, (inner, _) in enumerate(blocks):
        mask = glacier_mask(geometries, grid.window_grid(inner), all_touched)
        per_row = mask.sum(axis=1)
        glacier_px += int(per_row.sum())
        rows = np.arange(int(inner.row_off), int(inner.row_off + inner.height))
        area_m2 += float(np.sum(per_row * pixel_area_m2(grid, rows)))
        writer.write(make(inner, mask), inner)
        progress.update((i + 1) / len(blocks))
    return glacier_px, area_m2


def _summary(grid, counted):
    glacier_px, area_m2 = counted
    note = None
    if glacier_px == 0:
        note = ("The outlines cover no pixel of the raster (0 km² of glacier): they may be in another area or "
                "CRS. Check that the outlines and the raster overlap.")
        warn(note)
    return MaskSummary(glacier_px, grid.width * grid.height, area_m2 / 1e6, note)
