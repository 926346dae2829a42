"""Processing algorithm: glacier/ocean/rock zones and the calving front with a deep-learning model."""

from qgis.core import QgsProcessingParameterBoolean

from .. import parameters as params
from ..compat import SOURCE_LINE, WKB_LINESTRING
from .segmentation_common import REVIEW_FIELDS_HELP, SegmentationInferenceAlgorithm

FRONT_FIELDS = [("id", "LongLong"), ("length_m", "Double"), ("model", "String")]


class CalvingFrontDLAlgorithm(SegmentationInferenceAlgorithm):
    ALG_ID = "segmentation_calving_front"
    DISPLAY_NAME = "Calving front (deep learning)"
    TAGS = ("segmentation", "deep learning", "U-Net", "ONNX", "calving front", "terminus", "SAR", "CaFFe")
    DEFAULT_MODEL = "calving_zones_synthetic_v1"
    SHORT_HELP = (
        "Segments a SAR backscatter image (dB) into glacier, ocean (incl. ice melange) and rock zones with a "
        "neural network and extracts the calving front as the glacier-ocean boundary, following the CaFFe "
        "benchmark (Gourmelon et al. 2022): ocean gaps are filled and only the largest ocean region is kept, "
        "front pixels are ocean pixels next to glacier, and front pieces shorter than the minimum length "
        "(750 m in CaFFe) are dropped. The shipped model (calving_zones_synthetic_v1) was trained on SIMULATED "
        "SAR-like scenes only: treat its fronts as a starting point for review, or fine-tune/replace it with "
        "a model trained on real labelled SAR (any ONNX model with Serac metadata, task calving_front_zones). "
        "Tiles overlap and are blended; the raster is processed block by block. Outputs the class "
        "probabilities, the zone map (0 glacier, 1 ocean, 2 rock for the shipped model) and front lines with "
        "id, length_m, model and the review fields" + REVIEW_FIELDS_HELP)

    MIN_LENGTH_M = "MIN_LENGTH_M"
    CLEAN = "CLEAN"
    OUTPUT_PROBABILITY = "OUTPUT_PROBABILITY"
    OUTPUT_ZONES = "OUTPUT_ZONES"
    OUTPUT_FRONTS = "OUTPUT_FRONTS"
    N_FRONTS = "N_FRONTS"
    FRONT_LENGTH_KM = "FRONT_LENGTH_KM"

    def define_parameters(self):
        self.add_inference_parameters("SAR backscatter (dB)")
        params.add_number(self, self.MIN_LENGTH_M, "Drop front pieces up to this length (m)", 750.0, 0.0, 1e5)
        self.addParameter(QgsProcessingParameterBoolean(
            self.CLEAN, self.tr("CaFFe ocean clean-up (fill ocean gaps, keep the largest ocean)"), defaultValue=True))
        self.add_simplify_parameter()
        self.add_raster_output(self.OUTPUT_PROBABILITY, "Zone probabilities")
        self.add_raster_output(self.OUTPUT_ZONES, "Zones (glacier / ocean / rock)")
        self.add_vector_output(self.OUTPUT_FRONTS, "Calving fronts (deep learning)", SOURCE_LINE)
        self.add_inference_outputs()
        self.add_number_outputs(N_FRONTS="Number of front lines", FRONT_LENGTH_KM="Total front length (km)")

    def run_algorithm(self, parameters, context, feedback):
        from ...core.errors import ModelError
        from ...core.progress import Progress
        from ...core.raster_io import read_raster
        from ...core.segmentation import pixel_size_m
        from ...core.segmentation.fronts import front_features

        prob_path = self.parameterAsOutputLayer(parameters, self.OUTPUT_PROBABILITY, context)
        zones_path = self.parameterAsOutputLayer(parameters, self.OUTPUT_ZONES, context)
        run, model = self.infer(parameters, context, feedback, prob_path, class_path=zones_path,
                                progress=Progress(feedback, 0, 85))
        meta = model.metadata
        if not meta.front:
            raise ModelError(f"Model '{meta.name}' does not define which classes meet at the front.",
                             "use a calving_front_zones model (metadata output.front, e.g. glacier, ocean).")
        zones = read_raster(zones_path)
        features, _ = front_features(
            zones.data[0].astype("uint8"), zones.grid, meta.class_index(meta.front[0]),
            meta.class_index(meta.front[1]), pixel_size_m(zones.grid),
            min_length_m=self.parameterAsDouble(parameters, self.MIN_LENGTH_M, context),
            clean=self.parameterAsBoolean(parameters, self.CLEAN, context),
            simplify_m=self.parameterAsDouble(parameters, self.SIMPLIFY_M, context), model_name=meta.name)
        dest = self.sink_features(parameters, context, self.OUTPUT_FRONTS, FRONT_FIELDS, WKB_LINESTRING,
                                  zones.grid.crs, features, feedback)
        length_km = sum(f["properties"]["length_m"] for f in features) / 1000.0
        feedback.pushInfo(f"{len(features)} front line(s), {length_km:.2f} km in total.")
        self.style_output(context, prob_path, "segmentation_probability", self.tr("Zone probabilities"))
        self.style_output(context, zones_path, "segmentation_zones", self.tr("Zones (glacier / ocean / rock)"))
        self.style_output(context, dest, "review_status_lines", self.tr("Calving fronts (deep learning)"))
        return {self.OUTPUT_PROBABILITY: prob_path, self.OUTPUT_ZONES: zones_path, self.OUTPUT_FRONTS: dest,
                self.BACKEND_USED: run.backend, self.MPX_PER_S: run.mpx_per_s, self.N_FRONTS: len(features),
                self.FRONT_LENGTH_KM: length_km}
