"""Processing algorithm: glacier outlines → glacier mask on a raster's grid.

The reference pattern for Serac algorithms: parameters in, one core call,
outputs styled on completion.
"""

from qgis.core import QgsProcessingParameterBoolean

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..qgis_bridge import raster_path, source_geometries


class RasterizeOutlinesAlgorithm(SeracAlgorithm):
    ALG_ID = "rasterize_outlines"
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

    INPUT = "INPUT"
    OUTLINES = "OUTLINES"
    ALL_TOUCHED = "ALL_TOUCHED"
    OUTPUT = "OUTPUT"
    GLACIER_AREA_KM2 = "GLACIER_AREA_KM2"
    GLACIER_FRACTION = "GLACIER_FRACTION"

    def define_parameters(self):
        params.add_raster(self, self.INPUT, "Reference raster (grid of the mask)")
        params.add_outlines(self, self.OUTLINES, "Glacier outlines", optional=False)
        self.addParameter(QgsProcessingParameterBoolean(
            self.ALL_TOUCHED, self.tr("Include every pixel an outline touches"), defaultValue=False))
        self.add_raster_output(self.OUTPUT, "Glacier mask")
        self.add_number_outputs(GLACIER_AREA_KM2="Glacier area (km²)",
                                GLACIER_FRACTION="Fraction of the grid covered by glaciers (0-1)")

    def run_algorithm(self, parameters, context, feedback):
        from ...core.masks import write_glacier_mask
        from ...core.raster_io import read_grid

        grid = read_grid(raster_path(self, parameters, self.INPUT, context, "reference"))
        geometries = source_geometries(self, parameters, self.OUTLINES, context, grid.crs, feedback)
        out_path = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        summary = write_glacier_mask(out_path, geometries, grid,
                                     all_touched=self.parameterAsBoolean(parameters, self.ALL_TOUCHED, context),
                                     feedback=feedback)
        feedback.pushInfo(f"Glacier area {summary.glacier_area_km2:.3f} km² "
                          f"({100 * summary.glacier_fraction:.1f} % of the grid).")
        self.style_output(context, out_path, "glacier_mask", self.tr("Glacier mask"))
        return {self.OUTPUT: out_path, self.GLACIER_AREA_KM2: summary.glacier_area_km2,
                self.GLACIER_FRACTION: summary.glacier_fraction}
