"""Train the ice-shelf fracture model on the labelled MOA tiles of Lai et al. (2020) and score it.

Uses the authors' split as shipped (:mod:`serac.models.lai2020`): training tiles for the weights,
validation tiles for the probability threshold (best pooled F1), test tiles for the reported scores only.
The network is the plugin's compact U-Net (:mod:`serac.core.segmentation.unet`), trained with the shared
loop of :mod:`serac.models.train` (BCE + Dice, AdamW, cosine schedule) on random tiles of the training
tiles with flips, rotations and gain/offset jitter (``--intensity``: also random gamma, contrast and noise);
exported to ONNX with Serac's metadata and scored by running the *exported file* through the plugin's tiled,
blended inference (:func:`predict_array`).

Every choice is made on the validation tiles only: with ``--eval-every`` the weights kept are those of the
step with the best pooled validation F1 (early stopping), and the threshold is the one of the best pooled
validation F1; the test tiles are scored once, at the end. ``--init`` continues from an exported model
(its normalisation kept, batch-norm statistics frozen).

    python -m models.train_fractures --output models/fractures_moa_v2.onnx --name fractures_moa_v2 ...

The exact command of each shipped model is in its model card (models/cards/fractures_moa_v*.md).
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("train_fractures")

import argparse
import datetime
import json
import os
import time

import numpy as np

from ..core.errors import InputError
from ..core.progress import ConsoleFeedback, as_progress
from ..core.segmentation.inference import predict_array
from ..core.segmentation.runtime import build_torch_module, load_model, onnx_state_dict, read_metadata, write_sidecar
from .datasets import IGNORE, TileSampler
from .export_onnx import embed_metadata, export_onnx
from .lai2020 import PIXEL_SIZE_M, PUBLISHED, best_threshold, f1_by_threshold, load_split, score
from .train import TrainConfig, _device, _seed_everything, add_fit_arguments, finish_export, fit
from .unet import UNet, freeze_batchnorm_statistics, unfuse_batchnorm

VALUE_RANGE = [1.0, 65535.0]  # MOA2009 UInt16 tiles; 0 is no data


def predict_tiles(model, tiles):
    """Fracture probability (NaN = no data) of every (name, image, mask) tile, through the plugin's inference."""
    return [predict_array(model, image[None])[0] for _, image, _ in tiles]


def normalise(image, normalization):
    """(1, rows, cols) float32 network input of a tile (NaN = no data -> 0, the metadata's fill)."""
    mean, std = normalization["mean"][0], normalization["std"][0]
    lo, hi = normalization.get("clip") or (-np.inf, np.inf)
    x = ((image - mean) / std).clip(lo, hi)
    x[~np.isfinite(image)] = 0.0
    return x[None].astype(np.float32)


def intensity_augmentation(sample, normalization, strength, rng):
    """``sample(n)`` with 4 tiles in 5 changed in intensity (DN / 65535, 0-1): gamma exp(N(0, s)), contrast
    about the tile mean times exp(U(-3 s, s)) (mostly lower: fractures that are not saturated white, on
    low-contrast ice), brightness N(0, s / 5), Gaussian noise of std U(0, s / 10), clipped to 0-1; no-data
    pixels (label IGNORE) stay at the fill value. ``strength`` s = 0: ``sample`` unchanged."""
    if strength <= 0:
        return sample
    mean, std = normalization["mean"][0], normalization["std"][0]
    lo, hi = normalization["clip"]

    def augmented(n):
        x, y = sample(n)
        for i in range(len(x)):
            if rng.random() >= 0.8:
                continue
            valid = y[i] != IGNORE
            v = ((x[i, 0] * std + mean) / 65535.0).clip(0.0, 1.0) ** np.exp(rng.normal(0, strength))
            m = v[valid].mean() if valid.any() else 0.5
            v = (v - m) * np.exp(rng.uniform(-3 * strength, strength)) + m + rng.normal(0, strength / 5)
            v = v + rng.normal(0, rng.uniform(0, strength / 10), v.shape)
            x[i, 0] = np.where(valid, ((v.clip(0.0, 1.0) * 65535.0 - mean) / std).clip(lo, hi), 0.0)
        return x, y
    return augmented


def validation_f1(tiles, normalization):
    """A function of a torch model: its best pooled F1 on the validation ``tiles`` (whole tiles at once)."""
    import torch

    inputs = [torch.from_numpy(normalise(image, normalization)[None]) for _, image, _ in tiles]
    masks = [m for _, _, m in tiles]

    def evaluate(model):
        probabilities = []
        m = 2 ** model.architecture["depth"]
        for x, (_, image, _) in zip(inputs, tiles):
            rows, cols = image.shape
            padded = torch.nn.functional.pad(x, (0, -cols % m, 0, -rows % m), mode="reflect")
            p = torch.sigmoid(model(padded))[0, 0, :rows, :cols].numpy()
            probabilities.append(np.where(np.isfinite(image), p, np.nan))
        return float(f1_by_threshold(probabilities, masks)[1].max())
    return evaluate


