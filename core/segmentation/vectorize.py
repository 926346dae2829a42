"""Probability rasters to glacier outline polygons, zone maps to calving-front lines.

Polygons (:func:`outline_features`): threshold the probability, remove specks smaller
than ``min_area_m2`` and fill holes smaller than ``max_hole_m2`` (scipy.ndimage), label
4-connected regions, polygonize them (``rasterio.features.shapes``), optionally simplify
(Douglas-Peucker preserving topology, shapely), and attach ``id``, ``area_km2``,
``mean_probability`` (mean probability over the region's pixels; another name with
``value_name``, e.g. ``mean_ndsi`` for a classical baseline), ``mean_uncertainty`` (mean of an
uncertainty raster over the region, when one is given), ``model`` and
``review_status = 'unreviewed'``. These per-outline means are computed here only.

Lines (:func:`boundary_lines`): the pixel edges shared by a pixel of one set (e.g. ocean
front pixels) and a 4-neighbour in another set (glacier), chained into polylines in map
coordinates, with ``id``, ``length_m``, ``model`` and ``review_status``.

Features are GeoJSON-like dicts ``{"type": "Feature", "geometry": {...}, "properties": {...}}``
in the raster's CRS; :func:`write_features` (from :mod:`..vector_io`, geopandas/pyogrio) writes
them to a GeoPackage outside QGIS; inside QGIS the Processing layer writes them to its sinks.
"""

import math

import numpy as np
import rasterio.features
from scipy import ndimage

from ..errors import InputError
from ..raster_io import metres_per_unit, pixel_area_m2, read_raster, require_crs, utm_crs_for
from ..review_fields import MEAN_UNCERTAINTY
from ..vector_io import vector_stack, write_features  # noqa: F401 (write_features: part of this API)

REVIEW_STATUS = "unreviewed"
FOUR = ndimage.generate_binary_structure(2, 1)
EIGHT = ndimage.generate_binary_structure(2, 2)


def clean_mask(mask, min_area_px=0, max_hole_px=0):
    """Boolean mask without 4-connected specks < ``min_area_px`` and holes < ``max_hole_px`` (px).

    Holes are 8-connected background regions not touching the raster edge.
    """
    mask = np.asarray(mask, dtype=bool).copy()
    if min_area_px > 1:
        labels, n = ndimage.label(mask, structure=FOUR)
        if n:
            sizes = np.bincount(labels.ravel())
            small = sizes < min_area_px
            small[0] = False
            mask[small[labels]] = False
    if max_hole_px > 1:
        labels, n = ndimage.label(~mask, structure=EIGHT)
        if n:
            sizes = np.bincount(labels.ravel())
            fill = sizes < max_hole_px
            fill[0] = False
            edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
            fill[edge] = False
            mask[fill[labels]] = True
    return mask


def simplify_geometry(geometry, tolerance):
    """Douglas-Peucker simplification (topology preserving, shapely/GEOS) of a GeoJSON geometry.

    ``tolerance`` in CRS units (m for projected CRS). Returns None if nothing is left.
    """
    if not tolerance or tolerance <= 0:
        return geometry
    _, shapely, _ = vector_stack()
    geom = shapely.geometry.shape(geometry).simplify(float(tolerance), preserve_topology=True)
    if geom.is_empty:
        return None
    return shapely.geometry.mapping(geom)


def geometry_area_m2(geometry, crs):
    """Area of a polygon geometry in m^2 (projected: planar; geographic: via a local UTM zone)."""
    return _measure(geometry, crs, "area")


def geometry_length_m(geometry, crs):
    """Length of a line geometry in m (projected: planar; geographic: via a local UTM zone)."""
    return _measure(geometry, crs, "length")


