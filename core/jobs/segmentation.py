"""Jobs: glacier outlines and calving fronts from an image with a deep-learning segmentation model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import INFERENCE_BACKENDS
from ..errors import ModelError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, current_threads, parse_band_list, \
    require_input, setting, thread_limits

MODEL_FILTER = "ONNX model (*.onnx);;torch state dict with metadata JSON (*.pt *.pth)"
#: Models shipped with the plugin live in ``models/`` at the plugin root (a data folder for the core).
SHIPPED_MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                  "models")


def shipped_model_path(name: str) -> str:
    """Path of a model shipped with the plugin, e.g. ``shipped_model_path("glacier_landsat_v1")``."""
    return os.path.join(SHIPPED_MODELS_DIR, name if name.endswith(".onnx") else name + ".onnx")


@dataclass(frozen=True)
class InferenceSettings(Settings):
    bands: Optional[tuple] = setting(None, "Bands, in the model's order (e.g. 1,2,3; empty: all bands)",
                                     optional=True, widget="bands_text", kind=tuple)
    backend: str = setting("auto", "Compute backend", choices=INFERENCE_BACKENDS)
    batch_size: int = setting(8, "Tiles per batch", minimum=1, maximum=256, advanced=True)
    overlap: Optional[int] = setting(None, "Tile overlap (px; empty: the model's, seamless)", unit="px",
                                     minimum=0, maximum=1024, optional=True, kind=int, advanced=True)
    uncertainty: bool = setting(False, "Uncertainty raster (test-time augmentation, 4x the compute)",
                                advanced=True, optional=True)  # optional: saved models without it still open

    def __post_init__(self):
        object.__setattr__(self, "bands", parse_band_list(self.bands))
        super().__post_init__()


@dataclass(frozen=True)
class OutlinesSettings(InferenceSettings):
    threshold: Optional[float] = setting(None, "Probability threshold (empty: the model's)", minimum=0.01,
                                         maximum=0.99, optional=True, kind=float)
    min_area_km2: float = setting(0.01, "Minimum glacier area (km²)", unit="km²", minimum=0.0, maximum=1e4)
    max_hole_km2: float = setting(0.01, "Fill holes smaller than (km²)", unit="km²", minimum=0.0, maximum=1e4)
    simplify_m: float = setting(0.0, "Simplification tolerance (m; 0 = pixel edges)", unit="m", minimum=0.0,
                                maximum=1e4)


@dataclass(frozen=True)
class CalvingFrontSettings(InferenceSettings):
    min_length_m: float = setting(750.0, "Drop front pieces up to this length (m)", unit="m", minimum=0.0,
                                  maximum=1e5)
    clean: bool = setting(True, "CaFFe ocean clean-up (fill ocean gaps, keep the largest ocean)")
    edge_km2: float = setting(1.0, "Clean-up keeps regions at the scene edge from (km²; 0: as CaFFe)",
                              unit="km²", minimum=0.0, maximum=1e4, optional=True)  # optional: older saved models
    min_ocean_km2: float = setting(1.0, "Smallest ocean region counted as sea (km²; 0: as CaFFe)", unit="km²",
                                   minimum=0.0, maximum=1e4, optional=True)  # optional: older saved models
    short_fraction: float = setting(0.25, "Keep shorter pieces from this share of the longest (0: as CaFFe)",
                                    minimum=0.0, maximum=1.0, optional=True)  # optional: older saved models
    bridge_m: float = setting(300.0, "Bridge land gaps between glacier and ocean up to (m; 0: as CaFFe)", unit="m",
                              minimum=0.0, maximum=5000.0, optional=True)  # optional: older saved models
    drop_bridged_only: bool = setting(True, "Drop front pieces made by bridging alone", advanced=True,
                                      optional=True)  # optional: older saved models
    simplify_m: float = setting(0.0, "Simplification tolerance (m; 0 = pixel edges)", unit="m", minimum=0.0,
                                maximum=1e4)


#: further rasters a multi-source model declares (DEM, SAR, ...), after the first input, in the metadata's order
EXTRA_INPUTS_PORT = Port("rasters", "Further inputs the model declares (e.g. DEM, SAR; in the model's order)",
                         optional=True)


def input_paths(inputs, what="input raster"):
    """``[input, *extra_inputs]``: the rasters of a (single- or multi-source) model, first one's grid first."""
    return [require_input(inputs, "input", what), *(inputs.get("extra_inputs") or [])]


