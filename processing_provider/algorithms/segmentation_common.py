"""Shared parts of the deep-learning inference algorithms (adapters of :mod:`serac.core.jobs.segmentation`)."""

from ...core.jobs.segmentation import MODEL_FILTER  # noqa: F401 (the model file filter, for the train dialog)
from ...core.review_fields import MEAN_UNCERTAINTY, with_review_fields
from ..job_algorithm import JobAlgorithm, parse_bands  # noqa: F401 (parse_bands: used by the train dialog)

#: Fields of the outline and front layers, then every review field (core/review_fields.py) for the review dock.
OUTLINE_FIELDS = with_review_fields([("id", "LongLong"), ("area_km2", "Double"), ("mean_probability", "Double"),
                                     ("model", "String")])
FRONT_FIELDS = with_review_fields([("id", "LongLong"), ("length_m", "Double"), ("model", "String")])
#: How the help texts describe the review fields every reviewable output carries.
REVIEW_FIELDS_HELP = (" (review_status = 'unreviewed', reviewer, reviewed_at, review_comment, geometry_edited = 0, "
                      "predicted_size in km² or km), ready for Serac > Outline review with no extra step.")
INFERENCE_ORDER = ("input", "extra_inputs", "bands", "model", "backend", "batch_size", "overlap", "uncertainty")


class SegmentationInferenceAlgorithm(JobAlgorithm):
    """Base of the inference algorithms: input raster + bands, model, backend, batch size."""

    GROUP_ID = "segmentation"
    GROUP = "Segmentation (deep learning)"
    REQUIRES = ("onnxruntime",)

    def processing_results(self, parameters, context, feedback, result):
        """Vector outputs get every review field, set for a fresh prediction (sizes measured as the dock does)."""
        from ..review_output import with_review_values

        fields = dict(self.FIELDS)
        for name, (features, crs, extra) in list(result.features.items()):
            polygon = self.job().outputs[name].kind == "polygons"
            result.features[name] = (with_review_values(features, crs, polygon), crs, extra)
            if features and MEAN_UNCERTAINTY in features[0]["properties"]:  # the uncertainty setting was on
                spec = list(fields[name])
                spec.insert(3, (MEAN_UNCERTAINTY, "Double"))
                fields[name] = spec
        self.FIELDS = fields
        return super().processing_results(parameters, context, feedback, result)
