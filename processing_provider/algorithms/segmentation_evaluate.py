"""Processing algorithm: accuracy of outlines (IoU) or calving fronts (CaFFe mean distance error)."""

import json

from qgis.core import QgsProcessingParameterFeatureSource, QgsWkbTypes

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..compat import GEOMETRY_LINE, GEOMETRY_POLYGON, SOURCE_LINE, SOURCE_POLYGON
from ..qgis_bridge import raster_path, source_geometries


class EvaluateSegmentationAlgorithm(SeracAlgorithm):
    ALG_ID = "segmentation_evaluate"
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

    PREDICTED = "PREDICTED"
    REFERENCE = "REFERENCE"
    GRID = "GRID"
    RESOLUTION = "RESOLUTION"
    KIND = "KIND"
    IOU = "IOU"
    PRECISION = "PRECISION"
    RECALL = "RECALL"
    F1 = "F1"
    MDE_M = "MDE_M"
    MEDIAN_M = "MEDIAN_M"
    REPORT = "REPORT"

    def define_parameters(self):
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.PREDICTED, self.tr("Layer to evaluate (outlines or front lines)"), [SOURCE_POLYGON, SOURCE_LINE]))
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.REFERENCE, self.tr("Reference layer (same geometry type)"), [SOURCE_POLYGON, SOURCE_LINE]))
        params.add_raster(self, self.GRID, "Raster defining the comparison grid (optional)", optional=True)
        params.add_number(self, self.RESOLUTION, "Pixel size of the comparison grid when no raster is given (m)",
                          30.0, 0.01, 1e5)
        self.add_string_outputs(KIND="What was compared (polygons or lines)", REPORT="All scores (JSON)")
        self.add_number_outputs(IOU="IoU (0-1, polygons)", PRECISION="Precision (0-1, polygons)",
                                RECALL="Recall (0-1, polygons)", F1="F1 (0-1, polygons)",
                                MDE_M="Mean distance error (m, lines)", MEDIAN_M="Median distance (m, lines)")

    def _geometry_kind(self, parameters, key, context):
        source = self.parameterAsSource(parameters, key, context)
        kind = QgsWkbTypes.geometryType(source.wkbType())
        return {GEOMETRY_POLYGON: "polygons", GEOMETRY_LINE: "lines"}.get(kind), source

    def run_algorithm(self, parameters, context, feedback):
        from rasterio.crs import CRS

        from ...core.errors import InputError
        from ...core.raster_io import read_grid
        from ...core.segmentation.metrics import compare_fronts, compare_outlines, evaluation_grid

        kind, source = self._geometry_kind(parameters, self.PREDICTED, context)
        ref_kind, _ = self._geometry_kind(parameters, self.REFERENCE, context)
        if kind is None or kind != ref_kind:
            raise InputError(f"The layers hold different geometry types ({kind} and {ref_kind}).",
                             "compare polygons with polygons (outlines) or lines with lines (fronts).")
        if parameters.get(self.GRID):
            grid = read_grid(raster_path(self, parameters, self.GRID, context, "grid"))
            crs = grid.crs
        else:
            grid = None
            crs = CRS.from_wkt(source.sourceCrs().toWkt())
        predicted = source_geometries(self, parameters, self.PREDICTED, context, crs, feedback)
        reference = source_geometries(self, parameters, self.REFERENCE, context, crs, feedback)
        if grid is None:
            grid = evaluation_grid(predicted + reference, crs,
                                   self.parameterAsDouble(parameters, self.RESOLUTION, context))
        feedback.pushInfo(f"Comparison grid: {grid.describe()}.")
        nan = float("nan")
        out = {self.KIND: kind, self.IOU: nan, self.PRECISION: nan, self.RECALL: nan, self.F1: nan,
               self.MDE_M: nan, self.MEDIAN_M: nan}
        if kind == "polygons":
            scores = compare_outlines(predicted, reference, grid)
            out.update({self.IOU: scores.iou, self.PRECISION: scores.precision, self.RECALL: scores.recall,
                        self.F1: scores.f1})
            report = scores.as_dict()
            feedback.pushInfo(f"IoU {scores.iou:.3f}, precision {scores.precision:.3f}, recall {scores.recall:.3f}.")
        else:
            err = compare_fronts(predicted, reference, grid)
            out.update({self.MDE_M: err.mde_m, self.MEDIAN_M: err.median_m})
            report = err.as_dict()
            if err.n_no_prediction:
                feedback.pushWarning("The evaluated layer has no front on the grid; the MDE is undefined.")
            else:
                feedback.pushInfo(f"Mean distance error {err.mde_m:.1f} m (median {err.median_m:.1f} m).")
        report.update(kind=kind, grid=grid.describe())
        out[self.REPORT] = json.dumps(report)
        return out
