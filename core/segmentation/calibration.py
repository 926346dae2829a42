"""How far a model's probabilities and tiles can be trusted: calibration error, temperature
scaling, and the network's effective receptive field.

* :func:`expected_calibration_error` (ECE): pixels are binned by their confidence (the
  probability of the predicted class, 0.5-1 for a sigmoid model); the ECE is the mean over
  bins, weighted by pixel count, of |accuracy - mean confidence| (0 = calibrated).
* :func:`fit_temperature`: the temperature T > 0 that minimises the negative log-likelihood
  of held-out labels under ``activation(logits / T)`` (Guo et al. 2017, *On calibration of
  modern neural networks*). Dividing logits by T leaves every class decision unchanged.
* :func:`context_error`: the largest difference between tile-wise and whole-image
  probabilities at each distance (px) from a tile edge; the smallest distance where it
  falls below a tolerance is the ``tiling.context_px`` stored in the model metadata.
"""

import numpy as np

from ..errors import InputError
from .runtime import activate


def confidence_and_correct(probabilities, labels):
    """(confidence, correct) per pixel from probabilities (k, n) and integer labels (n,).

    k = 1: sigmoid probability of the positive class (label 1); else softmax over k classes.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if p.shape[0] == 1:
        pred = (p[0] >= 0.5).astype(np.int64)
        return np.where(pred == 1, p[0], 1.0 - p[0]), pred == labels
    return p.max(axis=0), p.argmax(axis=0) == labels


def expected_calibration_error(probabilities, labels, bins=15):
    """ECE (0-1) of probabilities (k, n) against labels (n,) with ``bins`` equal-width confidence bins."""
    conf, correct = confidence_and_correct(probabilities, labels)
    if conf.size == 0:
        raise InputError("No labelled pixel to measure the calibration error on.")
    lo = 1.0 / max(2, np.asarray(probabilities).shape[0]) if np.asarray(probabilities).shape[0] > 1 else 0.5
    edges = np.linspace(lo, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.float64)
    gap = np.abs(np.bincount(idx, weights=correct.astype(np.float64), minlength=bins)
                 - np.bincount(idx, weights=conf, minlength=bins))
    return float(gap.sum() / count.sum())


def _nll(logits, labels, activation, temperature):
    p = activate(logits[None] / np.float32(temperature), activation)[0].astype(np.float64)
    eps = 1e-7
    if activation == "sigmoid":
        q = np.clip(p[0], eps, 1 - eps)
        return float(-np.mean(np.where(labels == 1, np.log(q), np.log(1 - q))))
    return float(-np.mean(np.log(np.clip(np.take_along_axis(p, labels[None], 0)[0], eps, 1.0))))


def fit_temperature(logits, labels, activation, bounds=(0.05, 20.0)):
    """Temperature minimising the NLL of ``labels`` (n,) under ``activation(logits (k, n) / T)``."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    if logits.ndim != 2 or logits.shape[1] != labels.size or labels.size == 0:
        raise InputError(f"Logits {logits.shape} and labels {labels.shape} do not match (need (k, n) and (n,)).")
    res = minimize_scalar(lambda log_t: _nll(logits, labels, activation, np.exp(log_t)),
                          bounds=tuple(np.log(bounds)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def context_error(predict, x, tile_size, multiple, step=None, distances=None):
    """{distance px: largest |tile - whole| probability difference at >= that distance from a tile edge}.

    ``predict``: normalised (N, bands, rows, cols) -> probabilities (a model's ``predict``);
    ``x``: one normalised scene (bands, rows, cols), rows and cols multiples of ``multiple``
    and larger than ``tile_size``. Tiles start on multiples of ``multiple`` (as inference
    places them) every ``step`` px.
    """
    x = np.asarray(x, dtype=np.float32)
    whole = predict(x[None])[0]
    step = step or max(multiple, (tile_size // 2) // multiple * multiple)
    distances = list(distances or range(0, tile_size // 2, multiple))
    worst = dict.fromkeys(distances, 0.0)
    for r in range(0, x.shape[1] - tile_size + 1, step):
        for c in range(0, x.shape[2] - tile_size + 1, step):
            diff = np.abs(predict(x[None, :, r:r + tile_size, c:c + tile_size])[0]
                          - whole[:, r:r + tile_size, c:c + tile_size]).max(axis=0)
            for d in distances:
                worst[d] = max(worst[d], float(diff[d:tile_size - d, d:tile_size - d].max()))
    return worst


__all__ = ["expected_calibration_error", "fit_temperature", "context_error", "confidence_and_correct"]