def _inputs(what, default_model):
    return {"input": Port("raster", what), "extra_inputs": EXTRA_INPUTS_PORT,
            "model": Port("file", f"Model (empty: the shipped {default_model})", optional=True,
                          file_filter=MODEL_FILTER)}


INFERENCE_TEXTS = dict(backend_used="Backend used (and why)")
INFERENCE_NUMBERS = dict(mpx_per_s="Throughput (megapixels per second)")
OUTLINES_MODEL = "glacier_rgb_v2"
#: written only with the ``uncertainty`` setting on
UNCERTAINTY_PORT = Port("raster", "Uncertainty (test-time augmentation spread)", style="segmentation_uncertainty",
                        optional=True, default_on=False)
FRONT_MODEL = "calving_zones_synthetic_v11"


def infer(inputs, settings, default_model, probability_path, class_path, progress, uncertainty_path=None):
    """Load the model (shipped default when none given) and run it blockwise; returns (SegmentationRun, model).

    ``uncertainty_path``: written when ``settings.uncertainty`` (test-time augmentation spread)."""
    from ..segmentation import load_model, segment_raster

    paths = input_paths(inputs)
    model = load_model(inputs.get("model") or shipped_model_path(default_model), backend=settings.backend,
                       threads=current_threads())
    progress.info(f"Backend: {model.backend_label} ({model.backend.reason}).")
    meta = model.metadata
    limits = meta.training.get("limits") if isinstance(meta.training, dict) else None
    if limits:
        progress.warn(f"Model '{meta.name}': {limits}")
    if len(paths) > 1 and meta.sources == [""] and not meta.time:
        raise ModelError(f"Model '{meta.name}' takes one input raster; {len(paths) - 1} further input(s) given.",
                         "leave the further inputs empty, or use a model whose metadata declares them.")
    run = segment_raster(paths if len(paths) > 1 else paths[0], model, probability_path, class_path=class_path,
                         bands=list(settings.bands) if settings.bands else None, batch_size=settings.batch_size,
                         feedback=progress, overlap=settings.overlap,
                         uncertainty_path=uncertainty_path if settings.uncertainty else None)
    progress.info(run.summary())
    return run, model


def _uncertainty_output(outputs, settings):
    """Path of the uncertainty raster when asked for (``settings.uncertainty``), else None."""
    if not settings.uncertainty:
        return None
    return os.fspath(require_input(outputs, "output_uncertainty", "uncertainty output (or turn uncertainty off)"))


def _uncertainty_result(path):
    return {"output_uncertainty": path} if path else {}


def _report(run, model):
    return {"model": model.metadata.name, "backend": run.backend, "seconds": run.seconds,
            "tiles_run": run.tiles_run, "tiles_nodata": run.tiles_nodata, "valid_fraction": run.valid_fraction}


def run_outlines(inputs: Mapping, outputs: Mapping, settings: OutlinesSettings, feedback=None,
                 threads: Optional[int] = None) -> Result:
    """Glacier probability (``output_probability``) and outline polygons (``output_outlines``)."""
    from ..raster_io import read_grid
    from ..segmentation.vectorize import outlines_from_raster

    progress = Progress(core_feedback(feedback))
    prob_path = os.fspath(require_input(outputs, "output_probability", "probability output"))
    unc_path = _uncertainty_output(outputs, settings)
    with thread_limits(threads):
        run, model = infer(inputs, settings, OUTLINES_MODEL, prob_path, None, progress.sub(0.0, 0.85), unc_path)
        meta = model.metadata
        if meta.positive_index is None:
            raise ModelError(f"Model '{meta.name}' has no positive (glacier) class.",
                             "use a glacier-extent model (task glacier_extent).")
        threshold = meta.threshold if settings.threshold is None else settings.threshold
        features = outlines_from_raster(prob_path, band=meta.positive_index + 1, threshold=threshold,
                                        min_area_m2=settings.min_area_km2 * 1e6,
                                        max_hole_m2=settings.max_hole_km2 * 1e6, simplify_m=settings.simplify_m,
                                        model_name=meta.name, uncertainty_path=unc_path)
        progress.update(0.95)
        crs = read_grid(prob_path).crs
    total = sum(f["properties"]["area_km2"] for f in features)
    progress.info(f"{len(features)} outline(s), {total:.3f} km² in total (threshold {threshold:g}).")
    report = dict(_report(run, model), threshold=threshold)
    return Result(dict({"output_probability": prob_path}, **_uncertainty_result(unc_path)),
                  {"backend_used": run.backend, "mpx_per_s": run.mpx_per_s, "n_outlines": len(features),
                   "total_area_km2": total}, report,
                  features={"output_outlines": (features, crs, "Polygon")})


