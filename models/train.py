"""Train or fine-tune a segmentation U-Net on a raster and reference labels; export ONNX + metadata.

Reproducible from the command line (everything seeded, CPU threads fixed, torch's deterministic
algorithms: on the CPU the same command, data and torch version give bit-identical weights; see
:func:`deterministic`), e.g. the first shipped glacier model::

    python -m models.train \\
        --raster ../shared/data/optical/everest_landsat/LE71400412000304SGS00_RGB.tif \\
        --labels ../shared/data/optical/everest_landsat/15_rgi60_glacier_outlines.gpkg \\
        --output models/glacier_landsat_v1.onnx --name glacier_landsat_v1 ...

(the exact command of each shipped model is in its model card). Steps:

1. read the scene (bands of one or more co-registered rasters) and the labels (outline
   layer rasterised on the scene grid, or a label raster); 255 = unknown;
2. split off a spatially held-out block (``--holdout right:0.25``, separated by a gap);
3. normalisation statistics (mean/std per band) from the training area, or those of the
   model being fine-tuned;
4. train a :class:`~serac.models.unet.UNet` on random tiles of the training area with
   flips, rotations and gain/offset jitter (BCE + Dice for one class, cross-entropy + Dice
   for several), AdamW with a cosine learning-rate schedule; on CUDA when available;
5. export to ONNX with metadata (:mod:`serac.models.export_onnx`), checking torch and ONNX
   Runtime agree;
6. evaluate the *exported ONNX file* with the plugin's own inference engine on the whole
   scene and score the held-out block (and the training area) against the labels; the
   scores go into the metadata's ``training.metrics`` and the training log (JSON).

Fine-tuning (``--init model.onnx``) starts from a model's weights and normalisation; batch
norm statistics stay frozen, so a few hundred steps on reviewed outlines of one region
adapt the model to it.
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("train")

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import random
import time
from dataclasses import asdict, dataclass, field, replace
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import InputError
from ..core.progress import as_progress
from ..core.raster_io import band_count, check_output_path, read_grid
from ..core.segmentation.inference import classify, pixel_size_m, predict_array
from ..core.segmentation.metrics import segmentation_scores
from ..core.segmentation.model_metadata import BandSpec, ModelMetadata
from ..core.segmentation.sources import source_readers
from ..core.segmentation.runtime import build_torch_module, load_model, onnx_state_dict, read_metadata, write_sidecar
from .datasets import IGNORE, TileSampler, load_labels, load_scene, normalization_from_data, split_holdout
from .export_onnx import embed_metadata, export_onnx
from .unet import TemporalUNet, UNet, count_parameters, freeze_batchnorm_statistics, unfuse_batchnorm


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in the training log)."""

    rasters: list
    labels: object
    output: str
    name: str = "glacier_model"
    version: str = "1.0.0"
    task: str = "glacier_extent"
    classes: list = field(default_factory=lambda: ["background", "glacier"])
    front: list = None
    band_names: list = None
    #: names of the rasters' sources (e.g. optical, dem, sar) when several are stacked (default input_1, ...)
    source_names: list = None
    #: a source whose band 1 is a DEM (m): its slope (degrees) is added as a derived last band
    slope_source: str = ""
    #: a time-series model: its time axis ({"dates": n, "spacing_days": d, "spacing_tolerance_days": t}); the
    #: rasters are then dated (see core/segmentation/temporal.py) and ``band_names`` the bands of one date
    time: dict = None
    temporal_channels: int = 8
    sensor: str = ""
    description: str = ""
    holdout: str = "right:0.25"
    gap_px: int = 16
    tile_size: int = 128
    inference_tile: int = 256
    inference_overlap: int = 32
    base_channels: int = 16
    depth: int = 3
    steps: int = 1500
    batch_size: int = 8
    lr: float = 3e-3
    weight_decay: float = 1e-4
    jitter: float = 0.05
    seed: int = 0
    threads: int = 2
    device: str = "auto"
    init_model: str = None
    line_width_m: float = 0.0
    nodata_values: list = field(default_factory=list)
    pixel_size_tolerance: float = 0.5
    threshold: float = 0.5
    provenance: dict = field(default_factory=dict)
    log_every: int = 50
    log_path: str = None
    #: extra cross-entropy weight along a class boundary (:func:`boundary_weights`), e.g.
    #: {"classes": [0, 1], "radius_px": 3, "weight": 4.0}; None (default): every pixel weighs 1
    boundary_weight: dict = None


