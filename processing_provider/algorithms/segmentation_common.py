"""Shared parameters and steps of the deep-learning segmentation algorithms (no algorithm here).

Model file, bands, backend and batch size are declared and read once, here; the core
(serac.core.segmentation) does the work.
"""

from qgis.core import QgsProcessingException, QgsProcessingParameterFile, QgsProcessingParameterString

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..qgis_bridge import raster_path, write_records

INFERENCE_BACKENDS = ["auto", "onnxruntime", "torch-cpu", "torch-cuda"]
#: How the help texts describe the review fields every reviewable output carries.
REVIEW_FIELDS_HELP = (" (review_status = 'unreviewed', reviewer, reviewed_at, review_comment, geometry_edited = 0, "
                      "predicted_size in km² or km), ready for Serac > Outline review with no extra step.")
MODEL_FILTER = "ONNX model (*.onnx);;torch state dict with metadata JSON (*.pt *.pth)"


def parse_bands(text):
    """'1,2,3' -> [1, 2, 3]; '' -> None (all bands)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        bands = [int(b) for b in text.replace(";", ",").split(",") if b.strip()]
    except ValueError:
        raise QgsProcessingException(f"Bands '{text}' are not a comma-separated list of band numbers. "
                                     "Fix: write e.g. 1,2,3 (1-based, in the order the model expects).") from None
    if any(b < 1 for b in bands):
        raise QgsProcessingException("Band numbers start at 1. Fix: use e.g. 1,2,3.")
    return bands


class SegmentationInferenceAlgorithm(SeracAlgorithm):
    """Base of the inference algorithms: input raster + bands, model, backend, batch size."""

    GROUP_ID = "segmentation"
    GROUP = "Segmentation (deep learning)"
    REQUIRES = (("onnxruntime", "onnxruntime"),)
    DEFAULT_MODEL = None

    INPUT = "INPUT"
    BANDS = "BANDS"
    MODEL = "MODEL"
    BACKEND = "BACKEND"
    BATCH_SIZE = "BATCH_SIZE"
    SIMPLIFY_M = "SIMPLIFY_M"
    BACKEND_USED = "BACKEND_USED"
    MPX_PER_S = "MPX_PER_S"

    def add_inference_parameters(self, input_description):
        params.add_raster(self, self.INPUT, input_description)
        self.addParameter(QgsProcessingParameterString(
            self.BANDS, self.tr("Bands, in the model's order (e.g. 1,2,3; empty: all bands)"), optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.MODEL, self.tr(f"Model (empty: the shipped {self.DEFAULT_MODEL})"), optional=True,
            fileFilter=MODEL_FILTER))
        params.add_backend(self, self.BACKEND, INFERENCE_BACKENDS, "auto")
        params.add_number(self, self.BATCH_SIZE, "Tiles per batch", 8, 1, 256, integer=True, advanced=True)

    def add_simplify_parameter(self):
        params.add_number(self, self.SIMPLIFY_M, "Simplification tolerance (m; 0 = pixel edges)", 0.0, 0.0, 1e4)

    def sink_features(self, parameters, context, key, fields, wkb_type, crs, features, feedback):
        """Write GeoJSON-like ``features`` (geometry + properties) to the sink ``key`` with every review
        field (core/review_fields.py) set for a fresh prediction; returns the sink's id."""
        from ..review_output import R, review_records

        return write_records(self, parameters, key, context, R.with_review_fields(fields), wkb_type, crs,
                             review_records(features, crs, wkb_type), feedback)

    def add_inference_outputs(self):
        self.add_string_outputs(BACKEND_USED="Backend used (and why)")
        self.add_number_outputs(MPX_PER_S="Throughput (megapixels per second)")

    def load(self, parameters, context, feedback):
        """(raster path, bands, loaded model) from the parameters; reports the backend chosen."""
        from ...core.segmentation import load_model
        from ...models import shipped_model_path

        path = raster_path(self, parameters, self.INPUT, context, "input")
        bands = parse_bands(self.parameterAsString(parameters, self.BANDS, context))
        model_path = self.parameterAsFile(parameters, self.MODEL, context) or shipped_model_path(self.DEFAULT_MODEL)
        backend = params.enum_value(self, parameters, context, self.BACKEND, INFERENCE_BACKENDS)
        model = load_model(model_path, backend=backend)
        feedback.pushInfo(f"Backend: {model.backend_label} ({model.backend.reason}).")
        meta = model.metadata
        limits = meta.training.get("limits") if isinstance(meta.training, dict) else None
        if limits:
            feedback.pushWarning(f"Model '{meta.name}': {limits}")
        return path, bands, model

    def infer(self, parameters, context, feedback, probability_path, class_path=None, progress=None):
        """Run the model blockwise; returns (SegmentationRun, model)."""
        from ...core.segmentation import segment_raster

        path, bands, model = self.load(parameters, context, feedback)
        run = segment_raster(path, model, probability_path, class_path=class_path, bands=bands,
                             batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
                             feedback=progress if progress is not None else feedback)
        feedback.pushInfo(run.summary())
        return run, model
