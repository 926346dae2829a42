"""Processing algorithm: glacier outlines from an image with a deep-learning model (Serac issue 6)."""

from .segmentation_common import (
    INFERENCE_ORDER,
    OUTLINE_FIELDS,
    REVIEW_FIELDS_HELP,
    SegmentationInferenceAlgorithm,
)


class GlacierOutlinesDLAlgorithm(SegmentationInferenceAlgorithm):
    ALG_ID = "segmentation_glacier_outlines"
    DISPLAY_NAME = "Glacier outlines (deep learning)"
    TAGS = ("segmentation", "deep learning", "U-Net", "ONNX", "outlines", "glacier extent", "Landsat", "RGI")
    JOB_NAME = "segmentation_glacier_outlines"
    SHORT_HELP = (
        "Maps glacier extent with a neural network (ONNX model with Serac metadata; default: the shipped "
        "glacier_rgb_v2, trained on a Landsat 7 and a Sentinel-2 true-colour scene of the Everest region: 8-bit "
        "RGB at 30 m (resample Sentinel-2 to 30 m first); see its model card for accuracy per scene and "
        "limits). The raster is read in overlapping tiles whose predictions are blended, and "
        "written block by block, so large scenes run in bounded memory. Backend: auto = torch on a CUDA GPU when "
        "present, else ONNX Runtime on the CPU (the backend used is reported). The model's metadata is checked "
        "against the input: band count and order, pixel size (m). A multi-source model (e.g. optical + DEM + "
        "slope) takes the further rasters its metadata declares (Further inputs, in its order), resampled onto "
        "the input raster's grid; derived bands such as slope are computed from the DEM. "
        "A time-series model takes its number of dated rasters (or a dated stack), sorted oldest first and checked "
        "against the model's dates and spacing. "
        "Outputs the glacier probability (0-1) and "
        "outline polygons (probability >= threshold; specks smaller than the minimum area removed, holes smaller "
        "than the minimum hole area filled, optional Douglas-Peucker simplification in m) with id, area_km2, "
        "mean_probability, model and the review fields" + REVIEW_FIELDS_HELP)

    ORDER = INFERENCE_ORDER + ("threshold", "min_area_km2", "max_hole_km2", "simplify_m")
    FIELDS = {"output_outlines": OUTLINE_FIELDS}
