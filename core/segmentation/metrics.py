"""Accuracy of glacier outlines (IoU, precision, recall) and calving fronts (mean distance error).

Outlines: pixel counts of true/false positives/negatives over valid pixels;
IoU = TP / (TP + FP + FN), precision = TP / (TP + FP), recall = TP / (TP + FN).

Fronts: the mean distance error (MDE) of the CaFFe benchmark (Gourmelon et al. 2022,
ESSD 14, 4287-4313, doi:10.5194/essd-14-4287-2022). For an image with predicted front
pixels P and reference front pixels Q, every p in P contributes its distance to the
nearest q in Q, and every q in Q its distance to the nearest p in P (Euclidean, between
pixel centres, in m). Over a set of images,

    MDE = sum_images (sum_p d(p, Q) + sum_q d(q, P)) / sum_images (|P| + |Q|),

i.e. all distances of both directions and all images averaged together (the paper's
formula); :attr:`FrontError.mean_of_image_means_m` is the mean of per-image MDEs (what the
benchmark's evaluation script prints as its "mean distance error"; identical for one image).
An image with no predicted front (or no reference front) has no defined distance: it is
left out of both averages and counted in ``n_no_prediction`` (``n_no_reference``), as CaFFe
does; report that count beside the MDE.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..errors import InputError, NoOverlapError
from ..raster_io import pixel_sizes_m, rasterize_geometries


@dataclass
class SegmentationScores:
    """Binary segmentation scores over valid pixels (fractions 0-1; counts in px)."""

    iou: float
    precision: float
    recall: float
    f1: float
    accuracy: float
    tp: int
    fp: int
    fn: int
    tn: int

    def as_dict(self):
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _ratio(a, b):
    return float(a) / float(b) if b else float("nan")


def segmentation_scores(predicted, reference, valid=None):
    """IoU, precision, recall, F1 and accuracy of boolean ``predicted`` vs ``reference``."""
    pred = np.asarray(predicted, bool)
    ref = np.asarray(reference, bool)
    if pred.shape != ref.shape:
        raise InputError(f"Prediction {pred.shape} and reference {ref.shape} differ in shape.")
    v = np.ones(pred.shape, bool) if valid is None else np.asarray(valid, bool)
    tp = int(np.count_nonzero(pred & ref & v))
    fp = int(np.count_nonzero(pred & ~ref & v))
    fn = int(np.count_nonzero(~pred & ref & v))
    tn = int(np.count_nonzero(~pred & ~ref & v))
    return SegmentationScores(iou=_ratio(tp, tp + fp + fn), precision=_ratio(tp, tp + fp),
                              recall=_ratio(tp, tp + fn), f1=_ratio(2 * tp, 2 * tp + fp + fn),
                              accuracy=_ratio(tp + tn, tp + tn + fp + fn), tp=tp, fp=fp, fn=fn, tn=tn)


def roc_auc(scores, reference, valid=None):
    """Area under the ROC curve of per-pixel ``scores`` (higher = more likely positive) against boolean
    ``reference`` over ``valid`` pixels: the Mann-Whitney probability that a random positive pixel scores
    above a random negative one (ties count one half). NaN when either class is absent."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    ref = np.asarray(reference, bool)
    v = np.isfinite(s) if valid is None else np.asarray(valid, bool) & np.isfinite(s)
    s, ref = s[v], ref[v]
    n_pos = int(ref.sum())
    n_neg = ref.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[ref].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def compare_outlines(predicted_geometries, reference_geometries, grid, valid=None):
    """Scores of predicted vs reference polygons (GeoJSON dicts in ``grid``'s CRS), rasterised on ``grid``.

    Raises :class:`NoOverlapError` when the two layers' extents are disjoint and :class:`InputError`
    when the reference covers no pixel of ``grid``: an IoU of 0 would then say nothing about the outlines.
    An empty layer (a model that found nothing) scores.
    """
    a = geometry_bounds(predicted_geometries) if predicted_geometries else None
    b = geometry_bounds(reference_geometries) if reference_geometries else None
    if a and b and (a[0] > b[2] or b[0] > a[2] or a[1] > b[3] or b[1] > a[3]):
        raise NoOverlapError("The evaluated outlines and the reference outlines do not overlap on the ground "
                             "(their extents are disjoint), so IoU would be 0 whatever their quality.",
                             "compare layers of the same area, and check that both carry the right CRS.")
    pred = rasterize_geometries(predicted_geometries, grid).astype(bool)
    ref = rasterize_geometries(reference_geometries, grid).astype(bool)
    if b and not ref.any():
        raise InputError(f"The reference outlines cover no pixel of the comparison grid ({grid.describe()}).",
                         "give a grid raster that covers the reference outlines, or leave it empty.")
    return segmentation_scores(pred, ref, valid)


