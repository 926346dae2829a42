"""Glacier masks: outlines burnt onto a raster grid, and the stable-terrain complement."""

from dataclasses import dataclass

from .progress import as_progress
from .raster_io import RasterWriter, iter_blocks, rasterize_geometries, require_crs


@dataclass
class MaskSummary:
    """Numbers describing a glacier mask: pixel counts and areas (km^2)."""

    glacier_px: int
    total_px: int
    glacier_area_km2: float

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


def write_glacier_mask(path, geometries, grid, all_touched=False, block=2048, feedback=None):
    """Rasterize outlines onto ``grid`` and write the uint8 mask to ``path`` window by window.

    Returns a :class:`MaskSummary`. Areas use the grid's pixel size (m), so the grid
    must be in a projected CRS for them to be meaningful.
    """
    require_crs(grid, "The reference raster")
    progress = as_progress(feedback)
    glacier_px = 0
    blocks = list(iter_blocks(grid.shape, block))
    with RasterWriter(path, grid, count=1, dtype="uint8", nodata=None, band_names=["glacier_mask"],
                      tags={"SERAC_PRODUCT": "glacier_mask", "VALUES": "1=glacier, 0=outside"}) as writer:
        for i, (inner, _) in enumerate(blocks):
            mask = glacier_mask(geometries, grid.window_grid(inner), all_touched)
            glacier_px += int(mask.sum())
            writer.write(mask, inner)
            progress.update((i + 1) / len(blocks))
    px_area_km2 = grid.res[0] * grid.res[1] / 1e6
    return MaskSummary(glacier_px, grid.width * grid.height, glacier_px * px_area_km2)
