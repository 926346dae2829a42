"""Processing algorithm: accuracy of outlines (IoU) or calving fronts (CaFFe mean distance error).

An adapter of the core job :mod:`serac.core.jobs.evaluate`.
"""

from ..job_algorithm import JobAlgorithm


class EvaluateSegmentationAlgorithm(JobAlgorithm):
    ALG_ID = "segmentation_evaluate"
    JOB_NAME = "segmentation_evaluate"
    DISPLAY_NAME = "Evaluate outlines / fronts"
    GROUP_ID = "segmentation"
    GROUP = "Segmentation (deep learning)"
    TAGS = ("accuracy", "IoU", "precision", "recall", "mean distance error", "MDE", "CaFFe", "validation")
    SHORT_HELP = (
        "Compares a layer with a reference layer of the same geometry type. Polygons (glacier outlines): both "
        "are rasterised on a common grid and compared pixel by pixel: IoU = TP / (TP + FP + FN), precision, "
        "recall and F1 (0-1). Lines (calving fronts): both are rasterised (every touched pixel) and compared "
        "with the mean distance error of the CaFFe benchmark (Gourmelon et al. 2022): the distance from each "
        "front pixel to the nearest pixel of the other front, both ways, averaged (m). The grid is the "
        "reference raster's when one is given (e.g. the image the outlines come from), else a grid of the "
        "given pixel size (m) over both layers in the first layer's CRS (which must be projected).")

    def vector_crs(self, parameters, context, inputs):
        """The grid raster's CRS when given, else the evaluated layer's."""
        from rasterio.crs import CRS

        if inputs.get("grid"):
            return super().vector_crs(parameters, context, inputs)
        return CRS.from_wkt(self.parameterAsSource(parameters, "PREDICTED", context).sourceCrs().toWkt())

    def job_inputs(self, parameters, context, feedback):
        inputs = super().job_inputs(parameters, context, feedback)
        inputs["crs"] = self.vector_crs(parameters, context, inputs)
        return inputs