@dataclass
class TrainResult:
    onnx_path: str
    json_path: str
    log_path: str
    metrics: dict
    seconds: float
    torch_onnx_max_abs_diff: float
    device: str


def _seed_everything(seed, threads):
    """Seed python's, numpy's and torch's random generators; fix torch's CPU threads (``threads`` > 0)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(int(threads))


@contextlib.contextmanager
def deterministic(seed, threads, device="cpu"):
    """Inside: seeded generators (:func:`_seed_everything`), ``threads`` torch CPU threads and torch's
    deterministic algorithms (cuDNN without autotuning); torch's former settings are restored after.

    On the CPU, the same seed, thread count, data and torch version give bit-identical weights (tested). On
    CUDA, operations without a deterministic kernel only warn: weights there are not guaranteed identical.
    """
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.get_num_threads(), torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    _seed_everything(seed, threads)
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.set_num_threads(before[2])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[3], before[4]


def _device(requested):
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("Training on CUDA was requested but torch sees no GPU.", "use --device cpu or auto.")
    return requested


def boundary_weights(y, classes, radius_px, weight):
    """Per-pixel loss weights for label tiles ``y`` (n, rows, cols): ``1 + weight`` on pixels within
    ``radius_px`` px (square neighbourhood) of both ``classes[0]`` and ``classes[1]`` (a band along their
    boundary, e.g. the calving front between glacier and ocean), 1 elsewhere.

    ``classes`` may also be a list of class pairs and ``weight`` a list of as many weights: each pair's band
    gets its weight added (e.g. the calving front and the rock coast, each weighted)."""
    pairs = [classes] if np.ndim(classes) == 1 else list(classes)
    weights = [weight] * len(pairs) if np.ndim(weight) == 0 else list(weight)
    k = 2 * int(radius_px) + 1
    near = {c: F.max_pool2d((y == c).float()[:, None], k, stride=1, padding=int(radius_px))[:, 0] > 0
            for c in {int(c) for pair in pairs for c in pair[:2]}}
    out = torch.ones(y.shape, dtype=torch.float32, device=y.device)
    for (a, b, *_), w in zip(pairs, weights):
        out = out + float(w) * (near[int(a)] & near[int(b)]).float()
    return out


def _loss(logits, y, n_classes_out, boundary=None):
    """BCE + Dice (one output) or cross-entropy + Dice (several); with ``boundary`` (a dict of
    :func:`boundary_weights` arguments) the BCE / cross-entropy is a weighted mean (Dice unchanged)."""
    valid = y != IGNORE
    if not valid.any():
        return logits.sum() * 0.0
    w = valid.float() * (boundary_weights(y, **boundary) if boundary else 1.0)
    if n_classes_out == 1:
        z = logits[:, 0]
        t = (y == 1).float()
        v = valid.float()
        bce = (F.binary_cross_entropy_with_logits(z, t, reduction="none") * w).sum() / w.sum()
        p = torch.sigmoid(z) * v
        dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + (t * v).sum() + 1)
        return bce + dice
    if boundary:
        ce = (F.cross_entropy(logits, torch.where(valid, y.long(), 0), reduction="none") * w).sum() / w.sum()
    else:
        ce = F.cross_entropy(logits, y.long(), ignore_index=IGNORE)
    p = torch.softmax(logits, 1) * valid[:, None].float()
    onehot = F.one_hot(torch.where(valid, y.long(), 0), n_classes_out).permute(0, 3, 1, 2).float()
    onehot = onehot * valid[:, None].float()
    inter = (p * onehot).sum((0, 2, 3))
    dice = 1 - ((2 * inter + 1) / (p.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1)).mean()
    return ce + dice


def band_dtype(source):
    """Data type name of the first band of a training raster (``path`` or ``(path, bands)``)."""
    import rasterio

    path = source[0] if isinstance(source, (tuple, list)) else source
    with rasterio.open(path) as ds:
        return ds.dtypes[0]


def value_range(image, valid, dtype):
    """The ``input.value_range`` a trained model declares: the training values widened by a quarter of
    their span on each side (within what ``dtype`` holds), so data of another kind is refused."""
    values = image[:, valid]
    if values.size == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    pad = 0.25 * (hi - lo) if hi > lo else 1.0
    lo, hi = lo - pad, hi + pad
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(np.dtype(dtype))
        lo, hi = max(lo, float(info.min)), min(hi, float(info.max))
    return {"dtype": np.dtype(dtype).name, "min": round(lo, 6), "max": round(hi, 6), "rescale": None}


def _metadata(config, n_bands, band_names, normalization, px, architecture, size_multiple, train_info,
              input_range=None, specs=None):
    activation = "sigmoid" if len(config.classes) == 2 and config.task != "calving_front_zones" else "softmax"
    bands = [{"name": n, "sensor": config.sensor, "description": "", "units": ""} for n in band_names]
    for band, spec in zip(bands, specs or ()):  # multi-source: where each band comes from
        band.update({k: v for k, v in spec.to_dict().items() if k in ("source", "band", "derive", "units") and v})
    return {
        "schema_version": 1, "name": config.name, "version": config.version, "task": config.task,
        "description": config.description,
        "input": {"bands": bands, "normalization": normalization,
                  "nodata": {"values": list(config.nodata_values), "fill": 0.0},
                  "pixel_size_m": round(px, 3), "pixel_size_tolerance": config.pixel_size_tolerance,
                  **({"value_range": input_range} if input_range else {})},
        "tiling": {"tile_size": config.inference_tile, "overlap": config.inference_overlap,
                   "size_multiple": size_multiple},
        "output": {"activation": activation, "classes": list(config.classes),
                   "positive_class": config.classes[1] if activation == "sigmoid" else config.classes[0],
                   "threshold": config.threshold, "front": list(config.front) if config.front else None},
        **({"time": dict(config.time)} if config.time else {}),
        "architecture": architecture,
        "training": train_info,
    }


def _scores(pred_labels, labels, region, classes, sigmoid):
    valid = region & (labels != IGNORE) & (pred_labels != 255)
    if sigmoid:
        return segmentation_scores(pred_labels == 1, labels == 1, valid).as_dict()
    out = {}
    for i, name in enumerate(classes):
        out[name] = segmentation_scores(pred_labels == i, labels == i, valid).as_dict()
    out["pixel_accuracy"] = round(float((pred_labels == labels)[valid].mean()), 4) if valid.any() else None
    out["mean_iou"] = round(float(np.nanmean([out[c]["iou"] for c in classes])), 4)
    return out


def _brightness_baseline(image, labels, train, test):
    """Held-out scores of 'glacier = mean band value above t', t tuned for IoU on the training area."""
    b = np.nanmean(image, axis=0)
    ok = np.isfinite(b) & (labels != IGNORE)
    best = (-1.0, None)
    for t in np.nanpercentile(b[train & ok], np.arange(2, 99, 2)):
        iou = segmentation_scores(b >= t, labels == 1, train & ok).iou
        best = max(best, (iou, float(t)), key=lambda v: v[0])
    s = segmentation_scores(b >= best[1], labels == 1, test & ok).as_dict()
    s["threshold"] = round(best[1], 3)
    return s


def fit(model, sample, n_outputs, config, device, progress, frozen_batchnorm=False, evaluate=None, eval_every=0,
        checkpoint=None):
    """Optimise ``model`` for ``config.steps`` steps on batches from ``sample(batch_size)``.

    AdamW with a cosine learning-rate schedule from ``config.lr``; loss from :func:`_loss` (weighted along a
    class boundary with ``config.boundary_weight``). With ``evaluate``
    (a function of the model in eval mode returning a score, higher is better, computed on data held out from
    training) and ``eval_every`` steps, the weights of the best score are kept (early stopping on held-out
    data) and the scores go into the log. ``checkpoint(step, model, log)``, if given, is called after every
    log entry (e.g. to save the weights of a long run). Progress (and cancellation) after every step;
    returns (log entries, seconds).
    """
    start = time.perf_counter()
    model.to(device).train()
    if frozen_batchnorm:
        freeze_batchnorm_statistics(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    log = []
    best = (-math.inf, 0, None)  # (score, step, weights)
    loss_sum, loss_n = 0.0, 0
    for step in range(1, config.steps + 1):
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / config.steps))
        for g in optimizer.param_groups:
            g["lr"] = lr
        xb, yb = sample(config.batch_size)
        loss = _loss(model(torch.from_numpy(xb).to(device)), torch.from_numpy(yb).to(device), n_outputs,
                     config.boundary_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item()
        loss_n += 1
        if step % config.log_every == 0 or step == config.steps:
            entry = {"step": step, "loss": round(loss_sum / loss_n, 5), "lr": round(lr, 6),
                     "seconds": round(time.perf_counter() - start, 1)}
            log.append(entry)
            progress.info(f"step {step}/{config.steps}: loss {entry['loss']:.4f}, lr {lr:.2e}, "
                          f"{entry['seconds']:.0f} s")
            loss_sum, loss_n = 0.0, 0
            if checkpoint is not None:
                checkpoint(step, model, log)
        if evaluate is not None and eval_every and (step % eval_every == 0 or step == config.steps):
            model.eval()
            with torch.no_grad():
                value = float(evaluate(model))
            model.train()
            if frozen_batchnorm:
                freeze_batchnorm_statistics(model)
            log.append({"step": step, "held_out_score": round(value, 5)})
            progress.info(f"step {step}: held-out score {value:.4f}")
            if value > best[0]:
                best = (value, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
        progress.update(step / config.steps)
    if best[2] is not None:
        model.load_state_dict(best[2])
        log.append({"best_step": best[1], "held_out_score": round(best[0], 5)})
        progress.info(f"Weights of step {best[1]} kept (best held-out score {best[0]:.4f}).")
    model.cpu().eval()
    return log, time.perf_counter() - start


def write_log(path, config, model, log, metrics, report, seconds):
    """The training log (JSON): config, parameter count, loss curve, metrics, environment."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"config": _jsonable(asdict(config)), "parameters": count_parameters(model), "log": log,
                   "metrics": metrics, "torch_onnx_max_abs_diff": report.max_abs_diff,
                   "onnx_bytes": report.size_bytes, "seconds": round(seconds, 1),
                   "environment": {"python": platform.python_version(), "torch": torch.__version__,
                                   "numpy": np.__version__, "platform": platform.platform(),
                                   "cpu_count": os.cpu_count(), "threads": config.threads}},
                  f, indent=1)
    return path


