"""Float32 DEM outputs (aligned DEM, dh map) written block by block, fast and atomically.

Blocks go to a hidden temporary tiled GeoTIFF beside the output, uncompressed
(:class:`~serac.core.raster_io.RasterWriter` with ``compress="NONE"``, so writing a
block costs no compression; DEFLATE when it would exceed ``RAW_TEMPORARY_MAX_BYTES`` of
disk). Closing converts it in one GDAL copy, compressing on all CPUs, into the final
Cloud Optimized GeoTIFF (``cog=True``) or tiled GeoTIFF: DEFLATE level ``LEVEL`` with
the floating-point predictor, 256 px tiles, nodata -9999. Level 1 instead of GDAL's
default 6 halves the compression time for files about 4 % larger (21 Mpx Longyearbyen
DEM at 5 m: 64.5 instead of 62.0 MB as COG). The output path is written only by a final
rename: an error or a cancellation leaves neither it nor a temporary file behind.
"""

import os
import uuid

import rasterio
import rasterio.shutil

from ..raster_io import RasterWriter, has_cog_driver, writing
from ..threads import gdal_threads

NODATA = -9999.0
LEVEL = 1
BLOCK = 256
#: Larger temporaries (4 bytes/px) are DEFLATE-compressed to spare disk space.
RAW_TEMPORARY_MAX_BYTES = 2 * 1024 ** 3


def _hidden_path(path, kind):
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.serac-{kind}-{uuid.uuid4().hex[:8]}.tif")


def _remove(path):
    if not path:
        return
    for p in (path, path + ".aux.xml", path + ".ovr"):
        if os.path.exists(p):
            os.remove(p)


def creation_options(cog, grid):
    """GDAL creation options of the final file (COG or tiled GeoTIFF)."""
    if cog:
        return {"driver": "COG", "COMPRESS": "DEFLATE", "LEVEL": str(LEVEL), "PREDICTOR": "YES",
                "BLOCKSIZE": str(BLOCK), "BIGTIFF": "IF_SAFER", "NUM_THREADS": gdal_threads()}
    options = {"driver": "GTiff", "COMPRESS": "DEFLATE", "ZLEVEL": str(LEVEL), "PREDICTOR": "3",
               "BIGTIFF": "IF_SAFER", "NUM_THREADS": gdal_threads()}
    if grid.width >= BLOCK and grid.height >= BLOCK:
        options.update(TILED="YES", BLOCKXSIZE=str(BLOCK), BLOCKYSIZE=str(BLOCK))
    return options


class DemOutput:
    """Context manager writing one float32 band on ``grid`` to ``path`` (see module docstring).

    >>> with DemOutput("dh.tif", grid, "dh", {"UNITS": "m"}) as out:
    ...     out.write(block, window)
    """

    def __init__(self, path, grid, band_name, tags=None, cog=True):
        self.path = os.fspath(path)
        self.grid = grid
        self.band_name = band_name
        self.tags = dict(tags or {})
        self.cog = bool(cog) and has_cog_driver()
        self._temporary = None
        self._writer = None

    def __enter__(self):
        self._temporary = _hidden_path(self.path, "raw")
        raw_bytes = 4 * self.grid.width * self.grid.height
        self._writer = RasterWriter(self._temporary, self.grid, count=1, dtype="float32", nodata=NODATA,
                                    band_names=[self.band_name], tags=self.tags, cog=False,
                                    compress="NONE" if raw_bytes <= RAW_TEMPORARY_MAX_BYTES else "DEFLATE",
                                    block=BLOCK, shown_as=self.path)
        self._writer.__enter__()
        return self

    def write(self, data, window=None):
        """Write a (rows, cols) block at ``window`` (NaN becomes nodata)."""
        self._writer.write(data, window)

    def __exit__(self, exc_type, exc, tb):
        final = None
        try:
            self._writer.__exit__(exc_type, exc, tb)  # on an error it removes its own file
            if exc_type is None:
                final = _hidden_path(self.path, "final")
                with writing(self.path):  # errors name the file the user chose, not the hidden one
                    rasterio.shutil.copy(self._temporary, final, **creation_options(self.cog, self.grid))
                    os.replace(final, self.path)
                final = None
        finally:
            _remove(self._temporary)
            _remove(final)
        return False