def _measure(geometry, crs, what):
    _, shapely, _ = vector_stack()
    geom = shapely.geometry.shape(geometry)
    if crs is not None and crs.is_geographic:
        from pyproj import Transformer

        minx, miny, maxx, maxy = geom.bounds
        utm = utm_crs_for((minx + maxx) / 2, (miny + maxy) / 2)
        to_utm = Transformer.from_crs(crs.to_wkt(), f"EPSG:{utm.to_epsg()}", always_xy=True)
        geom = shapely.transform(geom, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))
        factor = 1.0
    else:
        factor = metres_per_unit(crs) or 1.0
    if what == "area":
        return geom.area * factor ** 2
    return geom.length * factor


def outline_features(probability, grid, threshold=0.5, min_area_m2=0.0, max_hole_m2=0.0, simplify_m=0.0,
                     model_name="", valid=None, uncertainty=None, value_name="mean_probability", mask=None):
    """Glacier outline polygons from a probability array (rows, cols) on ``grid``.

    ``min_area_m2``: polygons smaller than this are dropped (specks); ``max_hole_m2``: holes
    smaller than this are filled; ``simplify_m``: Douglas-Peucker tolerance in m (0: none).
    ``valid``: optional mask of pixels that count (default: finite probability).
    ``uncertainty``: optional (rows, cols) array; its mean per outline is ``mean_uncertainty``.
    ``value_name``: the attribute holding the mean of ``probability``. ``mask``: optional
    boolean class mask used instead of ``probability >= threshold`` (classical baselines).
    Returns a list of features sorted by decreasing area, ids 1..n.
    """
    require_crs(grid, "The probability raster")
    prob = np.asarray(probability, dtype=np.float32)
    if prob.shape != grid.shape:
        raise InputError(f"Probability shape {prob.shape} does not match its grid {grid.shape}.")
    finite = np.isfinite(prob) if valid is None else (np.asarray(valid, bool) & np.isfinite(prob))
    px_area = pixel_area_m2(grid)
    raw_mask = np.nan_to_num(prob) >= threshold if mask is None else np.asarray(mask, bool)
    mask = clean_mask(finite & raw_mask,
                      min_area_px=math.ceil(min_area_m2 / px_area), max_hole_px=math.ceil(max_hole_m2 / px_area))
    labels, n = ndimage.label(mask, structure=FOUR)
    if n == 0:
        return []
    means = ndimage.mean(np.where(finite, prob, 0.0), labels=labels, index=np.arange(1, n + 1))
    unc_means = None
    if uncertainty is not None:
        unc = np.asarray(uncertainty, dtype=np.float64)
        unc_ok = np.isfinite(unc)
        sums = ndimage.sum(np.where(unc_ok, unc, 0.0), labels=labels, index=np.arange(1, n + 1))
        cnt = ndimage.sum(unc_ok, labels=labels, index=np.arange(1, n + 1))
        unc_means = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    features = []
    for geometry, value in rasterio.features.shapes(labels.astype(np.int32), mask=mask, connectivity=4,
                                                    transform=grid.transform):
        label = int(value)
        geometry = simplify_geometry(geometry, simplify_m)
        if geometry is None:
            continue
        area = geometry_area_m2(geometry, grid.crs) if simplify_m else counts[label] * px_area
        props = {"id": 0, "area_km2": round(area / 1e6, 6), value_name: round(float(means[label - 1]), 4)}
        if unc_means is not None:
            props[MEAN_UNCERTAINTY] = round(float(unc_means[label - 1]), 4)
        props.update(model=model_name, review_status=REVIEW_STATUS)
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    features.sort(key=lambda f: -f["properties"]["area_km2"])
    for i, f in enumerate(features, start=1):
        f["properties"]["id"] = i
    return features


def outlines_from_raster(path, band=1, threshold=None, uncertainty_path=None, **kwargs):
    """:func:`outline_features` for a probability raster written by ``segment_raster``.

    ``threshold`` defaults to the SERAC_THRESHOLD tag (else 0.5); ``model_name`` to SERAC_MODEL;
    ``uncertainty_path``: the uncertainty raster written alongside (adds ``mean_uncertainty``).
    """
    raster = read_raster(path, bands=band)
    if uncertainty_path:
        kwargs["uncertainty"] = read_raster(uncertainty_path, bands=1).data[0]
    if threshold is None:
        threshold = float(raster.tags.get("SERAC_THRESHOLD", 0.5))
    kwargs.setdefault("model_name", raster.tags.get("SERAC_MODEL", ""))
    return outline_features(raster.data[0], raster.grid, threshold=threshold, **kwargs)


