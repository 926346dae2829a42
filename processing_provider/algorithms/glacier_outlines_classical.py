"""Processing algorithm: glacier outlines with a classical method (NDSI or red/SWIR band ratio) (Serac issue 16)."""

from .segmentation_common import OUTLINE_FIELDS, REVIEW_FIELDS_HELP, SegmentationInferenceAlgorithm


class GlacierOutlinesClassicalAlgorithm(SegmentationInferenceAlgorithm):
    ALG_ID = "glacier_outlines_classical"
    JOB_NAME = "glacier_outlines_classical"
    DISPLAY_NAME = "Glacier outlines (NDSI / band ratio)"
    TAGS = ("segmentation", "NDSI", "band ratio", "SWIR", "Landsat", "Sentinel-2", "baseline", "outlines")
    REQUIRES = ()
    SHORT_HELP = (
        "Maps clean glacier ice from a multispectral image with a classical rule, the baseline the deep-learning "
        "models are compared with: NDSI = (green - SWIR) / (green + SWIR) > 0.4, or the band ratio red / SWIR > 2 "
        "(SWIR near 1.6 µm: Landsat 8/9 band 6, Sentinel-2 B11, Landsat 5/7 band 5; give the band numbers of your "
        "raster). The thresholds hold for reflectance (0-1); digital numbers give a warning. With a DEM, the "
        "debris rule adds gentle (slope <= the largest slope, degrees) regions touching clean ice. Outputs the "
        "index raster and outline polygons with id, area_km2, mean_index, model (the rule) and the review fields"
        + REVIEW_FIELDS_HELP)
    ORDER = ("input", "dem", "method", "red_band", "green_band", "swir_band", "threshold", "max_slope_deg",
             "min_area_km2", "max_hole_km2", "simplify_m")
    FIELDS = {"output_outlines": [("mean_index", "Double") if name == "mean_probability" else (name, kind)
                                  for name, kind in OUTLINE_FIELDS]}
    LAYER_NAMES = {"output_index": "NDSI / band ratio"}
