"""The labelled ice-shelf fracture tiles of Lai et al. (2020) and how fracture maps are scored on them.

Lai, C.-Y. et al. (2020), Vulnerability of Antarctica's ice shelves to meltwater-driven fracture,
Nature 584, 574-578, doi:10.1038/s41586-020-2627-8; tiles from chingyaolai/Antarctic-fracture-detection
(GPL-3.0), copied in ``../shared/data/seg/lai2020_antarctic_fractures`` (see its ORIGIN.md).

* MOA2009 mosaic tiles, 125 m, 1000 x 1000 px, UInt16, not georeferenced; value 0 = no data (outside the
  ice shelf); masks 0/255 (255 = fracture). The split is the authors' as shipped: ``data_trainset``
  (23 of their 26 tiles), ``data_validset`` (6), ``data_testset`` (6).
* Scoring (:func:`score`): fracture-class precision, recall and F1 at a threshold over **all** pixels of a
  tile (no-data pixels count as "no fracture predicted", so fractures labelled there are misses), and the
  ROC AUC of the per-pixel score over the **valid** pixels only (counting the easy no-data background
  would inflate it; ``roc_auc_all_pixels`` counts them too, for comparison with figures computed that way).
  Figures are pooled over the tiles of a split (pixels of all tiles together).
"""

import glob
import os

import numpy as np

from ..core.errors import InputError

#: What Lai et al. 2020 report for their U-Net on the test tiles (fracture class; figures as quoted in issue 17)
PUBLISHED = {"f1": 0.56, "precision": 0.49, "recall": 0.64, "roc_auc": 0.966}
PIXEL_SIZE_M = 125.0
SPLITS = {"train": "data_trainset", "validation": "data_validset", "test": "data_testset"}
DATASET_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))),
                           "shared", "data", "seg", "lai2020_antarctic_fractures")


def load_split(split, root=DATASET_DIR):
    """[(name, image float32 (rows, cols) with NaN = no data, mask bool (rows, cols))] of one split."""
    import rasterio

    folder = os.path.join(root, SPLITS[split])
    paths = sorted(p for p in glob.glob(os.path.join(folder, "*.tif")) if not p.endswith("_mask.tif"))
    if not paths:
        raise InputError(f"No Lai et al. 2020 tiles in {folder}.", "check ../shared/data/seg.")
    out = []
    for path in paths:
        with rasterio.open(path) as ds:
            image = ds.read(1).astype(np.float32)
        with rasterio.open(path[:-4] + "_mask.tif") as ds:
            mask = ds.read(1) > 0
        image[image == 0] = np.nan
        out.append((os.path.basename(path)[:-4], image, mask))
    return out


def score(probabilities, masks, threshold):
    """Pooled fracture-class scores of per-pixel scores (list of 2-D arrays, NaN = no data) vs masks."""
    from ..core.segmentation.metrics import roc_auc, segmentation_scores

    p = np.concatenate([np.nan_to_num(a, nan=0.0).ravel() for a in probabilities])
    valid = np.concatenate([np.isfinite(a).ravel() for a in probabilities])
    ref = np.concatenate([m.ravel() for m in masks])
    s = segmentation_scores(p >= threshold, ref).as_dict()
    s["roc_auc"] = round(roc_auc(p, ref, valid), 4)
    s["roc_auc_all_pixels"] = round(roc_auc(p, ref), 4)  # no-data pixels as score 0: inflated by easy negatives
    s["threshold"] = round(float(threshold), 4)
    return s


def f1_by_threshold(probabilities, masks):
    """(thresholds, F1) of the pooled fracture-class F1 of ``score >= t`` at every distinct positive score t
    (exact, by sorting; no-data pixels score 0 and are never above a threshold)."""
    p = np.concatenate([np.nan_to_num(a, nan=0.0).ravel() for a in probabilities])
    ref = np.concatenate([m.ravel() for m in masks])
    order = np.argsort(-p, kind="stable")
    p, hits = p[order], np.cumsum(ref[order])
    last = np.append(p[1:] != p[:-1], True) & (p > 0)  # the last pixel of each run of equal scores
    predicted = np.nonzero(last)[0] + 1
    f1 = 2.0 * hits[last] / (predicted + max(int(ref.sum()), 1))
    return p[last], f1


def best_threshold(probabilities, masks, decimals=4):
    """The threshold maximising the pooled F1 (tuned on the validation split, never on the test split), rounded
    down to ``decimals`` (what the model metadata stores; rounding down keeps every pixel of the optimum)."""
    thresholds, f1 = f1_by_threshold(probabilities, masks)
    if thresholds.size == 0:
        raise InputError("No pixel scores above 0: no threshold can be chosen.", "check the model and tiles.")
    t = float(thresholds[int(np.argmax(f1))])
    return max(np.floor(t * 10 ** decimals) / 10 ** decimals, 10.0 ** -decimals)
