"""Processing algorithm: keep a raster's values inside (or outside) glacier outlines."""

from qgis.core import QgsProcessingParameterBoolean

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..qgis_bridge import raster_path, source_geometries

KEEP = [("inside", "Inside the outlines (glaciers)"), ("outside", "Outside the outlines (stable ground)")]


class MaskRasterAlgorithm(SeracAlgorithm):
    ALG_ID = "mask_raster"
    DISPLAY_NAME = "Mask raster with outlines"
    GROUP_ID = "utilities"
    GROUP = "Utilities"
    TAGS = ("mask", "clip", "outlines", "RGI", "glacier", "stable terrain", "velocity", "dh")
    SHORT_HELP = (
        "Copies a raster (every band, as float32) keeping its values only inside the glacier outlines, or only "
        "outside them (stable ground); all other pixels become no data. The grid, band names and metadata are "
        "kept, so e.g. a velocity raster keeps its vx, vy, speed bands. Outlines in another CRS are reprojected; "
        "invalid or overlapping polygons (common in RGI) are fine, as Serac rasterizes them itself. Works window "
        "by window on large rasters.")

    INPUT = "INPUT"
    OUTLINES = "OUTLINES"
    KEEP = "KEEP"
    ALL_TOUCHED = "ALL_TOUCHED"
    OUTPUT = "OUTPUT"

    def define_parameters(self):
        params.add_raster(self, self.INPUT, "Raster to mask")
        params.add_outlines(self, self.OUTLINES, "Glacier outlines", optional=False)
        params.add_enum(self, self.KEEP, "Keep the values", KEEP, 0)
        self.addParameter(QgsProcessingParameterBoolean(
            self.ALL_TOUCHED, self.tr("Count every pixel an outline touches as inside"), defaultValue=False))
        self.add_raster_output(self.OUTPUT, "Masked raster")
        self.add_number_outputs(GLACIER_AREA_KM2="Glacier area on the raster's grid (km²)")

    def run_algorithm(self, parameters, context, feedback):
        from ...core.masks import mask_raster
        from ...core.raster_io import read_grid

        path = raster_path(self, parameters, self.INPUT, context, "input")
        geometries = source_geometries(self, parameters, self.OUTLINES, context, read_grid(path).crs, feedback)
        out_path = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        summary = mask_raster(path, out_path, geometries, keep=params.choice(self, parameters, context, self.KEEP, KEEP),
                              all_touched=self.parameterAsBoolean(parameters, self.ALL_TOUCHED, context),
                              feedback=feedback)
        from ..styles import style_by_band_names  # e.g. a masked velocity raster: speed style, not RGB

        style_by_band_names(context, out_path, out_path, self.tr("Masked raster"))
        return {self.OUTPUT: out_path, "GLACIER_AREA_KM2": summary.glacier_area_km2}
