"""Stable terrain: where the ground is assumed not to have moved between the two DEMs.

Everything is stable except pixels inside unstable outlines (glaciers, landslides, ...)
and pixels where an unstable-terrain mask raster is non-zero. Masks are produced for
any window of any grid, so blockwise processing never needs the whole mask in memory.
"""

import os

import numpy as np
import rasterio.warp
from rasterio.crs import CRS

from ..errors import InvalidSetting, NoOverlapError
from ..raster_io import BandReader, rasterize_geometries, read_grid
from ..vector_io import read_geometries


class StableTerrain:
    """Unstable outlines and/or an unstable-terrain mask raster; the rest is stable.

    ``geometries``: GeoJSON-like geometry mappings in ``geometries_crs`` (anything
    ``rasterio.crs.CRS.from_user_input`` accepts). ``mask_path``: raster whose
    non-zero pixels are unstable (nodata and pixels outside it count as stable).
    """

    def __init__(self, geometries=None, geometries_crs=None, mask_path=None):
        self.geometries = list(geometries or [])
        self.geometries_crs = CRS.from_user_input(geometries_crs) if geometries_crs is not None else None
        if self.geometries and self.geometries_crs is None:
            raise InvalidSetting("Outlines were given without their CRS.", "give the outlines' CRS as well.")
        self.mask_path = os.fspath(mask_path) if mask_path else None
        self._cache = {}
        self._mask_reader = None

    @classmethod
    def from_files(cls, outlines_path=None, mask_path=None, crs="EPSG:4326"):
        """Outlines from a vector file (any CRS, read with OGR into ``crs``) and/or a mask raster."""
        geometries = None
        crs = CRS.from_user_input(crs)
        if outlines_path:
            geometries = read_geometries(outlines_path, target_crs=crs)
        return cls(geometries, crs if geometries else None, mask_path)

    @property
    def is_empty(self):
        return not self.geometries and not self.mask_path

    def describe(self):
        parts = []
        if self.geometries:
            parts.append(f"{len(self.geometries)} unstable outline(s)")
        if self.mask_path:
            parts.append(f"unstable mask {os.path.basename(self.mask_path)}")
        return ", ".join(parts) if parts else "all terrain stable"

    def _geometries_in(self, crs):
        key = crs.to_wkt()
        if key not in self._cache:
            if self.geometries_crs == crs:
                self._cache[key] = self.geometries
            else:
                self._cache[key] = [rasterio.warp.transform_geom(self.geometries_crs, crs, g)
                                    for g in self.geometries]
        return self._cache[key]

    def stable(self, grid, window=None):
        """Boolean (rows, cols) array of ``window`` of ``grid`` (default: whole grid): True = stable."""
        sub = grid if window is None else grid.window_grid(window)
        stable = None
        if self.geometries:
            stable = rasterize_geometries(self._geometries_in(grid.crs), sub) == 0
        if self.mask_path:
            if self._mask_reader is None:
                read_grid(self.mask_path)  # an InputError naming the file if GDAL cannot open it
                self._mask_reader = BandReader(self.mask_path, 1)
            try:
                mask_stable = np.logical_not(self._mask_reader.nonzero(grid, window))
            except NoOverlapError:
                raise NoOverlapError("The unstable-terrain mask raster does not overlap the reference DEM.",
                                     "choose the mask made for these DEMs, or leave the mask empty.") from None
            stable = mask_stable if stable is None else stable & mask_stable
        return stable if stable is not None else np.ones(sub.shape, dtype=bool)