def calving_front_lines(zones, grid, glacier, ocean, settings: CalvingFrontSettings, model_name=""):
    """(front line features, front pixel mask) of a zone class map on ``grid`` with the job's post-processing
    ``settings`` (clean-up, edge area, smallest sea, bridging, minimum length and share of the longest piece,
    simplification);
    ``glacier``, ``ocean``: the class indices that meet at the front."""
    from ..raster_io import pixel_size_m
    from ..segmentation.fronts import front_features

    return front_features(zones, grid, glacier, ocean, pixel_size_m(grid), min_length_m=settings.min_length_m,
                          clean=settings.clean, simplify_m=settings.simplify_m, model_name=model_name,
                          bridge_m=settings.bridge_m, edge_km2=settings.edge_km2,
                          short_fraction=settings.short_fraction, drop_bridged_only=settings.drop_bridged_only,
                          min_ocean_km2=settings.min_ocean_km2)


def run_calving_front(inputs: Mapping, outputs: Mapping, settings: CalvingFrontSettings, feedback=None,
                      threads: Optional[int] = None) -> Result:
    """Zone probabilities, the zone map and calving-front lines (CaFFe post-processing)."""
    from ..raster_io import read_raster

    progress = Progress(core_feedback(feedback))
    prob_path = os.fspath(require_input(outputs, "output_probability", "probability output"))
    zones_path = os.fspath(require_input(outputs, "output_zones", "zone map output"))
    unc_path = _uncertainty_output(outputs, settings)
    with thread_limits(threads):
        run, model = infer(inputs, settings, FRONT_MODEL, prob_path, zones_path, progress.sub(0.0, 0.85), unc_path)
        meta = model.metadata
        if not meta.front:
            raise ModelError(f"Model '{meta.name}' does not define which classes meet at the front.",
                             "use a calving_front_zones model (metadata output.front, e.g. glacier, ocean).")
        zones = read_raster(zones_path)
        features, _ = calving_front_lines(zones.data[0].astype("uint8"), zones.grid, meta.class_index(meta.front[0]),
                                          meta.class_index(meta.front[1]), settings, meta.name)
    length_km = sum(f["properties"]["length_m"] for f in features) / 1000.0
    progress.info(f"{len(features)} front line(s), {length_km:.2f} km in total.")
    if not features:
        sea = f" next to an {meta.front[1]} region of at least {settings.min_ocean_km2:g} km²" \
            if settings.min_ocean_km2 > 0 else ""
        progress.warn(f"No calving front found: the zone map has no {meta.front[0]}-{meta.front[1]} boundary longer "
                      f"than {settings.min_length_m:g} m{sea}. Check the zone map; the front layer is empty (no "
                      "distance to a reference front can be computed).")
    return Result(dict({"output_probability": prob_path, "output_zones": zones_path}, **_uncertainty_result(unc_path)),
                  {"backend_used": run.backend, "mpx_per_s": run.mpx_per_s, "n_fronts": len(features),
                   "front_length_km": length_km}, _report(run, model),
                  features={"output_fronts": (features, zones.grid.crs, "LineString")})


OUTLINES = Job(
    "segmentation_glacier_outlines", "Glacier outlines (deep learning)", OutlinesSettings, run_outlines,
    _inputs("Image (bands as the model expects)", OUTLINES_MODEL),
    {"output_probability": Port("raster", "Glacier probability", style="segmentation_probability"),
     "output_outlines": Port("polygons", "Glacier outlines (deep learning)", style="review_status_polygons"),
     "output_uncertainty": UNCERTAINTY_PORT},
    dict(INFERENCE_NUMBERS, n_outlines="Number of outlines", total_area_km2="Total glacier area (km²)"),
    INFERENCE_TEXTS)
CALVING_FRONT = Job(
    "segmentation_calving_front", "Calving front (deep learning)", CalvingFrontSettings, run_calving_front,
    _inputs("SAR backscatter (dB)", FRONT_MODEL),
    {"output_probability": Port("raster", "Zone probabilities", style="segmentation_probability"),
     "output_zones": Port("raster", "Zones (glacier / ocean / rock)", style="segmentation_zones"),
     "output_fronts": Port("lines", "Calving fronts (deep learning)", style="review_status_lines"),
     "output_uncertainty": UNCERTAINTY_PORT},
    dict(INFERENCE_NUMBERS, n_fronts="Number of front lines", front_length_km="Total front length (km)"),
    INFERENCE_TEXTS)
JOBS = {job.name: job for job in (OUTLINES, CALVING_FRONT)}
