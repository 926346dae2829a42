"""Train the ice-shelf fracture model on the labelled MOA tiles of Lai et al. (2020) and score it.

Uses the authors' split as shipped (:mod:`serac.models.lai2020`): training tiles for the weights,
validation tiles for the probability threshold (best pooled F1), test tiles for the reported scores only.
The network is the plugin's compact U-Net (:mod:`serac.core.segmentation.unet`), trained with the shared
loop of :mod:`serac.models.train` (BCE + Dice, AdamW, cosine schedule) on random tiles of the training
tiles with flips, rotations and gain/offset jitter; exported to ONNX with Serac's metadata and scored by
running the *exported file* through the plugin's tiled, blended inference (:func:`predict_array`).

    python -m models.train_fractures --output models/fractures_moa_v1.onnx

The exact command of the shipped model is in its model card (models/cards/fractures_moa_v1.md).
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
import time

import numpy as np

from ..core.progress import ConsoleFeedback, as_progress
from ..core.segmentation.inference import predict_array
from ..core.segmentation.runtime import load_model, read_metadata, write_sidecar
from .datasets import IGNORE, TileSampler
from .export_onnx import embed_metadata, export_onnx
from .lai2020 import PIXEL_SIZE_M, PUBLISHED, best_threshold, load_split, score
from .train import TrainConfig, _device, _seed_everything, add_fit_arguments, finish_export, fit
from .unet import UNet

VALUE_RANGE = [1.0, 65535.0]  # MOA2009 UInt16 tiles; 0 is no data


def predict_tiles(model, tiles):
    """Fracture probability (NaN = no data) of every (name, image, mask) tile, through the plugin's inference."""
    return [predict_array(model, image[None])[0] for _, image, _ in tiles]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True)
    p.add_argument("--name", default="fractures_moa_v1")
    p.add_argument("--version", default="1.0.0")
    add_fit_arguments(p, steps=300, tile_size=128, base_channels=8, depth=3)
    p.add_argument("--rescore", action="store_true", help="only score the existing --output model again")
    a = p.parse_args(argv)
    if a.rescore:
        return rescore(a.output, a.threads)
    progress = as_progress(ConsoleFeedback(verbose=True))
    start = time.perf_counter()
    _seed_everything(a.seed, a.threads)
    device = _device(a.device)
    train_tiles, valid_tiles, test_tiles = (load_split(s) for s in ("train", "validation", "test"))
    pixels = np.concatenate([im[np.isfinite(im)] for _, im, _ in train_tiles])
    mean, std = round(float(pixels.mean()), 1), round(float(pixels.std()), 1)
    normalization = {"method": "mean_std", "mean": [mean], "std": [std], "clip": [-6.0, 6.0]}
    xs, labels = [], []
    for _, image, mask in train_tiles:
        x = ((image - mean) / std).clip(-6, 6)
        x[~np.isfinite(image)] = 0.0
        xs.append(x[None].astype(np.float32))
        labels.append(np.where(np.isfinite(image), mask, IGNORE).astype(np.uint8))
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
                         base_channels=a.base_channels, depth=a.depth, lr=a.lr, seed=a.seed, threads=a.threads,
                         device=device, log_path=a.log, log_every=25)
    model = UNet(1, 1, a.base_channels, a.depth)
    progress.info(f"{len(train_tiles)} training tiles ({len(sampler.origins)} tile positions), "
                  f"{len(valid_tiles)} validation, {len(test_tiles)} test; training on {device}.")
    log, train_seconds = fit(model, sample, 1, config, device, progress.sub(0, 0.8))

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
        "tiling": {"tile_size": 256, "overlap": 32, "size_multiple": 2 ** a.depth},
        "output": {"activation": "sigmoid", "classes": ["background", "fracture"], "positive_class": "fracture",
                   "threshold": 0.5, "front": None},
        "architecture": model.architecture,
        "training": {"data": "Lai et al. 2020 MOA2009 125 m tiles, data_trainset (23 tiles, 1000x1000 px; "
                             "chingyaolai/Antarctic-fracture-detection @ 5968b9c, GPL-3.0)",
                     "labels": "Lai et al. 2020 fracture masks (255 = fracture), no-data pixels ignored",
                     "date": datetime.date.today().isoformat(), "region": "Antarctic ice shelves",
                     "sensor": "MODIS (MOA2009 mosaic)", "season": "austral summer 2008/09 mosaic",
                     "split": "the authors' split as shipped: weights on data_trainset, threshold on data_validset "
                              "(best pooled F1), scores on data_testset",
                     "limits": "trained on 23 MOA2009 ice-shelf tiles at 125 m; mountain glaciers, other sensors "
                               "and other resolutions were never seen (rasters outside 83-188 m are refused); "
                               "review every fracture line.",
                     "script": "python -m models.train_fractures", "steps": a.steps, "batch_size": a.batch_size,
                     "train_tile_size": a.tile_size, "seed": a.seed, "device": device,
                     "threads": a.threads, "train_seconds": round(train_seconds, 1)},
    }
    report = export_onnx(model, meta, a.output)
    progress.info("Scoring the exported ONNX model (validation: threshold; test: scores) ...")
    threshold, metrics = score_model(report.onnx_path, valid_tiles, test_tiles, a.threads)
    meta["output"]["threshold"] = round(threshold, 4)
    finish_export(report, meta, metrics, config, model, log, start, a.log)
    return 0


def score_model(onnx_path, valid_tiles, test_tiles, threads=1):
    """(threshold, metrics) of an exported model: threshold for the best pooled F1 on the validation tiles,
    scores on the test tiles at that threshold (and at 0.5, for reference)."""
    onnx_model = load_model(onnx_path, backend="onnxruntime", threads=threads)
    valid_p = predict_tiles(onnx_model, valid_tiles)
    threshold = best_threshold(valid_p, [m for _, _, m in valid_tiles])
    test_p = predict_tiles(onnx_model, test_tiles)
    metrics = {"test": score(test_p, [m for _, _, m in test_tiles], threshold),
               "validation": score(valid_p, [m for _, _, m in valid_tiles], threshold),
               "test_at_0.5": score(test_p, [m for _, _, m in test_tiles], 0.5),
               "published_lai2020_test": PUBLISHED}
    return threshold, metrics


def rescore(onnx_path, threads=1):
    """Score an exported fracture model again (e.g. after a fix of the threshold search) and store the new
    threshold and metrics in its metadata (embedded and mirrored); the weights are unchanged."""
    meta = read_metadata(onnx_path).to_dict()
    threshold, metrics = score_model(onnx_path, load_split("validation"), load_split("test"), threads)
    meta["output"]["threshold"] = round(threshold, 4)
    meta["training"]["metrics"] = metrics
    write_sidecar(onnx_path, embed_metadata(onnx_path, meta))
    print(json.dumps({"onnx": onnx_path, "threshold": threshold, "metrics": metrics}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