def finish_export(report, meta, metrics, config, model, log, start, log_path=None):
    """The last steps of a training tool: ``metrics`` into the exported model's metadata (embedded and mirrored
    as JSON), the training log written, a JSON summary printed. Returns the log path."""
    meta["training"]["metrics"] = metrics
    final = embed_metadata(report.onnx_path, meta)
    write_sidecar(report.onnx_path, final)
    seconds = time.perf_counter() - start
    log_path = write_log(log_path or os.path.splitext(config.output)[0] + ".training_log.json", config, model, log,
                         metrics, report, seconds)
    print(json.dumps({"onnx": report.onnx_path, "log": log_path, "metrics": metrics,
                      "torch_onnx_max_abs_diff": report.max_abs_diff, "seconds": round(seconds, 1)}, indent=1))
    return log_path


def train(config, feedback=None):
    """Train (or fine-tune) a model as described by ``config``; returns a :class:`TrainResult`.

    ``config`` is not changed: what fine-tuning takes from the base model goes into a copy. Deterministic on
    the CPU (see :func:`deterministic`): the same config, data and torch version give bit-identical weights.
    """
    config = replace(config, classes=list(config.classes), nodata_values=list(config.nodata_values),
                     provenance=dict(config.provenance))
    for path in (config.output, config.log_path):  # before the long work: OutputError naming the file
        if path:
            check_output_path(path)
    device = _device(config.device)
    with deterministic(config.seed, config.threads, device):
        return _train(config, device, as_progress(feedback))


