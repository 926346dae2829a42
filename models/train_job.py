"""Job: train or fine-tune a segmentation model on a raster and reference outlines (glaciers) or lines
(e.g. reviewed fracture lines, buffered to a width in m: a fracture model).

The one job outside ``core/``: training needs torch and lives with the network code in
``models/``; the registry (:data:`serac.core.jobs.JOBS`) finds it here by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

from ..core.errors import InputError
from ..core.jobs.base import Job, Port, Result, Settings, as_feedback, core_feedback, current_threads, \
    parse_band_list, require_input, require_vector, setting, thread_limits
from ..core.jobs.segmentation import EXTRA_INPUTS_PORT, MODEL_FILTER, input_paths

HOLDOUT_SIDES = tuple((s, s) for s in ("left", "right", "top", "bottom"))
DEVICES = tuple((d, d) for d in ("auto", "cpu", "cuda"))


@dataclass(frozen=True)
class TrainSettings(Settings):
    bands: Optional[tuple] = setting(None, "Bands to use, in order (e.g. 1,2,3; empty: all bands)", optional=True,
                                     widget="bands_text", kind=tuple)
    holdout_side: str = setting("left", "Held-out block along the", choices=HOLDOUT_SIDES)
    holdout_fraction: float = setting(0.25, "Held-out fraction of the raster (0-1)", minimum=0.05, maximum=0.9)
    steps: int = setting(500, "Training steps", minimum=1, maximum=1_000_000)
    tile_size: int = setting(128, "Training tile size (px)", unit="px", minimum=16, maximum=1024, advanced=True)
    batch_size: int = setting(8, "Tiles per step", minimum=1, maximum=256, advanced=True)
    base_channels: int = setting(16, "Network width (filters at full resolution; new models only)", minimum=2,
                                 maximum=128, advanced=True)
    learning_rate: float = setting(3e-3, "Learning rate", minimum=1e-6, maximum=1.0, advanced=True)
    seed: int = setting(0, "Random seed", minimum=0, maximum=2 ** 31 - 1, advanced=True)
    device: str = setting("auto", "Device", choices=DEVICES)
    model_name: str = setting("glacier_custom", "Model name")
    source_names: Optional[str] = setting(
        None, "Multi-source: names of the inputs, comma-separated (e.g. optical,dem,sar; empty: input_1, ...)",
        advanced=True, optional=True, kind=str)
    slope_source: Optional[str] = setting(
        None, "Multi-source: add the slope (degrees) of this input's band 1 (a DEM, m), by its name (e.g. dem)",
        advanced=True, optional=True, kind=str)
    dates: int = setting(0, "Time series: number of dates (the inputs are dated rasters or bands; 0: not a "
                            "time series)", minimum=0, maximum=366, advanced=True)
    spacing_days: float = setting(0.0, "Time series: days between dates (0: any spacing)", unit="days",
                                  minimum=0.0, maximum=3650.0, advanced=True)
    line_width_m: float = setting(250.0, "Line labels: width they are burnt with (m)", unit="m", minimum=0.0,
                                  maximum=1e5)

    def __post_init__(self):
        object.__setattr__(self, "bands", parse_band_list(self.bands))
        super().__post_init__()


def _time_axis(settings):
    """The time axis of a time-series model from the settings (None: not a time series)."""
    if not settings.dates:
        return None
    return {"dates": settings.dates, "order": "oldest_first", "spacing_days": settings.spacing_days or None,
            "spacing_tolerance_days": round(settings.spacing_days / 4.0, 3)}


def run(inputs: Mapping, outputs: Mapping, settings: TrainSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Train on ``inputs['input']`` with ``inputs['outlines']``; write the ONNX model ``outputs['output_model']``."""
    from ..core.raster_io import read_grid
    from .datasets import is_line
    from .train import TrainConfig, train

    path, *extra = input_paths(inputs, "training image")
    grid = read_grid(path)
    outlines = require_vector(inputs, "outlines", "reference outlines or lines", grid.crs)
    lines = [g for g in outlines if is_line(g)]
    if lines and len(lines) < len(outlines):
        raise InputError("The reference layer mixes polygons and lines.",
                         "give glacier outlines (polygons) or fracture lines, not both.")
    output = os.fspath(require_input(outputs, "output_model", "trained model output"))
    if not output.lower().endswith(".onnx"):
        output += ".onnx"
    with thread_limits(threads):
        config = TrainConfig(
            rasters=[(path, list(settings.bands) if settings.bands else None), *((p, None) for p in extra)],
            source_names=[n.strip() for n in (settings.source_names or "").split(",")]
            if (settings.source_names or "").strip() else None, slope_source=(settings.slope_source or "").strip(),
            labels=outlines, output=output, time=_time_axis(settings),
            name=settings.model_name.strip() or "glacier_custom",
            holdout=f"{settings.holdout_side}:{settings.holdout_fraction:g}", steps=settings.steps,
            tile_size=settings.tile_size, batch_size=settings.batch_size, base_channels=settings.base_channels,
            lr=settings.learning_rate, seed=settings.seed, threads=current_threads() or os.cpu_count() or 1,
            device=settings.device, init_model=inputs.get("init_model") or None,
            provenance={"data": ", ".join(os.path.basename(p) for p in (path, *extra)),
                        "labels": (f"{len(lines)} reference lines burnt {settings.line_width_m:g} m wide" if lines
                                   else f"reference outline layer ({len(outlines)} polygons)")},
            log_every=max(1, settings.steps // 20), line_width_m=settings.line_width_m,
            **(dict(task="fractures", classes=["background", "fracture"]) if lines else {}))
        result = train(config, core_feedback(as_feedback(feedback)))
    held_out = result.metrics["held_out"]
    return Result({"output_model": result.onnx_path, "training_log": result.log_path},
                  {"iou": held_out["iou"], "precision": held_out["precision"], "recall": held_out["recall"],
                   "device_used": result.device},
                  {"metrics": result.metrics, "seconds": result.seconds,
                   "torch_onnx_max_abs_diff": result.torch_onnx_max_abs_diff, "sidecar": result.json_path})


JOB = Job("segmentation_train", "Train segmentation model", TrainSettings, run,
          {"input": Port("raster", "Image"), "extra_inputs": EXTRA_INPUTS_PORT,
           "outlines": Port("vector", "Reference glacier outlines (polygons) or fracture lines (lines)"),
           "init_model": Port("file", "Model to fine-tune (empty: train from scratch)", optional=True,
                              file_filter=MODEL_FILTER)},
          {"output_model": Port("file", "Trained model", file_filter="ONNX model (*.onnx)"),
           "training_log": Port("file_result", "Training log (JSON)")},
          dict(iou="Held-out IoU (0-1)", precision="Held-out precision (0-1)", recall="Held-out recall (0-1)"),
          dict(device_used="Device used for training"))
