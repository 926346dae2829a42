"""Multi-source model inputs: the rasters a model's metadata declares, read onto one grid and stacked.

A model whose ``input.bands`` name a ``source`` (e.g. ``optical``, ``dem``, ``sar``) takes one
raster per source, in the order the sources first appear in its band list. Every band is read
onto the grid of the first raster with :class:`~serac.core.raster_io.BandReader` (direct
when the rasters line up, else resampled bilinearly), so a 30 m optical scene, a 90 m DEM
and a 20 m SAR image stack on the optical grid. A band with ``derive: "slope"`` is computed
from its source's band (a DEM, m) on that grid: Horn (1981) slope in degrees
(:mod:`serac.core.dem.terrain`), read with a one-pixel ring so window edges are seamless.
"""

import numpy as np
from rasterio.windows import Window

from ..dem.terrain import slope_aspect
from ..errors import InputError
from ..raster_io import BandReader, band_count, pixel_sizes_m
from .model_metadata import band_sources, source_plan

#: the ring (px) read around a window for a derived band (Horn's 3x3 neighbourhood)
RING_PX = 1


class SlopeReader:
    """Slope (degrees, 0-90) of a DEM band (m) on windows of any grid, like :class:`BandReader`'s ``read``."""

    dtype = "float32"

    def __init__(self, path, band=1, name="The DEM"):
        self.dem = BandReader(path, band, name, zero_is_void=True)
        self.path = self.dem.path

    def read(self, grid, window=None):
        w = Window(0, 0, grid.width, grid.height) if window is None else window
        r0, c0 = int(w.row_off), int(w.col_off)
        r1, c1 = r0 + int(w.height), c0 + int(w.width)
        rr0, cc0 = max(0, r0 - RING_PX), max(0, c0 - RING_PX)
        rr1, cc1 = min(grid.height, r1 + RING_PX), min(grid.width, c1 + RING_PX)
        dem = self.dem.read(grid, Window(cc0, rr0, cc1 - cc0, rr1 - rr0))
        # at the scene border: repeat the edge (slope across the border ~ the slope inside)
        dem = np.pad(dem, ((rr0 - r0 + RING_PX, r1 + RING_PX - rr1), (cc0 - c0 + RING_PX, c1 + RING_PX - cc1)),
                     mode="edge")
        slope, _ = slope_aspect(dem, pixel_sizes_m(grid))
        return slope[RING_PX:-RING_PX, RING_PX:-RING_PX].astype(np.float32)


DERIVED_READERS = {"slope": SlopeReader}


def source_readers(metadata, paths, bands=None):
    """One reader per model band (``read(grid, window)`` -> float32 rows x cols) from the input ``paths``.

    ``metadata``: a :class:`ModelMetadata` (or anything with ``name`` and ``bands``, a list of
    :class:`BandSpec`). Single-source models (no band names a source): the bands ``bands``
    (1-based; default all) of every path, stacked in order, as before. Multi-source models:
    exactly one path per source (:func:`band_sources` order), bands read or derived as the
    metadata says; an :class:`InputError` names the sources when the count differs.
    """
    paths = [str(p) for p in paths]
    sources = band_sources(metadata.bands)
    if sources == [""]:
        if bands is not None and len(paths) == 1:
            return [BandReader(paths[0], b, "The input raster") for b in bands]
        return [BandReader(p, b, "The input raster") for p in paths for b in range(1, band_count(p) + 1)]
    if len(paths) != len(sources):
        raise InputError(
            f"Model '{metadata.name}' takes {len(sources)} input raster(s) ({', '.join(sources)}), "
            f"{len(paths)} given.",
            f"give the input raster ({sources[0]}) and, as further inputs in this order: "
            f"{', '.join(sources[1:]) or 'none'}.")
    if bands is not None:
        raise InputError(f"Model '{metadata.name}' declares which band it reads from each of its inputs; "
                         "a band selection does not apply.", "leave the bands empty.")
    readers = []
    for index, band, derive in source_plan(metadata.bands):
        what = f"The {sources[index]} input raster"
        readers.append(DERIVED_READERS[derive](paths[index], band, what) if derive
                       else BandReader(paths[index], band, what))
    return readers


__all__ = ["source_readers", "SlopeReader", "DERIVED_READERS"]