# ---------------------------------------------------------------------------- lines
def boundary_segments(a, b):
    """Unit pixel edges between a pixel in ``a`` and a 4-neighbour in ``b`` (bool arrays).

    Returns an (n, 2, 2) int array of edges, each as two pixel-corner points (row, col).
    """
    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    segs = []
    # left/right neighbours share a vertical edge at column c + 1
    for x, y in ((a[:, :-1], b[:, 1:]), (b[:, :-1], a[:, 1:])):
        r, c = np.nonzero(x & y)
        segs.append(np.stack([np.stack([r, c + 1], 1), np.stack([r + 1, c + 1], 1)], 1))
    # upper/lower neighbours share a horizontal edge at row r + 1
    for x, y in ((a[:-1], b[1:]), (b[:-1], a[1:])):
        r, c = np.nonzero(x & y)
        segs.append(np.stack([np.stack([r + 1, c], 1), np.stack([r + 1, c + 1], 1)], 1))
    return np.concatenate(segs, 0) if segs else np.zeros((0, 2, 2), int)


def chain_segments(segments):
    """Chain unit edges into polylines (lists of (row, col) corners); open chains first, then loops."""
    adjacency = {}
    for (p, q) in (tuple(map(tuple, s)) for s in np.asarray(segments)):
        adjacency.setdefault(p, []).append(q)
        adjacency.setdefault(q, []).append(p)
    used = set()

    def walk(start):
        line = [start]
        node = start
        while True:
            nxt = next((q for q in adjacency[node] if (min(node, q), max(node, q)) not in used), None)
            if nxt is None:
                return line
            used.add((min(node, nxt), max(node, nxt)))
            line.append(nxt)
            node = nxt

    lines = []
    starts = [p for p, qs in adjacency.items() if len(qs) != 2] + list(adjacency)
    for p in starts:
        while any((min(p, q), max(p, q)) not in used for q in adjacency[p]):
            lines.append(walk(p))
    return lines


def _merge_collinear(line):
    if len(line) < 3:
        return line
    out = [line[0]]
    for prev, cur, nxt in zip(line, line[1:], line[2:]):
        if (cur[0] - prev[0]) * (nxt[1] - cur[1]) != (cur[1] - prev[1]) * (nxt[0] - cur[0]):
            out.append(cur)
    out.append(line[-1])
    return out


def boundary_lines(a, b, grid, min_length_m=0.0, simplify_m=0.0, model_name="", extra_properties=None):
    """Line features along the boundary between pixel sets ``a`` and ``b`` on ``grid``.

    Lines shorter than ``min_length_m`` are dropped; ``simplify_m`` is a Douglas-Peucker
    tolerance in m (0: keep the pixel-edge staircase). Properties: id, length_m, model,
    review_status (+ ``extra_properties``). Sorted by decreasing length.
    """
    require_crs(grid, "The zone raster")
    t = grid.transform
    features = []
    for line in chain_segments(boundary_segments(a, b)):
        line = _merge_collinear(line)
        coords = [tuple(t * (float(c), float(r))) for r, c in line]
        geometry = simplify_geometry({"type": "LineString", "coordinates": coords}, simplify_m)
        if geometry is None:
            continue
        length = geometry_length_m(geometry, grid.crs)
        if length < min_length_m:
            continue
        props = {"id": 0, "length_m": round(length, 2), "model": model_name, "review_status": REVIEW_STATUS}
        props.update(extra_properties or {})
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    features.sort(key=lambda f: -f["properties"]["length_m"])
    for i, f in enumerate(features, start=1):
        f["properties"]["id"] = i
    return features