def front_distances(predicted, reference, pixel_size_m=1.0):
    """Distances (m) from each predicted front pixel to the nearest reference one, and back.

    ``pixel_size_m`` is a number or (row, col) sizes. Returns (pred_to_ref, ref_to_pred),
    or (None, None) if either mask is empty.
    """
    p = np.asarray(predicted, bool)
    q = np.asarray(reference, bool)
    if not p.any() or not q.any():
        return None, None
    sampling = (pixel_size_m, pixel_size_m) if np.isscalar(pixel_size_m) else tuple(pixel_size_m)
    to_q = ndimage.distance_transform_edt(~q, sampling=sampling)
    to_p = ndimage.distance_transform_edt(~p, sampling=sampling)
    return to_q[p], to_p[q]


@dataclass
class FrontError:
    """CaFFe mean distance error over a set of images (m)."""

    mde_m: float
    mean_of_image_means_m: float
    median_m: float
    n_images: int
    n_evaluated: int
    n_no_prediction: int
    n_no_reference: int
    per_image_m: list = field(default_factory=list)

    def as_dict(self):
        d = dict(self.__dict__)
        d["per_image_m"] = [None if v is None else round(v, 2) for v in self.per_image_m]
        for k in ("mde_m", "mean_of_image_means_m", "median_m"):
            d[k] = round(d[k], 2) if np.isfinite(d[k]) else None
        return d


def mean_distance_error(pairs):
    """CaFFe MDE of ``pairs``: iterable of (predicted front mask, reference front mask, pixel size m)."""
    sums, counts, per_image, all_d = 0.0, 0, [], []
    n = n_no_pred = n_no_ref = 0
    for predicted, reference, px in pairs:
        n += 1
        if not np.asarray(reference, bool).any():
            n_no_ref += 1
            per_image.append(None)
            continue
        if not np.asarray(predicted, bool).any():
            n_no_pred += 1
            per_image.append(None)
            continue
        d1, d2 = front_distances(predicted, reference, px)
        d = np.concatenate([d1, d2])
        sums += float(d.sum())
        counts += d.size
        per_image.append(float(d.mean()))
        all_d.append(d)
    evaluated = [v for v in per_image if v is not None]
    return FrontError(mde_m=sums / counts if counts else float("nan"),
                      mean_of_image_means_m=float(np.mean(evaluated)) if evaluated else float("nan"),
                      median_m=float(np.median(np.concatenate(all_d))) if all_d else float("nan"),
                      n_images=n, n_evaluated=len(evaluated), n_no_prediction=n_no_pred,
                      n_no_reference=n_no_ref, per_image_m=per_image)


def compare_fronts(predicted_lines, reference_lines, grid):
    """MDE (m) of predicted vs reference front lines (GeoJSON dicts in ``grid``'s CRS).

    Both are rasterised on ``grid`` (every touched pixel is a front pixel), then compared
    as one image with :func:`mean_distance_error`.
    """
    pred = rasterize_geometries(predicted_lines, grid, all_touched=True).astype(bool)
    ref = rasterize_geometries(reference_lines, grid, all_touched=True).astype(bool)
    size_x, size_y = pixel_sizes_m(grid)
    return mean_distance_error([(pred, ref, (size_y, size_x))])


def _coordinates(obj):
    if isinstance(obj, dict):
        if obj.get("type") == "GeometryCollection":
            for g in obj.get("geometries", []):
                yield from _coordinates(g)
            return
        obj = obj.get("coordinates", obj.get("geometry", []))
        if isinstance(obj, dict):
            yield from _coordinates(obj)
            return
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], (int, float)):
        yield obj[0], obj[1]
        return
    for item in obj or []:
        yield from _coordinates(item)


def geometry_bounds(geometries):
    """(left, bottom, right, top) of GeoJSON-like geometries; raises InputError if there are none."""
    xy = np.array([c for g in geometries for c in _coordinates(g)], dtype=np.float64)
    if xy.size == 0:
        raise InputError("There is no geometry to evaluate.", "check that both layers hold features.")
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def evaluation_grid(geometries, crs, resolution_m, margin_px=2):
    """A grid of ``resolution_m`` (m) px covering ``geometries`` (projected ``crs``) plus a margin."""
    from ..raster_io import RasterGrid

    if crs is None or crs.is_geographic:
        raise InputError("Evaluation on a grid needs a projected CRS (metres).",
                         "reproject the layers to a projected CRS (e.g. UTM) or give a reference raster.")
    if not resolution_m > 0:
        raise InputError(f"The evaluation pixel size must be > 0 m, got {resolution_m}.")
    left, bottom, right, top = geometry_bounds(geometries)
    pad = margin_px * resolution_m
    return RasterGrid.from_bounds(crs, left - pad, bottom - pad, right + pad, top + pad, resolution_m)
