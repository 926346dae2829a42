"""Shared parts of the deep-learning inference algorithms (adapters of :mod:`serac.core.jobs.segmentation`)."""

from ...core.jobs.segmentation import MODEL_FILTER  # noqa: F401 (the model file filter, for the train dialog)
from ..job_algorithm import JobAlgorithm, parse_bands  # noqa: F401 (parse_bands: used by the train dialog)

#: Fields of the outline and front layers (the review dock edits review_status).
OUTLINE_FIELDS = [("id", "LongLong"), ("area_km2", "Double"), ("mean_probability", "Double"), ("model", "String"),
                  ("review_status", "String")]
FRONT_FIELDS = [("id", "LongLong"), ("length_m", "Double"), ("model", "String"), ("review_status", "String")]
INFERENCE_ORDER = ("input", "bands", "model", "backend", "batch_size")


class SegmentationInferenceAlgorithm(JobAlgorithm):
    """Base of the inference algorithms: input raster + bands, model, backend, batch size."""

    GROUP_ID = "segmentation"
    GROUP = "Segmentation (deep learning)"
    REQUIRES = (("onnxruntime", "onnxruntime"),)
