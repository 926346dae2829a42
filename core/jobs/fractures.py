"""Job: crevasse and fracture map of one image (filter bank or learned model): response or probability,
fracture lines (m, deg), and per-window density (km/km²) and dominant orientation (deg)."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import FRACTURE_METHODS, FRACTURE_POLARITIES, INFERENCE_BACKENDS
from ..errors import InputError, ModelError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, current_threads, geometries, optional_output, \
    require_input, setting, thread_limits
from .segmentation import MODEL_FILTER, shipped_model_path

FRACTURE_MODEL = "fractures_moa_v2"
#: Response threshold of the filter bank (response 0-1; see serac.core.fractures.filterbank)
FILTER_BANK_THRESHOLD = 0.2


@dataclass(frozen=True)
class FractureSettings(Settings):
    method: str = setting("filter_bank", "Method", choices=FRACTURE_METHODS)
    band: int = setting(1, "Band", minimum=1, widget="band", parent="input")
    min_wavelength_m: float = setting(40.0, "Filter bank: shortest fracture spacing (m)", unit="m", minimum=0.01,
                                      maximum=1e5)
    max_wavelength_m: float = setting(400.0, "Filter bank: longest fracture spacing (m)", unit="m", minimum=0.01,
                                      maximum=1e5)
    polarity: str = setting("dark", "Filter bank: fractures appear as", choices=FRACTURE_POLARITIES)
    window_m: float = setting(500.0, "Density and orientation window (m)", unit="m", minimum=1.0, maximum=1e6)
    threshold: Optional[float] = setting(None, "Threshold (empty: 0.2 for the filter bank, the model's own)",
                                         minimum=0.001, maximum=0.999, optional=True, kind=float)
    min_length_m: float = setting(100.0, "Drop fracture lines shorter than (m)", unit="m", minimum=0.0,
                                  maximum=1e6)
    orientations: int = setting(12, "Filter bank: orientations", minimum=4, maximum=36, advanced=True)
    backend: str = setting("auto", "Model: compute backend", choices=INFERENCE_BACKENDS, advanced=True)
    batch_size: int = setting(8, "Model: tiles per batch", minimum=1, maximum=256, advanced=True)
    block: int = setting(2048, "Block size (px)", unit="px", minimum=256, maximum=16384, advanced=True)

    def __post_init__(self):
        super().__post_init__()
        if self.max_wavelength_m < self.min_wavelength_m:
            raise InputError(f"The longest fracture spacing ({self.max_wavelength_m:g} m) is below the shortest "
                             f"({self.min_wavelength_m:g} m).", "give min <= max.")


INPUTS = {"input": Port("raster", "Image (optical band, SAR amplitude or a mosaic such as MOA)"),
          "outlines": Port("polygons", "Glacier outlines (optional: map only inside them)", optional=True),
          "model": Port("file", f"Model (method 'model'; empty: the shipped {FRACTURE_MODEL})", optional=True,
                        file_filter=MODEL_FILTER)}
OUTPUTS = {"output_response": Port("raster", "Fracture response or probability (0-1)", style="fracture_response"),
           "output_lines": Port("lines", "Fracture lines", style="review_status_lines"),
           "output_density": Port("raster", "Fracture density (km/km²) per window", optional=True,
                                  style="fracture_density"),
           "output_orientation": Port("raster", "Dominant fracture orientation (deg) per window", optional=True,
                                      style="fracture_orientation")}
NUMBERS = dict(n_lines="Number of fracture lines", total_length_km="Total fracture length (km)",
               fracture_fraction="Fraction of the mapped area above the threshold (0-1)",
               mean_density="Mean fracture density (km/km²)",
               dominant_orientation_deg="Dominant fracture orientation (deg clockwise from grid north)",
               mpx_per_s="Throughput (megapixels per second)")
TEXTS = dict(method_used="Method used (and its parameters)")


def _model(inputs, settings, pixel_size, progress):
    """The fracture model, checked against the input: task, pixel size (refused with a message), value range."""
    from ..segmentation import load_model

    model = load_model(inputs.get("model") or shipped_model_path(FRACTURE_MODEL), backend=settings.backend,
                       threads=current_threads())
    meta = model.metadata
    if meta.task != "fractures":
        raise ModelError(f"Model '{meta.name}' is a '{meta.task}' model, not a fracture model.",
                         "use a model whose metadata task is 'fractures' (e.g. the shipped "
                         f"{FRACTURE_MODEL}), or the filter bank method.")
    try:
        meta.check_pixel_size(pixel_size)
    except ModelError as err:
        raise ModelError(err.problem, f"use the filter bank method (it works at any pixel size), or {err.fix}") \
            from None
    limits = meta.training.get("limits") if isinstance(meta.training, dict) else None
    if limits:
        progress.warn(f"Model '{meta.name}': {limits}")
    return model


def run(inputs: Mapping, outputs: Mapping, settings: FractureSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Map fractures of band ``settings.band`` of ``inputs['input']``; write the response and, if asked, the
    density and orientation rasters; the lines come back as features (``output_lines``)."""
    from ..fractures.density import window_px
    from ..fractures.filterbank import make_bank
    from ..fractures.mapping import RESPONSE_BANDS, filter_bank_response, lines_and_density, model_probability, \
        throughput
    from ..raster_io import band_count, pixel_size_m, read_grid

    progress = Progress(core_feedback(feedback))
    path = os.fspath(require_input(inputs, "input", "input image"))
    response_path = os.fspath(require_input(outputs, "output_response", "response output"))
    grid = read_grid(path)
    px = pixel_size_m(grid)
    n_bands = band_count(path)
    if settings.band > n_bands:
        raise InputError(f"Band {settings.band} was asked for but the image has {n_bands} band(s).",
                         f"choose a band from 1 to {n_bands}.")
    outlines = geometries(inputs.get("outlines"), grid.crs) if inputs.get("outlines") else None
    cell = window_px(settings.window_m, px)
    if cell * px != settings.window_m:
        progress.info(f"Density window: {cell} px = {cell * px:.4g} m (the {settings.window_m:g} m asked for, "
                      "rounded to whole pixels).")
    start = time.perf_counter()
    with thread_limits(threads), tempfile.TemporaryDirectory(prefix="serac_fractures_") as scratch:
        if settings.method == "filter_bank":
            bank, notes = make_bank(settings.min_wavelength_m, settings.max_wavelength_m, px,
                                    orientations=settings.orientations)
            for note in notes:
                progress.warn("Filter bank: " + note)
            threshold = FILTER_BANK_THRESHOLD if settings.threshold is None else settings.threshold
            method = (f"filter bank: {bank.orientations} orientations, {len(bank.wavelengths_px)} wavelengths "
                      f"{bank.wavelengths_px[0] * px:.4g}-{bank.wavelengths_px[-1] * px:.4g} m, threshold "
                      f"{threshold:g}")
            progress.info(f"Method: {method}; {px:.4g} m pixels.")
            filter_bank_response(path, response_path, bank, px, band=settings.band, outlines=outlines,
                                 block=settings.block, threads=current_threads(), polarity=settings.polarity,
                                 threshold=threshold, feedback=progress.sub(0.0, 0.8))
            label, line_band = "filter bank", RESPONSE_BANDS.index("line_response") + 1
        else:
            model = _model(inputs, settings, px, progress)
            meta = model.metadata
            threshold = meta.threshold if settings.threshold is None else settings.threshold
            method = f"model {meta.name} v{meta.version} on {model.backend_label}, threshold {threshold:g}"
            progress.info(f"Method: {method}.")
            model_probability(path, model, response_path, band=settings.band, outlines=outlines, scratch=scratch,
                              batch_size=settings.batch_size, feedback=progress.sub(0.0, 0.8))
            label, line_band = meta.name, 1
        density_path = optional_output(outputs, "output_density")
        orientation_path = optional_output(outputs, "output_orientation")
        summary = lines_and_density(response_path, threshold, cell, px, settings.min_length_m, label,
                                    density_path, orientation_path, block=settings.block, band=line_band,
                                    feedback=progress.sub(0.8, 1.0))
    seconds = time.perf_counter() - start
    written = {"output_response": response_path}
    if density_path:
        written["output_density"] = density_path
    if orientation_path:
        written["output_orientation"] = orientation_path
    progress.info(f"{len(summary.features)} fracture line(s), {summary.total_length_km:.2f} km in total; "
                  f"{100 * summary.fracture_fraction:.2f} % of the mapped area above the threshold; dominant "
                  f"orientation {summary.dominant_orientation_deg:.0f} deg; {seconds:.1f} s.")
    numbers = {"n_lines": len(summary.features), "total_length_km": summary.total_length_km,
               "fracture_fraction": summary.fracture_fraction, "mean_density": summary.mean_density,
               "dominant_orientation_deg": summary.dominant_orientation_deg,
               "mpx_per_s": throughput(grid.shape, seconds), "method_used": method}
    report = {"method": method, "threshold": threshold, "pixel_size_m": px, "window_px": cell,
              "seconds": seconds,
              "display_ranges": {"output_response": [0.0, 1.0], "output_orientation": [0.0, 180.0]},
              "display_bands": {"output_response": 1, "output_density": 1, "output_orientation": 1}}
    return Result(written, numbers, report,
                  features={"output_lines": (summary.features, grid.crs, "LineString")})


JOB = Job("fracture_map", "Crevasse and fracture map", FractureSettings, run, INPUTS, OUTPUTS, NUMBERS, TEXTS)