def initial_model(path):
    """(training-form network, normalisation) of an exported fracture model to continue from."""
    meta = read_metadata(path)
    if meta.task != "fractures" or meta.n_channels != 1:
        raise InputError(f"'{path}' is not a one-band fracture model.", "give a fracture model to continue from.")
    deploy = build_torch_module(meta, onnx_state_dict(path), path)
    return freeze_batchnorm_statistics(unfuse_batchnorm(deploy)), meta.normalization.to_dict()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True)
    p.add_argument("--name", default="fractures_moa_v1")
    p.add_argument("--version", default="1.0.0")
    add_fit_arguments(p, steps=300, tile_size=128, base_channels=8, depth=3)
    p.add_argument("--init", default=None, help="exported fracture model to continue training from")
    p.add_argument("--intensity", type=float, default=0.0,
                   help="strength of the gamma / contrast / noise augmentation (0: gain/offset jitter only)")
    p.add_argument("--eval-every", type=int, default=0,
                   help="steps between validation scores; the best step's weights are kept (0: the last step's)")
    p.add_argument("--rescore", action="store_true", help="only score the existing --output model again")
    p.add_argument("--no-test", action="store_true",
                   help="score on the validation tiles only (model development: the test tiles stay unseen)")
    a = p.parse_args(argv)
    if a.rescore:
        return rescore(a.output, a.threads, test=not a.no_test)
    progress = as_progress(ConsoleFeedback(verbose=True))
    start = time.perf_counter()
    _seed_everything(a.seed, a.threads)
    device = _device(a.device)
    train_tiles, valid_tiles, test_tiles = (load_split(s) for s in ("train", "validation", "test"))
    if a.init:
        model, normalization = initial_model(a.init)
    else:
        pixels = np.concatenate([im[np.isfinite(im)] for _, im, _ in train_tiles])
        mean, std = round(float(pixels.mean()), 1), round(float(pixels.std()), 1)
        normalization = {"method": "mean_std", "mean": [mean], "std": [std], "clip": [-6.0, 6.0]}
        model = UNet(1, 1, a.base_channels, a.depth)
    xs = [normalise(image, normalization) for _, image, _ in train_tiles]
    labels = [np.where(np.isfinite(image), mask, IGNORE).astype(np.uint8) for _, image, mask in train_tiles]
    rng = np.random.default_rng(a.seed)
    sampler = TileSampler(xs, labels, [np.ones(lab.shape, bool) for lab in labels], a.tile_size, rng,
                          min_labelled=0.3, jitter=0.05)
    with_fractures = [i for i, lab in enumerate(labels) if (lab == 1).any()]
    positives = TileSampler([xs[i] for i in with_fractures], [labels[i] for i in with_fractures],
                            [np.ones(labels[i].shape, bool) for i in with_fractures], a.tile_size, rng,
                            min_labelled=0.3, jitter=0.05)

    def sample(n):
        """Half of each batch from the tiles holding fractures (0.5 % of the pixels are fractures)."""
        (xa, ya), (xb, yb) = positives.sample(n // 2), sampler.sample(n - n // 2)
        return np.concatenate([xa, xb]), np.concatenate([ya, yb])
    config = TrainConfig(rasters=["lai2020 data_trainset"], labels="lai2020 masks", output=a.output, name=a.name,
                         version=a.version, task="fractures", classes=["background", "fracture"],
                         steps=a.steps, batch_size=a.batch_size, tile_size=a.tile_size,
                         base_channels=model.architecture["base_channels"], depth=model.architecture["depth"],
                         lr=a.lr, seed=a.seed, threads=a.threads, device=device, init_model=a.init,
                         log_path=a.log, log_every=25)
    progress.info(f"{len(train_tiles)} training tiles ({len(sampler.origins)} tile positions), "
                  f"{len(valid_tiles)} validation, {len(test_tiles)} test; training on {device}.")
    log, train_seconds = fit(model, intensity_augmentation(sample, normalization, a.intensity, rng), 1, config,
                             device, progress.sub(0, 0.8), frozen_batchnorm=a.init is not None,
                             evaluate=validation_f1(valid_tiles, normalization) if a.eval_every else None,
                             eval_every=a.eval_every)
    best_step = next((e["best_step"] for e in log if "best_step" in e), a.steps)
    arch = model.architecture
    meta = {
        "schema_version": 1, "name": a.name, "version": a.version, "task": "fractures",
        "description": "Fracture (crevasse, rift) probability on Antarctic ice shelves from one MODIS Mosaic of "
                       "Antarctica (MOA2009) greyscale band at 125 m. Compact U-Net trained on the labelled "
                       "tiles of Lai et al. (2020).",
        "input": {"bands": [{"name": "moa_greyscale", "sensor": "MODIS Mosaic of Antarctica 2009 (MOA2009)",
                             "description": "MOA2009 image tile, 16-bit greyscale as distributed by Lai et al. "
                                            "(0 = no data)", "units": "DN (UInt16)"}],
                  "normalization": normalization, "nodata": {"values": [0.0], "fill": 0.0},
                  "pixel_size_m": PIXEL_SIZE_M, "pixel_size_tolerance": 0.5, "value_range": VALUE_RANGE},
        "tiling": {"tile_size": 256, "overlap": 32, "size_multiple": 2 ** arch["depth"]},
        "output": {"activation": "sigmoid", "classes": ["background", "fracture"], "positive_class": "fracture",
                   "threshold": 0.5, "front": None},
        "architecture": arch,
        "training": {"data": "Lai et al. 2020 MOA2009 125 m tiles, data_trainset (23 tiles, 1000x1000 px; "
                             "chingyaolai/Antarctic-fracture-detection @ 5968b9c, GPL-3.0)",
                     "labels": "Lai et al. 2020 fracture masks (255 = fracture), no-data pixels ignored",
                     "date": datetime.date.today().isoformat(), "region": "Antarctic ice shelves",
                     "sensor": "MODIS (MOA2009 mosaic)", "season": "austral summer 2008/09 mosaic",
                     "split": "the authors' split as shipped: weights on data_trainset; "
                              + (f"weights of the step with the best pooled validation F1 (every {a.eval_every} "
                                 "steps) and " if a.eval_every else "")
                              + "threshold (best pooled F1) on data_validset; scores on data_testset",
                     "limits": "trained on 23 MOA2009 ice-shelf tiles at 125 m; mountain glaciers, other sensors "
                               "and other resolutions were never seen (rasters outside 83-188 m are refused); "
                               "review every fracture line.",
                     "script": "python -m models.train_fractures", "base_model": a.init and os.path.basename(a.init),
                     "steps": a.steps, "best_step": best_step, "batch_size": a.batch_size,
                     "train_tile_size": a.tile_size, "loss": "bce_dice", "intensity_augmentation": a.intensity,
                     "lr": a.lr, "seed": a.seed, "device": device, "threads": a.threads,
                     "train_seconds": round(train_seconds, 1)},
    }
    report = export_onnx(model, meta, a.output)
    progress.info("Scoring the exported ONNX model (validation: threshold; test: scores) ...")
    threshold, metrics = score_model(report.onnx_path, valid_tiles, None if a.no_test else test_tiles, a.threads)
    meta["output"]["threshold"] = threshold
    finish_export(report, meta, metrics, config, model, log, start, a.log)
    return 0


def score_model(onnx_path, valid_tiles, test_tiles=None, threads=1):
    """(threshold, metrics) of an exported model: the threshold of the best pooled F1 on the validation tiles
    (rounded as stored in the metadata), the validation scores and, with ``test_tiles``, the test scores at
    that threshold (the held-out result: nothing about the test tiles is chosen)."""
    onnx_model = load_model(onnx_path, backend="onnxruntime", threads=threads)
    valid_p = predict_tiles(onnx_model, valid_tiles)
    threshold = best_threshold(valid_p, [m for _, _, m in valid_tiles])
    metrics = {"validation": score(valid_p, [m for _, _, m in valid_tiles], threshold),
               "threshold_source": "best pooled F1 on the validation tiles (data_validset)"}
    if test_tiles is not None:
        metrics["test"] = score(predict_tiles(onnx_model, test_tiles), [m for _, _, m in test_tiles], threshold)
        metrics["published_lai2020_test"] = PUBLISHED
    return threshold, metrics


def rescore(onnx_path, threads=1, test=True):
    """Score an exported fracture model again (threshold from the validation tiles; with ``test``, scores on the
    test tiles) and store the threshold and metrics in its metadata (embedded and mirrored); weights unchanged."""
    meta = read_metadata(onnx_path).to_dict()
    threshold, metrics = score_model(onnx_path, load_split("validation"), load_split("test") if test else None,
                                     threads)
    meta["output"]["threshold"] = threshold
    meta["training"]["metrics"] = metrics
    write_sidecar(onnx_path, embed_metadata(onnx_path, meta))
    print(json.dumps({"onnx": onnx_path, "threshold": threshold, "metrics": metrics}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
