"""Processing algorithm: glacier outlines → glacier mask on a raster's grid.

The reference pattern for Serac algorithms: an adapter of one core job
(:mod:`serac.core.jobs.masks`) holding its help text; parameters, outputs and
styles come from the job (see docs/adding_an_algorithm.md).
"""

from ..job_algorithm import JobAlgorithm


class RasterizeOutlinesAlgorithm(JobAlgorithm):
    ALG_ID = "rasterize_outlines"
    JOB_NAME = "rasterize_outlines"
    DISPLAY_NAME = "Glacier mask from outlines"
    GROUP_ID = "utilities"
    GROUP = "Utilities"
    TAGS = ("mask", "rasterize", "outlines", "RGI", "stable terrain")
    SHORT_HELP = (
        "Burns glacier outlines (e.g. RGI polygons) onto the grid of a reference raster: 1 inside a glacier, "
        "0 outside. The mask has the reference raster's CRS, extent and pixel size, so it can mask "
        "unstable terrain for DEM co-registration or velocity correction. Outlines in another CRS are "
        "reprojected. Outputs the glacier area (km², from the pixel size) and the glacier fraction."
    )
