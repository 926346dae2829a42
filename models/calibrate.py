"""Measure a shipped model's receptive-field context and fit its temperature on held-out data.

    python -m models.calibrate glacier_landsat_v1       # needs ../shared/data (the Everest scene, RGI mask)
    python -m models.calibrate calving_zones_synthetic_v1     # and calving_zones_synthetic_v2

For each model:

1. **Context** (:func:`serac.core.segmentation.calibration.context_error`): tiles cut from a
   real scene are compared with a whole-image run; ``tiling.context_px`` = the smallest
   distance from a tile edge (multiple of the size multiple) where they differ by < 0.005,
   and the default ``tiling.overlap`` becomes ``2 * context_px + 16`` px.
2. **Temperature** (:func:`~serac.core.segmentation.calibration.fit_temperature`) fitted on
   held-out data only, never on training data:
   glacier: the top half (rows < 328) of the held-out block (left 200 columns) of the Everest
   scene; the ECE is reported on the bottom half (never used for fitting) and on the whole block.
   calving: 8 simulated procedural scenes of a seed never used in training (4000); the ECE is
   reported on the 16 procedural test scenes (seed 2000) and the Columbia sample scene.
3. The metadata (JSON mirror and ONNX) is rewritten with ``context_px``, ``overlap``,
   ``temperature`` and ``training.metrics.calibration``; a log goes to models/logs.
"""

import dataclasses
import json
import os

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("calibrate")

import numpy as np  # noqa: E402

from ..core.raster_io import read_raster  # noqa: E402
from ..core.segmentation import load_model, predict_array  # noqa: E402
from ..core.segmentation.calibration import context_error, expected_calibration_error, fit_temperature  # noqa: E402
from ..core.segmentation.inference import _prepare  # noqa: E402
from .export_onnx import embed_metadata  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(os.path.dirname(HERE), "..", "shared", "data")
BINS = 15
TOLERANCE = 0.005


def _logits(prob, sigmoid):
    p = np.clip(prob.astype(np.float64), 1e-7, 1 - 1e-7)
    return (np.log(p / (1 - p)) if sigmoid else np.log(p)).astype(np.float32)


def _context(model, raw):
    meta = model.metadata
    m = meta.size_multiple
    rows, cols = raw.shape[1] // m * m, raw.shape[2] // m * m
    x, _ = _prepare(meta, raw[:, :rows, :cols])
    tile = meta.tile_size
    while True:  # a deeper network sees farther than half the training tile: measure on larger tiles
        errors = context_error(model.predict, x, tile, m, step=7 * m)
        context = next((d for d in sorted(errors) if errors[d] < TOLERANCE), None)
        if context is not None:
            return context, {str(d): round(e, 4) for d, e in errors.items()}
        if 2 * tile > min(rows, cols):
            raise SystemExit(f"{meta.name}: tiles of {tile} px still differ from the whole image by more than "
                             f"{TOLERANCE} everywhere; the calibration scene ({rows} x {cols} px) is too small to "
                             "measure this network's context.")
        tile *= 2


def _with_context(meta, context):
    """Metadata with ``context_px`` and the default overlap 2 * context + 16 px; the inference tile size
    is doubled (the network is fully convolutional) until the overlap is below half of it."""
    overlap = 2 * context + 16
    tile = meta.tile_size
    while 2 * overlap >= tile:
        tile *= 2
    return dataclasses.replace(meta, context_px=context, overlap=overlap, tile_size=tile)


def _uncalibrated(path):
    model = load_model(path, backend="onnxruntime")
    model.metadata = dataclasses.replace(model.metadata, temperature=1.0)
    return model


def _ece_pair(logits, labels, activation, t):
    from ..core.segmentation.runtime import activate

    before = expected_calibration_error(activate(logits[None], activation)[0], labels, BINS)
    after = expected_calibration_error(activate(logits[None] / np.float32(t), activation)[0], labels, BINS)
    return {"before": round(before, 4), "after": round(after, 4)}