def _train(config, device, progress):
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)

    init_meta = read_metadata(config.init_model) if config.init_model else None
    if init_meta is not None and not init_meta.architecture:
        raise InputError(f"The model '{init_meta.name}' cannot be fine-tuned: its metadata names no network "
                         "architecture (an ensemble or a network made elsewhere).",
                         "fine-tune one of the models it is made from (its model card names them), or train from "
                         "scratch.")
    if init_meta is not None:  # a fine-tuned model keeps its base model's input description
        config.band_names = config.band_names or init_meta.band_names
        config.sensor = config.sensor or init_meta.bands[0].sensor
        config.nodata_values = list(config.nodata_values) or list(init_meta.nodata_values)
        config.pixel_size_tolerance = init_meta.pixel_size_tolerance
        config.task = init_meta.task
        config.time = init_meta.time.to_dict() if init_meta.time else None
    specs = input_bands(config, init_meta)
    dates = None
    if config.time:
        image, grid, dates = load_dated(config)
    else:
        image, grid = load_scene(config.rasters) if specs is None else load_sources(config, specs)
    n_dates = len(dates) if dates else 1
    valid = np.all(np.isfinite(image), axis=0)
    for v in config.nodata_values:
        valid &= ~np.any(image == v, axis=0)
    labels = load_labels(config.labels, grid, valid, config.line_width_m)
    px = pixel_size_m(grid)
    if init_meta is not None:
        init_meta.check_pixel_size(px)
    train_region, test_region = split_holdout(grid.shape, config.holdout, config.gap_px)
    progress.info(f"Scene {grid.describe()} ({px:.3g} m px); {int(train_region.sum())} training and "
                  f"{int(test_region.sum())} held-out pixels ({config.holdout}, gap {config.gap_px} px); "
                  f"training on {device}.")

    if init_meta is not None:
        if init_meta.n_channels != image.shape[0]:
            raise InputError(f"The model to fine-tune takes {init_meta.n_channels} band(s); the raster gives "
                             f"{image.shape[0]}.", f"select bands {', '.join(init_meta.band_names)}.")
        normalization = init_meta.normalization.to_dict()
        deploy = build_torch_module(init_meta, onnx_state_dict(config.init_model), config.init_model)
        model = freeze_batchnorm_statistics(unfuse_batchnorm(deploy))
        arch = dict(init_meta.architecture)
        classes = list(init_meta.classes)
        if classes != list(config.classes):
            config.classes, config.front = classes, list(init_meta.front) if init_meta.front else None
    else:
        n_bands = image.shape[0] // n_dates
        per_band = image.reshape(n_dates, n_bands, *image.shape[1:]).transpose(1, 0, 2, 3).reshape(
            n_bands, n_dates * image.shape[1], image.shape[2])  # every date's pixels of each band together
        normalization = normalization_from_data(per_band, np.tile(train_region & valid, (n_dates, 1)))
        n_out = 1 if (len(config.classes) == 2 and config.task != "calving_front_zones") else len(config.classes)
        model = (TemporalUNet(n_bands, n_dates, n_out, config.temporal_channels, config.base_channels, config.depth)
                 if dates else UNet(image.shape[0], n_out, config.base_channels, config.depth))
        arch = model.architecture
    names = _band_names(config, image.shape[0] // n_dates, specs)
    meta_probe = ModelMetadata.from_dict(_metadata(config, image.shape[0], names, normalization, px, arch,
                                                   2 ** arch["depth"], {}, specs=specs))
    x = meta_probe.normalization.apply(image)
    x[:, ~valid] = 0.0
    train_labels = np.where(train_region, labels, IGNORE).astype(np.uint8)
    sampler = TileSampler(x, train_labels, train_region & valid, config.tile_size, rng, jitter=config.jitter)
    log, train_seconds = fit(model, sampler.sample, meta_probe.n_outputs, config, device,
                             progress.sub(0.02, 0.9), frozen_batchnorm=init_meta is not None)

    provenance = dict(config.provenance)
    provenance.update({
        "date": datetime.date.today().isoformat(),
        "script": "python -m models.train (serac.models.train)",
        "split": f"spatial hold-out '{config.holdout}' with a {config.gap_px} px gap; scores on the held-out block",
        "base_model": (f"{init_meta.name} v{init_meta.version}" if init_meta else None),
        "steps": config.steps, "batch_size": config.batch_size, "train_tile_size": config.tile_size,
        "seed": config.seed, "device": device, "train_seconds": round(train_seconds, 1),
        **({"dates": [str(d) for d in dates]} if dates else {}),
    })
    if init_meta is not None and init_meta.value_range is not None:  # fine-tuned: the base model's inputs
        input_range = init_meta.value_range.to_dict()
    elif specs is not None:  # one value range cannot describe DN, m and dB bands together
        input_range = None
    else:
        input_range = value_range(image, valid, band_dtype(config.rasters[0]))
    meta = _metadata(config, image.shape[0], names, normalization, px, arch, 2 ** arch["depth"], provenance,
                     input_range, specs=specs)
    report = export_onnx(model, meta, config.output)
    progress.update(0.93)

    onnx_model = load_model(report.onnx_path, backend="onnxruntime", threads=config.threads)
    probs = predict_array(onnx_model, np.where(valid, image, np.nan), feedback=None)
    pred = classify(probs, onnx_model.metadata)
    sigmoid = onnx_model.metadata.activation == "sigmoid"
    metrics = {"held_out": _scores(pred, labels, test_region, config.classes, sigmoid),
               "training_area": _scores(pred, labels, train_region, config.classes, sigmoid),
               "held_out_pixels": int((test_region & (labels != IGNORE)).sum()),
               "glacier_fraction_held_out": (round(float((labels[test_region & (labels != IGNORE)] == 1).mean()), 4)
                                             if sigmoid else None)}
    if sigmoid and config.task == "glacier_extent":
        metrics["baseline_brightness_threshold_held_out"] = _brightness_baseline(image, labels, train_region,
                                                                                  test_region)
    meta["training"]["metrics"] = metrics
    final = embed_metadata(report.onnx_path, meta)
    json_path = write_sidecar(report.onnx_path, final)
    seconds = time.perf_counter() - start
    log_path = write_log(config.log_path or os.path.splitext(config.output)[0] + ".training_log.json",
                         config, model, log, metrics, report, seconds)
    progress.update(1.0)
    if sigmoid:
        h = metrics["held_out"]
        progress.info(f"Held-out IoU {h['iou']:.3f}, precision {h['precision']:.3f}, recall {h['recall']:.3f}.")
    return TrainResult(report.onnx_path, json_path, log_path, metrics, seconds, report.max_abs_diff, device)


def input_bands(config, init_meta=None):
    """The :class:`BandSpec` s of a multi-source model (several rasters, or a derived slope; a fine-tuned
    multi-source model's own), or None for one raster's bands stacked as before."""
    if init_meta is not None and init_meta.sources != [""]:
        return list(init_meta.bands)
    if config.time or (len(config.rasters) == 1 and not config.slope_source):  # time series: dated rasters
        return None
    names = list(config.source_names or [f"input_{i + 1}" for i in range(len(config.rasters))])
    if len(names) != len(config.rasters) or len(set(names)) != len(names) or not all(names):
        raise InputError(f"{len(names)} source names given for {len(config.rasters)} raster(s).",
                         "give one distinct name per raster (e.g. optical,dem,sar).")
    specs = []
    for name, (path, bands) in zip(names, _sources(config.rasters)):
        specs += [BandSpec(f"{name}_{b}", source=name, band=b) for b in (bands or range(1, band_count(path) + 1))]
    if config.slope_source:
        if config.slope_source not in names:
            raise InputError(f"The slope source '{config.slope_source}' is not one of the inputs {names}.",
                             "name the DEM input's source.")
        specs.append(BandSpec("slope", units="degrees", source=config.slope_source, band=1, derive="slope"))
    return specs


def _sources(rasters):
    return [(s, None) if isinstance(s, str) else tuple(s) for s in rasters]


def load_sources(config, specs):
    """(image (bands, rows, cols) float32, grid): every band of ``specs`` read (or derived) onto the first
    raster's grid by the same readers inference uses (:func:`serac.core.segmentation.sources.source_readers`)."""
    paths = [p for p, _ in _sources(config.rasters)]
    grid = read_grid(paths[0])
    readers = source_readers(SimpleNamespace(name=config.name, bands=specs), paths)
    return np.stack([r.read(grid) for r in readers]).astype(np.float32), grid


def load_dated(config):
    """(image (dates x bands, rows, cols) float32, grid, dates): the dated rasters of a time-series model, date
    after date, oldest first, checked against ``config.time`` as inference checks them."""
    from ..core.segmentation.model_metadata import TimeAxis
    from ..core.segmentation.temporal import dated_sources

    t = config.time
    axis = TimeAxis(int(t["dates"]), t.get("order", "oldest_first"), t.get("spacing_days"),
                    float(t.get("spacing_tolerance_days", 0.0)))
    names = list(config.band_names or ["band_1"])
    probe = SimpleNamespace(name=config.name, n_bands=len(names), band_names=names, time=axis)
    sources, dates = dated_sources(probe, [p for p, _ in _sources(config.rasters)])
    image, grid = load_scene([(s.path, s.bands) for s in sources])
    return image, grid, dates


def _band_names(config, n, specs=None):
    if specs is not None and not config.band_names:
        return [b.name for b in specs]
    if config.band_names:
        if len(config.band_names) != n:
            raise InputError(f"{len(config.band_names)} band names given for {n} band(s).",
                             "give one name per input band.")
        return list(config.band_names)
    return [f"band_{i + 1}" for i in range(n)]


def _jsonable(d):
    return json.loads(json.dumps(d, default=lambda o: str(o)))


def _parse_raster(text):
    path, _, bands = text.partition("@")
    return (path, [int(b) for b in bands.split(",")]) if bands else (path, None)


def add_fit_arguments(p, steps, tile_size=128, base_channels=16, depth=3):
    """Network and optimisation options shared by the training tools (fields of :class:`TrainConfig`)."""
    p.add_argument("--tile-size", type=int, default=tile_size, help="training tile size (px)")
    p.add_argument("--base-channels", type=int, default=base_channels, help="filters at full resolution")
    p.add_argument("--depth", type=int, default=depth, help="U-Net levels")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--log", default=None, help="training log JSON (default: beside the output)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raster", action="append", required=True,
                   help="input raster, optionally with bands: path@1,2,3 (repeat to stack rasters)")
    p.add_argument("--labels", required=True, help="outline or line layer (vector) or label raster")
    p.add_argument("--line-width", type=float, default=0.0,
                   help="line labels (e.g. fracture lines) are burnt this wide (m; 0: the pixels they touch)")
    p.add_argument("--output", required=True, help="ONNX file to write (metadata JSON written beside it)")
    p.add_argument("--name", default="glacier_model")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--task", default="glacier_extent", choices=["glacier_extent", "calving_front_zones",
                                                                "segmentation"])
    p.add_argument("--classes", default="background,glacier", help="comma-separated class names")
    p.add_argument("--front", default=None, help="two classes whose boundary is the front, e.g. glacier,ocean")
    p.add_argument("--band-names", default=None, help="comma-separated input band names")
    p.add_argument("--sensor", default="")
    p.add_argument("--description", default="")
    p.add_argument("--holdout", default="right:0.25")
    p.add_argument("--gap", type=int, default=16, help="px between training area and held-out block")
    p.add_argument("--inference-tile", type=int, default=256)
    p.add_argument("--overlap", type=int, default=32, help="inference tile overlap (px)")
    add_fit_arguments(p, TrainConfig.steps)
    p.add_argument("--jitter", type=float, default=0.05)
    p.add_argument("--init", default=None, help="ONNX model to fine-tune")
    p.add_argument("--nodata", default="", help="comma-separated raw values treated as nodata")
    p.add_argument("--provenance", default="{}", help="JSON object merged into metadata.training")
    p.add_argument("--log-every", type=int, default=50, help="steps between log entries")
    a = p.parse_args(argv)
    from ..core.progress import ConsoleFeedback

    config = TrainConfig(
        rasters=[_parse_raster(r) for r in a.raster], labels=a.labels, output=a.output, name=a.name,
        version=a.version, task=a.task, classes=a.classes.split(","),
        front=a.front.split(",") if a.front else None,
        band_names=a.band_names.split(",") if a.band_names else None, sensor=a.sensor,
        description=a.description, holdout=a.holdout, gap_px=a.gap, tile_size=a.tile_size,
        inference_tile=a.inference_tile, inference_overlap=a.overlap, base_channels=a.base_channels,
        depth=a.depth, steps=a.steps, batch_size=a.batch_size, lr=a.lr, jitter=a.jitter, seed=a.seed,
        threads=a.threads, device=a.device, init_model=a.init,
        nodata_values=[float(v) for v in a.nodata.split(",") if v], provenance=json.loads(a.provenance),
        log_path=a.log, log_every=a.log_every, line_width_m=a.line_width)
    result = train(config, ConsoleFeedback(verbose=True))
    print(json.dumps({"onnx": result.onnx_path, "metrics": result.metrics, "seconds": round(result.seconds, 1),
                      "torch_onnx_max_abs_diff": result.torch_onnx_max_abs_diff}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
