"""Job: accuracy of outlines (IoU, precision, recall, F1) or calving fronts (CaFFe mean distance error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..errors import InputError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, nan_numbers, require_vector, setting, thread_limits

_KINDS = {"Polygon": "polygons", "MultiPolygon": "polygons", "LineString": "lines", "MultiLineString": "lines"}


@dataclass(frozen=True)
class EvaluateSettings(Settings):
    resolution: float = setting(30.0, "Pixel size of the comparison grid when no raster is given (m)", unit="m",
                                minimum=0.01, maximum=1e5)


def geometry_kind(geoms, what) -> str:
    """'polygons' or 'lines': the one kind of the GeoJSON-like geometries ``geoms`` (not empty); InputError
    otherwise."""
    kinds = {_KINDS.get(g.get("type")) for g in geoms}
    if len(kinds) != 1 or None in kinds:
        raise InputError(f"The {what} mixes geometry types or holds neither polygons nor lines.",
                         "give a layer of polygons (outlines) or of lines (fronts).")
    return kinds.pop()


def _file_crs(path):
    """The CRS (rasterio) of the first layer of a vector file, or None."""
    from osgeo import ogr
    from rasterio.crs import CRS

    ds = ogr.Open(str(path))
    srs = ds.GetLayer(0).GetSpatialRef() if ds is not None else None
    return CRS.from_wkt(srs.ExportToWkt()) if srs is not None else None


def run(inputs: Mapping, outputs: Mapping, settings: EvaluateSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Compare ``inputs['predicted']`` with ``inputs['reference']`` on the grid of ``inputs['grid']`` (a raster)
    or a grid of ``settings.resolution`` m over both in ``inputs['crs']`` (default: the predicted layer's)."""
    from ..raster_io import read_grid
    from ..segmentation.metrics import compare_fronts, compare_outlines, evaluation_grid

    progress = Progress(core_feedback(feedback))
    grid = read_grid(inputs["grid"]) if inputs.get("grid") else None
    crs = grid.crs if grid is not None else inputs.get("crs")
    if crs is None and not isinstance(inputs.get("predicted"), (list, tuple)):
        crs = _file_crs(inputs["predicted"])
    predicted = require_vector(inputs, "predicted", "layer to evaluate", crs)
    reference = require_vector(inputs, "reference", "reference layer", crs)
    # an empty layer (e.g. a model that found nothing) takes the other layer's kind and scores accordingly
    kinds = [geometry_kind(g, what) for g, what in ((predicted, "layer to evaluate"), (reference, "reference layer"))
             if g]
    if not kinds:
        raise InputError("There is no geometry to evaluate.", "check that both layers hold features.")
    if len(set(kinds)) > 1:
        raise InputError(f"The layers hold different geometry types ({kinds[0]} and {kinds[1]}).",
                         "compare polygons with polygons (outlines) or lines with lines (fronts).")
    kind = kinds[0]
    if grid is None:
        grid = evaluation_grid(predicted + reference, crs, settings.resolution)
    progress.info(f"Comparison grid: {grid.describe()}.")
    numbers = nan_numbers(NUMBERS)
    with thread_limits(threads):
        if kind == "polygons":
            scores = compare_outlines(predicted, reference, grid)
            numbers.update(iou=scores.iou, precision=scores.precision, recall=scores.recall, f1=scores.f1)
            report = scores.as_dict()
            progress.info(f"IoU {scores.iou:.3f}, precision {scores.precision:.3f}, recall {scores.recall:.3f}.")
        else:
            err = compare_fronts(predicted, reference, grid)
            numbers.update(mde_m=err.mde_m, median_m=err.median_m)
            report = err.as_dict()
            if err.n_no_prediction:
                progress.warn("The evaluated layer has no front on the grid; the MDE is undefined.")
            else:
                progress.info(f"Mean distance error {err.mde_m:.1f} m (median {err.median_m:.1f} m).")
    report.update(kind=kind, grid=grid.describe())
    numbers["kind"] = kind
    return Result({}, numbers, report)


NUMBERS = dict(iou="IoU (0-1, polygons)", precision="Precision (0-1, polygons)", recall="Recall (0-1, polygons)",
               f1="F1 (0-1, polygons)", mde_m="Mean distance error (m, lines)",
               median_m="Median distance (m, lines)")
JOB = Job("segmentation_evaluate", "Evaluate outlines / fronts", EvaluateSettings, run,
          {"predicted": Port("vector", "Layer to evaluate (outlines or front lines)"),
           "reference": Port("vector", "Reference layer (same geometry type)"),
           "grid": Port("raster", "Raster defining the comparison grid", optional=True)},
          {}, NUMBERS, dict(kind="What was compared (polygons or lines)"))