def glacier(path):
    model = _uncalibrated(path)
    scene = os.path.join(SHARED, "optical", "everest_landsat", "LE71400412000304SGS00_RGB.tif")
    image = read_raster(scene).data
    mask = read_raster(os.path.join(SHARED, "outlines", "masks", "everest_LE71400412000304_rgi60_mask.tif")).data[0]
    context, errors = _context(model, image)
    model.metadata = _with_context(model.metadata, context)
    overlap = model.metadata.overlap
    prob = predict_array(model, image)
    ok = np.isfinite(prob[0]) & np.isfinite(mask)
    fit = np.zeros(mask.shape, bool)
    fit[:328, :200] = True
    report = np.zeros(mask.shape, bool)
    report[328:, :200] = True
    logits = _logits(prob.reshape(1, -1), True)
    labels = np.nan_to_num(mask).astype(np.int64).ravel()
    t = fit_temperature(logits[:, (fit & ok).ravel()], labels[(fit & ok).ravel()], "sigmoid")
    block = (fit | report) & ok
    rescored = _rescore(prob[0] >= model.metadata.threshold, mask, image.shape[1:])
    calibration = {"temperature": round(t, 4), "bins": BINS,
                   "fitted_on": "held-out block (left 200 columns), rows 0-327",
                   "ece_held_out_bottom_half": _ece_pair(logits[:, (report & ok).ravel()],
                                                         labels[(report & ok).ravel()], "sigmoid", t),
                   "ece_held_out_block": _ece_pair(logits[:, block.ravel()], labels[block.ravel()], "sigmoid", t)}
    training = dict(model.metadata.training)
    training["metrics"] = dict(training["metrics"], **rescored)
    return dataclasses.replace(model.metadata, training=training), context, overlap, t, calibration, errors


def _rescore(pred, mask, shape):
    """Held-out / training-area scores of the seamless (margin-discarding) tiled prediction, same split as
    training (models.train: hold-out 'left:0.25', 16 px gap)."""
    from .datasets import split_holdout
    from .train import _scores

    train, test = split_holdout(shape, "left:0.25", 16)
    labels = np.where(np.isfinite(mask), mask, 255).astype(np.uint8)
    pred = pred.astype(np.uint8)
    return {"held_out": _scores(pred, labels, test, None, True),
            "training_area": _scores(pred, labels, train, None, True)}


def calving(path):
    from .calving_scenes import scene_set

    model = _uncalibrated(path)
    sample = os.path.join(HERE, "..", "resources", "sample_data", "segmentation")
    columbia = read_raster(os.path.join(sample, "columbia_sar_simulated_50m.tif")).data
    zones = read_raster(os.path.join(sample, "columbia_zones_reference.tif")).data[0]
    context, errors = _context(model, columbia)
    model.metadata = _with_context(model.metadata, context)
    overlap = model.metadata.overlap

    def stack(images, labels):
        logits, labs = [], []
        for img, lab in zip(images, labels):
            p = predict_array(model, img)
            ok = np.all(np.isfinite(p), axis=0) & np.isfinite(lab) & (lab < len(model.metadata.classes))
            logits.append(_logits(p[:, ok], False))
            labs.append(lab[ok].astype(np.int64))
        return np.concatenate(logits, axis=1), np.concatenate(labs)

    fit_x, fit_z = scene_set(4000, 8)
    logits, labels = stack(fit_x, fit_z)
    t = fit_temperature(logits, labels, "softmax")
    test_x, test_z = scene_set(2000, 16)
    calibration = {"temperature": round(t, 4), "bins": BINS,
                   "fitted_on": "8 simulated procedural scenes, seed 4000 (never used in training or testing)",
                   "ece_procedural_test_scenes": _ece_pair(*stack(test_x, test_z), "softmax", t),
                   "ece_columbia_simulated": _ece_pair(*stack([columbia], [zones]), "softmax", t)}
    return model.metadata, context, overlap, t, calibration, errors


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m models.calibrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="a model in models/ (NAME.onnx): calving_zones_synthetic_* or glacier_landsat_v1")
    name = p.parse_args(argv).name
    path = os.path.join(HERE, name + ".onnx")
    if name.startswith("calving_zones_synthetic_"):
        tool = calving
    elif name == "glacier_landsat_v1":
        tool = glacier
    else:
        p.error(f"no calibration data for '{name}': calving_zones_synthetic_* and glacier_landsat_v1 are known")
    if not os.path.isfile(path):
        p.error(f"no model file {path}: copy the model into models/ as {name}.onnx first")
    meta, context, overlap, t, calibration, errors = tool(path)
    calibration["context_px"] = context
    calibration["context_error_by_distance_px"] = errors
    training = dict(meta.training)
    training["metrics"] = dict(training.get("metrics", {}), calibration=calibration)
    meta = dataclasses.replace(meta, temperature=round(t, 4), training=training)
    embed_metadata(path, meta)
    with open(os.path.join(HERE, name + ".json"), "w", encoding="utf-8") as f:
        f.write(meta.to_json() + "\n")
    with open(os.path.join(HERE, "logs", name + "_calibration.json"), "w", encoding="utf-8") as f:
        json.dump(calibration, f, indent=1)
    print(json.dumps(calibration, indent=1))


if __name__ == "__main__":
    main()
