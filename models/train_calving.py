"""Train the calving-front zone model (glacier / ocean / rock) and score it with the CaFFe MDE.

Training and held-out scenes are simulated (:mod:`serac.models.calving_scenes`; disjoint
random seeds). The exported ONNX file is then run through the plugin's own inference
engine on every held-out scene; the zone map is post-processed and the front extracted
as in CaFFe (:mod:`serac.core.segmentation.fronts`) and compared with the reference front
(ocean pixels next to glacier in the true zones) by the mean distance error. If
``../shared/data`` is present, the same is done on a scene simulated over Columbia
Glacier's real geometry (RGI 6.0 outline and DEM), which no training scene resembles.

    python -m models.train_calving --output models/calving_zones_synthetic_v1.onnx --threads 1

(the defaults are v1's recipe; the exact command of each shipped model is in its model card).
``--init`` continues training from a model's weights (batch norms frozen, as fine-tuning does);
``--resume run.pt`` continues an earlier run from the weights its ``--checkpoint`` saved, batch norms still
learning (a longer run; the learning rate starts a new cosine schedule at ``--lr``);
``--randomized-fraction`` of the training scenes take the widened backscatter ranges of
:data:`serac.models.calving_scenes.RANDOMIZED` (domain randomisation). ``--rescore model.onnx``
scores an existing model again (e.g. after ``python -m models.calibrate`` changed its tiling) and
rewrites its metrics, keeping the calibration entry. ``--moderate-fraction`` of the training scenes take
:data:`serac.models.calving_scenes.MODERATE` (the second, rejected v2 attempt: docs/validation/calving.md). ``--checkpoint file.pt``
saves the weights and loss log every 50 steps; ``--export-checkpoint`` exports and scores such a file
without training (a long run stopped early stays usable). ``--front-weight`` adds that weight to the
cross-entropy of pixels within ``--front-radius`` px of both glacier and ocean (the front;
:func:`serac.models.train.boundary_weights`) and ``--front-tiles`` centres that share of every batch's tiles on a
front pixel (:func:`front_centred`); both are off by default. ``--land-fraction`` of the training scenes have no sea
(land-terminating glaciers on real terrain, :func:`serac.models.calving_scenes.land_set`; seeds disjoint from the
validation's scenes without sea).
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("train_calving")

import argparse
import datetime
import os
import time

import numpy as np

from ..core.progress import ConsoleFeedback, as_progress
from ..core.segmentation.fronts import clean_zones, front_mask
from ..core.segmentation.inference import classify, predict_array
from ..core.segmentation.metrics import mean_distance_error, segmentation_scores
from ..core.segmentation.runtime import build_torch_module, load_model, onnx_state_dict, read_metadata
from .calving_scenes import CLASSES, DEFAULT, GLACIER, MODERATE, OCEAN, RANDOMIZED, ROCK, TERRAIN_SOURCES, columbia_scene, \
    land_set, load_terrains, scene_set
from .datasets import TileSampler
from .export_onnx import embed_metadata, export_onnx
from .train import TrainConfig, _device, _seed_everything, add_fit_arguments, deterministic, finish_export, fit
from .unet import UNet, freeze_batchnorm_statistics, unfuse_batchnorm

SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))),
                           "shared", "data")


def evaluate_zones(model, images, zones, pixel_size_m):
    """Per-class IoU and CaFFe MDE of ``model`` (a loaded SegmentationModel) on scenes."""
    pairs, preds = [], []
    for image, truth in zip(images, zones):
        pred = classify(predict_array(model, image), model.metadata)
        preds.append(pred)
        pred_front = front_mask(clean_zones(pred, OCEAN, GLACIER), GLACIER, OCEAN, pixel_size_m)
        ref_front = front_mask(truth, GLACIER, OCEAN, pixel_size_m, min_length_m=0)
        pairs.append((pred_front, ref_front, pixel_size_m))
    preds = np.stack(preds)
    truth = np.stack(zones)
    iou = {name: round(segmentation_scores(preds == i, truth == i).iou, 4) for i, name in enumerate(CLASSES)}
    return {"iou": iou, "mean_iou": round(float(np.mean(list(iou.values()))), 4),
            "front": mean_distance_error(pairs).as_dict()}


#: seeds of the held-out sets scored at the end of training (the same for every version)
TEST_SEED, TERRAIN_TEST_SEED, COLUMBIA_SEED = 2000, 3000, 7


def held_out_metrics(onnx_model, pixel_size_m, test_scenes, shared_data, size=256):
    """Scores on the held-out procedural scenes, real-terrain scenes and the Columbia scene (simulated)."""
    test_x, test_z = scene_set(TEST_SEED, test_scenes, size)
    metrics = {"held_out_synthetic": evaluate_zones(onnx_model, list(test_x), list(test_z), pixel_size_m),
               "held_out_scenes": test_scenes}
    if os.path.isdir(shared_data):
        terrains = load_terrains(shared_data, pixel_size_m)
        tx, tz = scene_set(TERRAIN_TEST_SEED, test_scenes, size, terrains, 1.0)
        metrics["held_out_real_terrain"] = evaluate_zones(onnx_model, list(tx), list(tz), pixel_size_m)
        db, zones, _ = columbia_scene(shared_data, np.random.default_rng(COLUMBIA_SEED), pixel_size_m)
        metrics["columbia_geometry_simulated"] = evaluate_zones(onnx_model, [db], [zones], pixel_size_m)
    return metrics


def rescore(path, test_scenes, shared_data, threads):
    """Score ``path`` again with its current metadata (tiling, temperature) and rewrite its metrics."""
    import dataclasses
    import json

    from ..core.segmentation.runtime import write_sidecar

    model = load_model(path, backend="onnxruntime", threads=threads)
    meta = model.metadata
    metrics = dict(meta.training.get("metrics", {}))
    metrics.update(held_out_metrics(model, meta.pixel_size_m, test_scenes, shared_data))
    meta = dataclasses.replace(meta, training=dict(meta.training, metrics=metrics))
    write_sidecar(path, embed_metadata(path, meta))
    print(json.dumps(metrics, indent=1))
    return 0


def scene_counts(a):
    """(default, randomised, moderate, without sea) numbers of training scenes from ``a.train_scenes`` and the
    fractions."""
    n_random = int(round(a.train_scenes * a.randomized_fraction))
    n_moderate = int(round(a.train_scenes * a.moderate_fraction))
    n_land = int(round(a.train_scenes * a.land_fraction))
    return a.train_scenes - n_random - n_moderate - n_land, n_random, n_moderate, n_land


def training_scenes(a, terrains):
    """The training scenes: (images, zones) of ``a.train_scenes`` scenes: the default backscatter ranges
    (seed 1000 + seed), then ``a.randomized_fraction`` with :data:`RANDOMIZED` and ``a.moderate_fraction`` with
    :data:`MODERATE` (each from its own seed base), then ``a.land_fraction`` without sea (:func:`land_set`, seed
    :data:`LAND_SEED_BASE` + seed)."""
    *counts, n_land = scene_counts(a)
    bases = (1000, RANDOMIZED_SEED_BASE, MODERATE_SEED_BASE)
    sets = [scene_set(base + a.seed, n, a.size, terrains, a.terrain_fraction, ranges)
            for base, n, ranges in zip(bases, counts, (DEFAULT, RANDOMIZED, MODERATE)) if n > 0]
    if n_land:
        sets.append(land_set(LAND_SEED_BASE + a.seed, n_land, terrains, a.size))
    train_x = np.concatenate([x for x, _ in sets])
    train_z = np.concatenate([z for _, z in sets])
    return train_x, train_z


#: seed bases of the randomised and moderately widened training scenes and of those without sea (never a test or
#: validation seed)
RANDOMIZED_SEED_BASE, MODERATE_SEED_BASE, LAND_SEED_BASE = 11000, 12000, 13000


def _checkpointer(path, normalization):
    """A ``fit`` checkpoint callback saving {step, state_dict, log, normalization} to ``path`` (written whole,
    then renamed)."""
    import torch

    def save(step, model, log):
        tmp = path + ".tmp"
        torch.save({"step": step, "state_dict": model.state_dict(), "log": list(log),
                    "normalization": normalization}, tmp)
        os.replace(tmp, path)
    return save


def _load_checkpoint(model, path, option, a, parser):
    """Load the weights of the checkpoint at ``path`` (what :func:`_checkpointer` saved) into ``model``; returns the
    checkpoint dict (step, state_dict, log, normalization). Any other file, or weights that do not fit a U-Net of
    ``a.base_channels`` and ``a.depth``, is a usage error naming ``option``."""
    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        saved["step"], saved["normalization"] = int(saved["step"]), saved["normalization"]
        state = saved["state_dict"]
    except Exception as exc:  # not a checkpoint of train_calving (another .pt, a truncated file)
        parser.error(f"{option} {path} is not a checkpoint that train_calving --checkpoint saved: {exc}")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        parser.error(f"{option} {path}: its weights do not fit a U-Net of --base-channels {a.base_channels} "
                     f"and --depth {a.depth} (give the run's own values): {str(exc).splitlines()[0]}")
    return saved


def front_origins(zones, tile):
    """Tile origins (scene, row, col) of ``tile`` px tiles centred (as nearly as the scene allows) on each
    front pixel (glacier next to ocean, 4-neighbours) of every scene in ``zones``; duplicates removed."""
    rows = []
    for i, z in enumerate(zones):
        if min(z.shape) < tile:
            continue
        g, o = z == GLACIER, z == OCEAN
        touch = np.zeros_like(g)
        touch[1:] |= o[:-1]
        touch[:-1] |= o[1:]
        touch[:, 1:] |= o[:, :-1]
        touch[:, :-1] |= o[:, 1:]
        rc = np.argwhere(g & touch) - tile // 2
        rc = np.clip(rc, 0, np.array(z.shape) - tile)
        rows.append(np.column_stack([np.full(len(rc), i), rc]))
    return np.unique(np.concatenate(rows), axis=0) if rows else np.zeros((0, 3), int)


def front_centred(sampler, zones, fraction):
    """A ``sample(n)`` drawing ``round(n * fraction)`` tiles centred on a front pixel (:func:`front_origins`,
    same augmentation and random generator as ``sampler``) and the rest from ``sampler`` as before."""
    import copy

    centred = copy.copy(sampler)
    centred.origins = front_origins(zones, sampler.tile)
    if len(centred.origins) == 0:
        return sampler.sample

    def sample(n):
        k = int(round(n * fraction))
        parts = [s.sample(m) for s, m in ((centred, k), (sampler, n - k)) if m > 0]
        return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])
    return sample


def boundary_weight(a):
    """The loss's boundary weighting (:func:`serac.models.train.boundary_weights` arguments) from the
    ``--front-weight``, ``--coast-weight`` and ``--front-radius`` options; None when off."""
    if not a.front_weight:
        return None
    if not a.coast_weight:
        return {"classes": [GLACIER, OCEAN], "radius_px": a.front_radius, "weight": a.front_weight}
    return {"classes": [[GLACIER, OCEAN], [ROCK, OCEAN]], "radius_px": a.front_radius,
            "weight": [a.front_weight, a.coast_weight]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", help="ONNX file to write")
    p.add_argument("--rescore", default=None, help="score this ONNX model again and rewrite its metrics")
    p.add_argument("--name", default="calving_zones_synthetic_v1")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--init", default=None, help="ONNX model whose weights training continues from")
    p.add_argument("--resume", default=None,
                   help="a .pt checkpoint of an earlier run (its --checkpoint) whose weights training continues from, "
                        "batch norms still learning (a longer run; --init fine-tunes with them frozen)")
    p.add_argument("--train-scenes", type=int, default=160)
    p.add_argument("--terrain-fraction", type=float, default=0.6,
                   help="share of training scenes on real terrain (needs --shared-data)")
    p.add_argument("--randomized-fraction", type=float, default=0.0,
                   help="share of training scenes with the widened (domain-randomised) backscatter ranges")
    p.add_argument("--moderate-fraction", type=float, default=0.0,
                   help="share of training scenes with the moderately widened ranges (MODERATE)")
    p.add_argument("--land-fraction", type=float, default=0.0,
                   help="share of training scenes WITHOUT sea (land-terminating glaciers on real terrain; needs "
                        "--shared-data): they teach the model that a scene may have no front")
    p.add_argument("--checkpoint", default=None, help="save weights and loss log here every 50 steps (.pt)")
    p.add_argument("--export-checkpoint", action="store_true",
                   help="export and score the weights of --checkpoint without training")
    p.add_argument("--jitter", type=float, default=0.05, help="gain / offset jitter of training tiles")
    p.add_argument("--front-weight", type=float, default=0.0,
                   help="extra cross-entropy weight on pixels near the glacier-ocean boundary (0: none)")
    p.add_argument("--front-radius", type=int, default=3,
                   help="px from the boundary that --front-weight (and --coast-weight) covers")
    p.add_argument("--coast-weight", type=float, default=0.0,
                   help="extra cross-entropy weight on pixels near the rock-ocean boundary (0: none; needs "
                        "--front-weight)")
    p.add_argument("--front-tiles", type=float, default=0.0,
                   help="share of every batch's tiles centred on a front pixel (0: all tiles at random)")
    p.add_argument("--test-scenes", type=int, default=16)
    p.add_argument("--size", type=int, default=256, help="scene size (px)")
    p.add_argument("--pixel-size", type=float, default=50.0, help="m/px the scenes represent")
    add_fit_arguments(p, steps=2000, tile_size=160, base_channels=12, depth=4)
    p.add_argument("--shared-data", default=SHARED_DATA)
    a = p.parse_args(argv)
    if a.rescore:
        return rescore(a.rescore, a.test_scenes, a.shared_data, a.threads)
    if not a.output:
        p.error("--output is required (or --rescore)")
    if a.export_checkpoint and not (a.checkpoint and os.path.isfile(a.checkpoint)):
        p.error("--export-checkpoint needs --checkpoint naming the .pt file a training run saved")
    if a.resume and (a.init or not os.path.isfile(a.resume)):
        p.error("--resume needs the .pt file an earlier run's --checkpoint saved, and no --init")
    shares = (a.land_fraction, a.randomized_fraction, a.moderate_fraction)
    if not (all(0 <= f <= 1 for f in shares) and sum(shares) <= 1):
        p.error("--land-fraction, --randomized-fraction and --moderate-fraction are shares of --train-scenes: "
                "each and their sum between 0 and 1")
    if a.land_fraction and not os.path.isdir(a.shared_data):
        p.error(f"--land-fraction needs the real terrains under --shared-data ({a.shared_data} is not a folder)")
    if a.coast_weight and not a.front_weight:
        p.error("--coast-weight weighs the coast beside the front: give --front-weight as well (e.g. --front-weight 4)")
    progress = as_progress(ConsoleFeedback(verbose=True))
    start = time.perf_counter()
    _seed_everything(a.seed, a.threads)
    device = _device(a.device)
    config = TrainConfig(rasters=["synthetic"], labels="synthetic", output=a.output, name=a.name,
                         version=a.version, task="calving_front_zones", classes=list(CLASSES),
                         front=["glacier", "ocean"], steps=a.steps, batch_size=a.batch_size,
                         tile_size=a.tile_size, base_channels=a.base_channels, depth=a.depth, lr=a.lr,
                         seed=a.seed, threads=a.threads, device=device, log_path=a.log, jitter=a.jitter,
                         init_model=a.init or a.resume,
                         boundary_weight=boundary_weight(a))

    terrains = load_terrains(a.shared_data, a.pixel_size) if os.path.isdir(a.shared_data) else []
    train_x, train_z = training_scenes(a, terrains)
    if a.init:
        init_meta = read_metadata(a.init)
        model = freeze_batchnorm_statistics(unfuse_batchnorm(build_torch_module(init_meta, onnx_state_dict(a.init),
                                                                                a.init)))
        normalization = init_meta.normalization.to_dict()
        mean, std = normalization["mean"][0], normalization["std"][0]
    elif a.resume:  # the run's own normalization, not that of the scenes generated here
        model = UNet(1, len(CLASSES), a.base_channels, a.depth)
        resumed = _load_checkpoint(model, a.resume, "--resume", a, p)
        normalization = resumed["normalization"]
        mean, std = normalization["mean"][0], normalization["std"][0]
    else:
        mean, std = float(train_x.mean()), float(train_x.std())
        normalization = {"method": "mean_std", "mean": [round(mean, 3)], "std": [round(std, 3)], "clip": [-6, 6]}
        with deterministic(a.seed, a.threads, device):
            model = UNet(1, len(CLASSES), a.base_channels, a.depth)
    xs = [((x - mean) / std).astype(np.float32) for x in train_x]
    sampler = TileSampler(xs, list(train_z), [np.ones(z.shape, bool) for z in train_z], a.tile_size,
                          np.random.default_rng(a.seed), jitter=a.jitter)
    sample = front_centred(sampler, list(train_z), a.front_tiles) if a.front_tiles else sampler.sample
    n_default, n_random, n_moderate, n_land = scene_counts(a)
    progress.info(f"{a.train_scenes} training scenes ({n_random} domain-randomised, {n_moderate} moderately "
                  f"widened, {n_land} without sea), {a.test_scenes} held-out scenes ({a.size} px, "
                  f"{a.pixel_size:g} m); training on {device}"
                  f"{' from ' + os.path.basename(a.init or a.resume) if a.init or a.resume else ''}.")
    if a.export_checkpoint:
        saved = _load_checkpoint(model, a.checkpoint, "--checkpoint", a, p)
        model.eval()
        normalization = saved["normalization"]  # the run's, not that of the scenes generated here
        log, train_seconds = saved["log"], saved["log"][-1]["seconds"] if saved["log"] else 0.0
        progress.info(f"Weights of step {saved['step']} of {a.checkpoint} (no training).")
    else:
        with deterministic(a.seed, a.threads, device):
            log, train_seconds = fit(model, sample, len(CLASSES), config, device, progress.sub(0, 0.85),
                                     frozen_batchnorm=bool(a.init),
                                     checkpoint=_checkpointer(a.checkpoint, normalization) if a.checkpoint else None)
    steps_done = log[-1]["step"] if log else 0
    meta = {
        "schema_version": 1, "name": a.name, "version": a.version, "task": "calving_front_zones",
        "description": "Glacier / ocean / rock zones from one SAR backscatter band; the calving front is the "
                       "glacier-ocean boundary (CaFFe post-processing). Trained on SIMULATED scenes only.",
        "input": {"bands": [{"name": "sigma0_db", "sensor": "SAR (simulated)",
                             "description": "radar backscatter sigma0 in dB, one polarisation", "units": "dB"}],
                  "normalization": normalization, "nodata": {"values": [], "fill": 0.0},
                  "pixel_size_m": a.pixel_size, "pixel_size_tolerance": 0.5},
        "tiling": {"tile_size": 256, "overlap": 32, "size_multiple": 2 ** a.depth},
        "output": {"activation": "softmax", "classes": list(CLASSES), "positive_class": "glacier",
                   "threshold": 0.5, "front": ["glacier", "ocean"]},
        "architecture": model.architecture,
        "training": {"data": f"{a.train_scenes} simulated SAR-like scenes (serac.models.calving_scenes), "
                             f"{a.size}x{a.size} px: {n_default} with the default backscatter "
                             f"ranges (seed {1000 + a.seed}), {n_random} domain-randomised (seed "
                             f"{RANDOMIZED_SEED_BASE + a.seed}), {n_moderate} moderately widened (MODERATE, seed "
                             f"{MODERATE_SEED_BASE + a.seed}), {n_land} without sea (land-terminating glaciers on real "
                             f"terrain, seed {LAND_SEED_BASE + a.seed}); of those with a sea "
                             f"{a.terrain_fraction if terrains else 0:.0%} on "
                             f"real terrain ({', '.join(TERRAIN_SOURCES) if terrains else 'none'}); Columbia never "
                             "used",
                     "labels": "simulated zones", "date": datetime.date.today().isoformat(),
                     "region": "simulation (geometry partly from real DEMs and glacier outlines)",
                     "sensor": "simulated SAR", "season": "random (25-30 % wet snow)",
                     "limits": "trained and scored on SIMULATED SAR-like scenes only; never validated on real SAR "
                               "images; use its fronts as a starting point for review, or fine-tune / replace it "
                               "with a model trained on labelled SAR (e.g. the CaFFe benchmark).",
                     "script": "python -m models.train_calving", "steps": steps_done, "seed": a.seed,
                     "base_model": os.path.basename(a.init or a.resume or "") or None,
                     **({"resumed_from_step": resumed["step"]} if a.resume else {}),
                     "device": device, "train_seconds": round(train_seconds, 1),
                     **({"front_weight": {"weight": a.front_weight, "radius_px": a.front_radius}}
                        if a.front_weight else {}),
                     **({"coast_weight": {"weight": a.coast_weight, "radius_px": a.front_radius}}
                        if a.coast_weight else {}),
                     **({"front_centred_tiles": a.front_tiles} if a.front_tiles else {})},
    }
    report = export_onnx(model, meta, a.output)
    onnx_model = load_model(report.onnx_path, backend="onnxruntime", threads=a.threads)
    progress.info("Evaluating the exported ONNX model on held-out scenes ...")
    metrics = held_out_metrics(onnx_model, a.pixel_size, a.test_scenes, a.shared_data, a.size)
    finish_export(report, meta, metrics, config, model, log, start, a.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
