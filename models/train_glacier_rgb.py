"""Train the true-colour glacier model on two real scenes of the Everest glaciers and score it per scene.

    python -m models.train_glacier_rgb --output models/glacier_rgb_v2.onnx      # needs ../shared/data
    python -m models.train_glacier_rgb --output models/glacier_rgb_v2.onnx --evaluate-only

Scenes (both 8-bit true colour at 30 m, EPSG:32645):

* ``landsat7_2000``: Landsat 7 ETM+ LE71400412000304SGS00, 2000-10-30, bands 3/2/1 as 8-bit DN,
  800 x 655 px at 30 m (``../shared/data/optical/everest_landsat``);
* ``sentinel2_2020``: Sentinel-2B L1C true-colour visual product (TCI), 2020-04-07, 10 m, averaged
  over 3 x 3 pixels onto 30 m (:func:`.glacier_rgb_scenes.load_sentinel2_30m`; its grid lies on the Landsat grid's 30 m
  lattice, so this equals ``gdalwarp -tr 30 30 -r average`` followed by rounding to 8 bit), 609 x 331 px
  (``../shared/data/optical/khumbu_s2``). Another sensor and season (pre-monsoon, seasonal snow).

Labels: the 86 RGI 6.0 outlines burnt on each scene's grid. **Hold-out**: the same ground on both scenes,
x < 484,000 m (the left 200 columns of the Landsat scene, the block the v1 model never saw; the left 139
columns of the Sentinel-2 clip), then a 480 m (16 px) gap; training tiles lie entirely in x >= 484,480 m.
Each batch takes half its tiles from each scene.

After the export, as :mod:`serac.models.calibrate` does: the receptive-field context is measured on the
Landsat scene, the temperature is fitted on the top half of both held-out blocks only, and the
calibration error is reported on their bottom halves. IoU, precision, recall and F1 are scored on the
whole held-out block of each scene (a temperature does not change a class). The shipped v1 model and the
"mean RGB above a threshold" baseline (threshold tuned on each scene's own training area) are scored on
the same pixels; everything goes into the model metadata and ``models/logs/<name>_evaluation.json``.
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("train_glacier_rgb")

import argparse
import dataclasses
import datetime
import json
import os
import time

import numpy as np

from ..core.progress import ConsoleFeedback, as_progress
from ..core.segmentation import load_model, predict_array
from ..core.segmentation.calibration import fit_temperature
from ..core.segmentation.metrics import segmentation_scores
from ..core.segmentation.model_metadata import ModelMetadata
from ..core.segmentation.runtime import write_sidecar
from .calibrate import BINS, _context, _ece_pair, _logits, _uncalibrated, _with_context
from .datasets import IGNORE, TileSampler, normalization_from_data
from .export_onnx import embed_metadata, export_onnx
from .train import TrainConfig, _brightness_baseline, _device, add_fit_arguments, deterministic, fit, write_log
from .unet import UNet

from .glacier_rgb_scenes import GAP_M, HERE, HOLDOUT_X_M, LANDSAT, PIXEL_SIZE_M, RGI, SENSOR, SENTINEL2, V1, load_scenes


def _metadata(name, version, normalization, architecture, train_info):
    bands = [{"name": n, "sensor": SENSOR, "description": f"{n} (8-bit true colour)", "units": "DN (8-bit)"}
             for n in ("red", "green", "blue")]
    return {
        "schema_version": 1, "name": name, "version": version, "task": "glacier_extent",
        "description": "Glacier extent (incl. debris-covered tongues) from 8-bit true-colour RGB at 30 m "
                       "(Landsat 7 ETM+ bands 3/2/1, or the Sentinel-2 true-colour product resampled to 30 m). "
                       "Compact U-Net trained on a Landsat 7 and a Sentinel-2 scene of the Everest region with "
                       "RGI 6.0 labels.",
        "input": {"bands": bands, "normalization": normalization, "nodata": {"values": [0.0], "fill": 0.0},
                  "pixel_size_m": PIXEL_SIZE_M, "pixel_size_tolerance": 0.5,
                  "value_range": {"dtype": "uint8", "min": 0.0, "max": 255.0, "rescale": None}},
        "tiling": {"tile_size": 256, "overlap": 112, "size_multiple": 2 ** architecture["depth"]},
        "output": {"activation": "sigmoid", "classes": ["background", "glacier"], "positive_class": "glacier",
                   "threshold": 0.5, "front": None},
        "architecture": architecture,
        "training": train_info,
    }


def _train_info(config, train_seconds, device):
    return {
        "data": "Landsat 7 ETM+ LE71400412000304SGS00, 2000-10-30, RGB 800x655 px at 30 m (USGS; via "
                "GlacioHack/geoutils-data bd45050f) and Sentinel-2B L1C TCI 2020-04-07 tile T45RVL, 1827x995 px "
                "at 10 m averaged to 609x331 px at 30 m (contains modified Copernicus Sentinel data 2020; via "
                "GO-Eratosthenes/dhdt 42add761); both EPSG:32645",
        "labels": "RGI 6.0 region 15 outlines (86 polygons, CC BY 4.0) rasterised on each scene's grid",
        "region": "Everest / Khumbu, Nepal-China (Central Himalaya)",
        "sensor": "Landsat 7 ETM+ and Sentinel-2B MSI (true colour, 8 bit)",
        "season": "end of the ablation season (Landsat, late October, fresh snow on high terrain) and pre-monsoon "
                  "(Sentinel-2, early April, seasonal snow on most rock, clouds in the east)",
        "limits": "trained on two true-colour scenes of one region (Everest, 2000 and 2020, 30 m); not validated on "
                  "other regions, on Landsat 8/9 or on reflectance products; RGI labels are from another date than "
                  "the images; review every outline.",
        "date": datetime.date.today().isoformat(),
        "script": "python -m models.train_glacier_rgb (serac.models.train_glacier_rgb)",
        "split": f"the same ground held out on both scenes: x < {HOLDOUT_X_M:.0f} m (EPSG:32645), a {GAP_M:.0f} m "
                 "(16 px) gap; scores on each scene's held-out block",
        "base_model": None, "steps": config.steps, "batch_size": config.batch_size,
        "train_tile_size": config.tile_size, "seed": config.seed, "device": device, "threads": config.threads,
        "train_seconds": round(train_seconds, 1),
    }


def train_model(a, scenes, progress):
    """Train the U-Net on both scenes' training areas; returns (model, normalization, log, seconds, config)."""
    config = TrainConfig(rasters=[LANDSAT, SENTINEL2], labels=RGI, output=a.output, name=a.name, version=a.version,
                         band_names=["red", "green", "blue"], sensor=SENSOR, nodata_values=[0.0],
                         holdout=f"x<{HOLDOUT_X_M:.0f}m", gap_px=int(GAP_M / PIXEL_SIZE_M), tile_size=a.tile_size,
                         base_channels=a.base_channels, depth=a.depth, steps=a.steps, batch_size=a.batch_size,
                         lr=a.lr, jitter=a.jitter, seed=a.seed, threads=a.threads, device=a.device,
                         log_every=a.log_every, log_path=a.log)
    pixels = np.concatenate([s.image[:, s.train & np.isfinite(s.image[0])] for s in scenes], axis=1)
    normalization = normalization_from_data(pixels[:, None, :], np.ones((1, pixels.shape[1]), bool))
    probe = ModelMetadata.from_dict(_metadata(a.name, a.version, normalization,
                                              UNet(3, 1, a.base_channels, a.depth).architecture, {}))
    rng = np.random.default_rng(a.seed)
    samplers = []
    for s in scenes:
        x = probe.normalization.apply(s.image)
        x[:, ~np.isfinite(s.image[0])] = 0.0
        samplers.append(TileSampler(x, np.where(s.train, s.labels, IGNORE).astype(np.uint8),
                                    s.train & np.isfinite(s.image[0]), a.tile_size, rng, jitter=a.jitter))
        progress.info(f"{s.title}: {s.grid.describe()}; {int(s.train.sum())} training px, {int(s.test.sum())} "
                      f"held-out px, {len(samplers[-1].origins)} tile positions.")

    def sample(n):
        """Half of each batch from each scene (the Landsat scene has 9.4 times the tile positions)."""
        parts = [sm.sample(k) for sm, k in zip(samplers, (n - n // 2, n // 2)) if k]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    model = UNet(3, 1, a.base_channels, a.depth)
    log, seconds = fit(model, sample, 1, config, config.device, progress.sub(0.0, 0.8))
    return model, normalization, log, seconds, config


def _scores(pred, s, region):
    ok = region & (s.labels != IGNORE) & np.isfinite(s.image[0])
    return segmentation_scores(pred, s.labels == 1, ok).as_dict()


def evaluate(model, scenes, temperature):
    """Per-scene scores of an *uncalibrated* loaded model (its tiling as set) with ``temperature``:
    held-out block, training area, ECE on the held-out bottom half (before / after)."""
    out = {}
    for s in scenes:
        prob = predict_array(model, s.image)[0]
        pred = prob >= model.metadata.threshold
        ok = np.isfinite(prob) & (s.labels != IGNORE)
        logits = _logits(prob[s.report & ok][None], True)
        out[s.name] = {"held_out": _scores(pred, s, s.test), "training_area": _scores(pred, s, s.train),
                       "ece_held_out_bottom_half": _ece_pair(logits, s.labels[s.report & ok].astype(np.int64),
                                                             "sigmoid", temperature)}
    return out


def _fit(parts, names):
    """Temperature fitted on the (logits, labels) of the ``names`` keys of ``parts``."""
    return fit_temperature(np.concatenate([parts[k][0] for k in names], axis=1),
                           np.concatenate([parts[k][1] for k in names]), "sigmoid")


def choose_temperature(model, scenes):
    """(temperature, calibration report) by two-fold cross-fitting on the held-out blocks.

    A temperature is fitted on the top halves of both blocks and scored (ECE) on the bottom halves, and the
    other way round. If these out-of-sample ECEs are lower, on average, than without a temperature, the
    shipped temperature is the one fitted on the top halves (the bottom halves stay unused for it); else the
    model keeps T = 1 (a temperature fitted on one part of the ground does not carry over to the other).
    """
    parts = {}
    for s in scenes:
        prob = predict_array(model, s.image)[0]
        ok = np.isfinite(prob) & (s.labels != IGNORE)
        for half, region in (("top", s.fit), ("bottom", s.report)):
            parts[s.name, half] = (_logits(prob[region & ok][None], True), s.labels[region & ok].astype(np.int64))
    names = [s.name for s in scenes]
    fitted = {half: _fit(parts, [(n, half) for n in names]) for half in ("top", "bottom")}
    cross = {f"{n}_{half}": _ece_pair(*parts[n, half], "sigmoid", fitted["bottom" if half == "top" else "top"])
             for n in names for half in ("top", "bottom")}
    helps = np.mean([e["after"] for e in cross.values()]) < np.mean([e["before"] for e in cross.values()])
    t = fitted["top"] if helps else 1.0
    return t, {"temperature": round(t, 4), "bins": BINS,
               "fitted_on": ("top half of the held-out block of each scene (Landsat rows 0-327, Sentinel-2 rows "
                             "0-165 of the 30 m grid)" if helps else
                             "none: cross-fitted temperatures raised the out-of-sample ECE, so T = 1"),
               "temperature_top_halves": round(fitted["top"], 4),
               "temperature_bottom_halves": round(fitted["bottom"], 4),
               "ece_cross_fitted": cross}


def calibrate_and_score(path, scenes):
    """Context and temperature of the exported model at ``path``; per-scene scores of it, of v1 and of the
    baselines. Returns (metadata with context / overlap / temperature, metrics)."""
    model = _uncalibrated(path)
    context, errors = _context(model, scenes[0].image)
    model.metadata = _with_context(model.metadata, context)
    t, calibration = choose_temperature(model, scenes)
    v2 = evaluate(model, scenes, t)
    v1_model = _uncalibrated(V1)
    v1 = evaluate(v1_model, scenes, load_model(V1, backend="onnxruntime").metadata.temperature)
    per_scene = {}
    for s in scenes:
        lab = s.test & (s.labels != IGNORE) & np.isfinite(s.image[0])
        per_scene[s.name] = {
            "scene": s.title, "held_out_pixels": int(lab.sum()),
            "glacier_fraction_held_out": round(float((s.labels[lab] == 1).mean()), 4),
            "model": v2[s.name], "glacier_landsat_v1": v1[s.name],
            "baseline_brightness_threshold": _brightness_baseline(s.image, s.labels, s.train, s.test),
            "baseline_everything_glacier": segmentation_scores(np.ones(lab.shape, bool), s.labels == 1,
                                                               lab).as_dict(),
            "baselines_ndsi_band_ratio": "not scored: true-colour RGB, no SWIR band"}
    calibration.update({"context_px": context, "context_error_by_distance_px": errors})
    landsat = v2[scenes[0].name]
    metrics = {"held_out": landsat["held_out"], "training_area": landsat["training_area"],
               "held_out_scene": scenes[0].name, "per_scene": per_scene, "calibration": calibration}
    meta = dataclasses.replace(model.metadata, temperature=round(t, 4))
    return meta, metrics


def figure(path, scenes, out_path):
    """JPEG for the model card: each scene (top Landsat, bottom Sentinel-2) and the model's classes against RGI
    (blue agreement, red false glacier, yellow missed glacier), the held-out block left of the white line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = load_model(path, backend="onnxruntime")
    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5))
    for (ax_img, ax_err), s in zip(axes, scenes):
        pred = predict_array(model, s.image)[0] >= model.metadata.threshold
        ok = np.isfinite(s.image[0]) & (s.labels != IGNORE)
        truth = s.labels == 1
        colours = np.ones(s.grid.shape + (3,))
        colours[ok & pred & truth] = (0.3, 0.5, 0.9)
        colours[ok & pred & ~truth] = (0.9, 0.2, 0.2)
        colours[ok & ~pred & truth] = (0.95, 0.8, 0.1)
        colours[ok & ~pred & ~truth] = (0.85, 0.85, 0.85)
        ax_img.imshow(np.nan_to_num(np.moveaxis(s.image, 0, -1)).astype(np.uint8))
        ax_err.imshow(colours)
        edge = int(s.test[0].sum())
        for ax in (ax_img, ax_err):
            ax.axvline(edge - 0.5, color="white", lw=1.5)
            ax.set_xticks([])
            ax.set_yticks([])
        iou = segmentation_scores(pred, truth, ok & s.test).iou
        ax_img.set_title(s.title, fontsize=10)
        ax_err.set_title(f"{model.metadata.name} vs RGI 6.0 (held-out IoU {iou:.3f})", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_path, dpi=70, pil_kwargs={"quality": 85})
    plt.close(fig)
    return out_path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True)
    p.add_argument("--name", default="glacier_rgb_v2")
    p.add_argument("--version", default="2.0.0")
    add_fit_arguments(p, steps=1000)
    p.add_argument("--jitter", type=float, default=0.05)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--evaluate-only", action="store_true", help="score the existing --output model again")
    p.add_argument("--figure", action="store_true", help="only draw the model card's figure of the --output model")
    a = p.parse_args(argv)
    if a.figure:
        print(figure(a.output, load_scenes(), os.path.join(HERE, "cards", f"{a.name}_prediction.jpg")))
        return 0
    progress = as_progress(ConsoleFeedback(verbose=True))
    start = time.perf_counter()
    device = _device(a.device)
    a.log = a.log or os.path.join(HERE, "logs", f"{a.name}_training_log.json")
    scenes = load_scenes()
    with deterministic(a.seed, a.threads, device):
        if not a.evaluate_only:
            model, normalization, log, seconds, config = train_model(a, scenes, progress)
            meta = _metadata(a.name, a.version, normalization, model.architecture,
                             _train_info(config, seconds, device))
            report = export_onnx(model, meta, a.output)
        progress.info("Scoring the exported ONNX model on both held-out blocks ...")
        meta, metrics = calibrate_and_score(a.output, scenes)
    training = dict(meta.training, metrics=metrics)
    meta = dataclasses.replace(meta, training=training)
    write_sidecar(a.output, embed_metadata(a.output, meta))
    with open(os.path.join(HERE, "logs", f"{a.name}_evaluation.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=1)
    if not a.evaluate_only:
        write_log(a.log, config, model, log, metrics, report, time.perf_counter() - start)
    elif os.path.exists(a.log):  # the training log carries the scores of the model as shipped
        with open(a.log, encoding="utf-8") as f:
            logged = json.load(f)
        with open(a.log, "w", encoding="utf-8") as f:
            json.dump(dict(logged, metrics=metrics), f, indent=1)
    print(json.dumps({s: {k: v[k]["held_out"]["iou"] if isinstance(v.get(k), dict) and "held_out" in v[k] else None
                          for k in ("model", "glacier_landsat_v1")} for s, v in metrics["per_scene"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
