"""Processing algorithm: keep a raster's values inside (or outside) glacier outlines."""

from ..job_algorithm import JobAlgorithm


class MaskRasterAlgorithm(JobAlgorithm):
    ALG_ID = "mask_raster"
    JOB_NAME = "mask_raster"
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

    def processing_results(self, parameters, context, feedback, result):
        """A masked raster keeps its bands: style it by their Serac names (a velocity raster by speed, not RGB)."""
        from ..styles import style_by_band_names

        out = super().processing_results(parameters, context, feedback, result)
        if out.get("OUTPUT"):
            style_by_band_names(context, out["OUTPUT"], out["OUTPUT"], self.tr("Masked raster"))
        return out
