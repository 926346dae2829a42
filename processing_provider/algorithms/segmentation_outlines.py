"""Processing algorithm: glacier outlines from an image with a deep-learning model (Serac issue 6)."""

from qgis.core import QgsProcessingParameterNumber

from .. import parameters as params
from ..compat import NUMBER_DOUBLE, SOURCE_POLYGON, WKB_POLYGON
from .segmentation_common import REVIEW_FIELDS_HELP, SegmentationInferenceAlgorithm

OUTLINE_FIELDS = [("id", "LongLong"), ("area_km2", "Double"), ("mean_probability", "Double"), ("model", "String")]


class GlacierOutlinesDLAlgorithm(SegmentationInferenceAlgorithm):
    ALG_ID = "segmentation_glacier_outlines"
    DISPLAY_NAME = "Glacier outlines (deep learning)"
    TAGS = ("segmentation", "deep learning", "U-Net", "ONNX", "outlines", "glacier extent", "Landsat", "RGI")
    DEFAULT_MODEL = "glacier_landsat_v1"
    SHORT_HELP = (
        "Maps glacier extent with a neural network (ONNX model with Serac metadata; default: the shipped "
        "glacier_landsat_v1, trained on a Landsat 7 RGB scene of the Everest region at 30 m, see its model card "
        "for accuracy and limits). The raster is read in overlapping tiles whose predictions are blended, and "
        "written block by block, so large scenes run in bounded memory. Backend: auto = torch on a CUDA GPU when "
        "present, else ONNX Runtime on the CPU (the backend used is reported). The model's metadata is checked "
        "against the input: band count and order, pixel size (m). Outputs the glacier probability (0-1) and "
        "outline polygons (probability >= threshold; specks smaller than the minimum area removed, holes smaller "
        "than the minimum hole area filled, optional Douglas-Peucker simplification in m) with id, area_km2, "
        "mean_probability, model and the review fields" + REVIEW_FIELDS_HELP)

    THRESHOLD = "THRESHOLD"
    MIN_AREA_KM2 = "MIN_AREA_KM2"
    MAX_HOLE_KM2 = "MAX_HOLE_KM2"
    OUTPUT_PROBABILITY = "OUTPUT_PROBABILITY"
    OUTPUT_OUTLINES = "OUTPUT_OUTLINES"
    N_OUTLINES = "N_OUTLINES"
    TOTAL_AREA_KM2 = "TOTAL_AREA_KM2"

    def define_parameters(self):
        self.add_inference_parameters("Image (bands as the model expects)")
        self.addParameter(QgsProcessingParameterNumber(
            self.THRESHOLD, self.tr("Probability threshold (empty: the model's)"), NUMBER_DOUBLE, None,
            optional=True, minValue=0.01, maxValue=0.99))
        params.add_number(self, self.MIN_AREA_KM2, "Minimum glacier area (km²)", 0.01, 0.0, 1e4)
        params.add_number(self, self.MAX_HOLE_KM2, "Fill holes smaller than (km²)", 0.01, 0.0, 1e4)
        self.add_simplify_parameter()
        self.add_raster_output(self.OUTPUT_PROBABILITY, "Glacier probability")
        self.add_vector_output(self.OUTPUT_OUTLINES, "Glacier outlines (deep learning)", SOURCE_POLYGON)
        self.add_inference_outputs()
        self.add_number_outputs(N_OUTLINES="Number of outlines", TOTAL_AREA_KM2="Total glacier area (km²)")

    def run_algorithm(self, parameters, context, feedback):
        from ...core.progress import Progress
        from ...core.segmentation.vectorize import outlines_from_raster

        prob_path = self.parameterAsOutputLayer(parameters, self.OUTPUT_PROBABILITY, context)
        run, model = self.infer(parameters, context, feedback, prob_path, progress=Progress(feedback, 0, 85))
        meta = model.metadata
        if meta.positive_index is None:
            from ...core.errors import ModelError

            raise ModelError(f"Model '{meta.name}' has no positive (glacier) class.",
                             "use a glacier-extent model (task glacier_extent).")
        threshold = parameters.get(self.THRESHOLD)
        threshold = meta.threshold if threshold in (None, "") else self.parameterAsDouble(parameters, self.THRESHOLD,
                                                                                          context)
        features = outlines_from_raster(
            prob_path, band=meta.positive_index + 1, threshold=threshold,
            min_area_m2=self.parameterAsDouble(parameters, self.MIN_AREA_KM2, context) * 1e6,
            max_hole_m2=self.parameterAsDouble(parameters, self.MAX_HOLE_KM2, context) * 1e6,
            simplify_m=self.parameterAsDouble(parameters, self.SIMPLIFY_M, context), model_name=meta.name)
        feedback.setProgress(95)
        from ...core.raster_io import read_grid

        grid = read_grid(prob_path)
        dest = self.sink_features(parameters, context, self.OUTPUT_OUTLINES, OUTLINE_FIELDS, WKB_POLYGON,
                                  grid.crs, features, feedback)
        total = sum(f["properties"]["area_km2"] for f in features)
        feedback.pushInfo(f"{len(features)} outline(s), {total:.3f} km² in total (threshold {threshold:g}).")
        self.style_output(context, prob_path, "segmentation_probability", self.tr("Glacier probability"))
        self.style_output(context, dest, "review_status_polygons", self.tr("Glacier outlines (deep learning)"))
        return {self.OUTPUT_PROBABILITY: prob_path, self.OUTPUT_OUTLINES: dest, self.BACKEND_USED: run.backend,
                self.MPX_PER_S: run.mpx_per_s, self.N_OUTLINES: len(features), self.TOTAL_AREA_KM2: total}
