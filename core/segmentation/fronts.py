"""Calving fronts from glacier/ocean/rock zone maps, following the CaFFe benchmark.

Gourmelon et al. (2022), "Calving fronts and where to find them", ESSD 14, 4287-4313,
doi:10.5194/essd-14-4287-2022, derive the front from a zone segmentation as follows
(re-implemented here from the description, with scipy):

1. Ocean clean-up (:func:`clean_zones`): non-ocean regions enclosed by the ocean (all but
   the largest 8-connected non-ocean region) become ocean; then only the largest
   8-connected ocean region stays ocean, the other ocean pixels become glacier.
2. Front pixels (:func:`front_mask`): ocean pixels with a glacier pixel among their 4
   neighbours.
3. Short fronts removed: 8-connected front pieces of at most ``min_length_m`` (750 m in
   CaFFe) divided by the pixel size (px) are dropped.

Not in CaFFe (:func:`bridge_glacier`, ``bridge_m`` > 0): before step 2, glacier is grown over land
(never across ocean) by up to ``bridge_m``, so that a thin band of land predicted between a glacier and
the ocean (a glacier tongue taken for rock near its front, the commonest failure of the shipped model on
simulated scenes, see docs/validation/calving.md) no longer removes the front. Coast within ``bridge_m``
of a glacier's side then also counts as front.

Not in CaFFe either (``edge_km2`` > 0 in :func:`front_features`, ``edge_min_px`` in :func:`clean_zones`): the
clean-up keeps land and ocean regions of at least that area that reach the scene edge, besides the largest
one of each. A scene cut out of a coast holds several fjords; CaFFe's clean-up, made for images of one
glacier and its fjord, turns all land but the largest piece into ocean and all water but the largest body
into glacier, and so removes every front on the other fjords (on simulated crops of Svalbard's coast, 13 of
30 scenes fail even from the true zones with CaFFe's clean-up, 4 with this one; docs/validation/calving.md).
The scene's edge is the array's border and the border of its nodata (a footprint inside a rectangular raster).

Not in CaFFe either (``short_fraction`` > 0 in :func:`front_features` and :func:`front_mask`): CaFFe's 750 m rule
assumes fronts longer than that; small valley glaciers reaching a fjord (simulated crops of Svalbard's coast: 60 %
of the true front pixels lie in pieces of at most 750 m) have none. A piece of at most the minimum length is kept
when it is longer than that share of the longest piece in the scene (so the rule changes nothing in a scene with
a front of at least 750 m / share) and touches glacier of the zone map itself: pieces made only by bridging
(coast next to a glacier's side) are still dropped.

Not in CaFFe either (``min_ocean_km2`` > 0 in :func:`front_features`, :func:`drop_small_ocean`): after the
clean-up, ocean regions smaller than that area become glacier, as CaFFe's clean-up does with every ocean region
but the largest. CaFFe's images all show a fjord, so the largest ocean region is always the sea; in a scene
without sea (a land-terminating glacier, or the sea outside the image) it is a speck of dark rock or wet snow,
and with the short-front rule above its edge became a front. On 60 simulated scenes without sea the default
model (v8) drew false fronts on 40 without this rule and on none with 1 km²; on the 210 validation draws, all with
a sea, the smallest sea it found covers 4.3 km² and no front changes (docs/validation/calving.md, ninth round).

:func:`front_features` turns the result into line features (pixel edges between the
kept front pixels and glacier, chained).
"""

import numpy as np
from scipy import ndimage

from .vectorize import EIGHT, boundary_lines

CAFFE_MIN_FRONT_LENGTH_M = 750.0


def _scene_edge(zones, nodata):
    """Mask of the scene's edge: the array's border and the valid pixels next to nodata (a footprint's margin)."""
    edge = np.zeros(zones.shape, bool)
    edge[0] = edge[-1] = True
    edge[:, 0] = edge[:, -1] = True
    missing = zones == nodata
    if missing.any():
        edge |= ndimage.binary_dilation(missing, structure=EIGHT) & ~missing
    return edge


def _kept(labels, n, edge_min_px, edge):
    """Mask of the regions of ``labels`` kept: the largest, and with ``edge_min_px`` every region of at least
    that many pixels reaching the scene's ``edge`` (mask)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    keep = [int(np.argmax(sizes))]
    if edge_min_px:
        keep += [int(v) for v in np.unique(labels[edge & (labels > 0)]) if sizes[v] >= edge_min_px]
    return np.isin(labels, keep)


def clean_zones(zones, ocean, glacier, nodata=255, edge_min_px=0):
    """CaFFe ocean clean-up of a class map (values: class indices, ``nodata``); returns a copy.

    ``edge_min_px`` > 0 (not in CaFFe): non-ocean and ocean regions of at least that many pixels that reach
    the scene's edge (the array's border or a nodata margin) are kept as they are, besides the largest one of
    each. CaFFe's images hold one glacier and its fjord; a crop of a coast can hold several fjords (land cut in
    pieces by the sea, water bodies joined only outside the scene), whose fronts the plain clean-up removes.
    """
    zones = np.array(zones, copy=True)
    is_ocean = zones == ocean
    if not is_ocean.any():
        return zones
    edge = _scene_edge(zones, nodata) if edge_min_px else None
    other, n = ndimage.label(~is_ocean, structure=EIGHT)
    gaps = (other > 0) & ~_kept(other, n, edge_min_px, edge) & (zones != nodata)
    zones[gaps] = ocean
    labels, n = ndimage.label(zones == ocean, structure=EIGHT)
    zones[(labels > 0) & ~_kept(labels, n, edge_min_px, edge)] = glacier
    return zones


def drop_small_ocean(zones, ocean, glacier, min_px):
    """A copy of ``zones`` where 8-connected ocean regions of fewer than ``min_px`` pixels become glacier (not in
    CaFFe: a sea, not a speck, is needed for a calving front)."""
    zones = np.array(zones, copy=True)
    if min_px <= 1:
        return zones
    labels, n = ndimage.label(zones == ocean, structure=EIGHT)
    if n:
        small = np.bincount(labels.ravel(), minlength=n + 1) < min_px
        small[0] = False
        zones[small[labels]] = glacier
    return zones


def bridge_glacier(zones, glacier, ocean, bridge_px, nodata=255):
    """A copy of ``zones`` with glacier grown over non-ocean pixels (4-connected steps) by ``bridge_px`` px."""
    zones = np.array(zones, copy=True)
    if bridge_px < 1 or not (zones == glacier).any():
        return zones
    land = (zones != ocean) & (zones != nodata)
    grown = ndimage.binary_dilation(zones == glacier, iterations=int(bridge_px), mask=land)
    zones[grown] = glacier
    return zones


def front_mask(zones, glacier, ocean, pixel_size_m, min_length_m=CAFFE_MIN_FRONT_LENGTH_M, short_fraction=0.0,
               own=None, own_required=False):
    """Front pixels: ocean pixels 4-adjacent to glacier, minus pieces of <= min_length_m / pixel_size_m px.

    ``own``: a mask of the front pixels of the zone map before bridging (see :func:`front_features`), None when
    not bridged. ``short_fraction`` > 0 (not in CaFFe): a piece of at most the minimum length is kept when it has
    more than that share of the pixels of the longest piece in the scene and (with ``own``) holds at least one
    ``own`` pixel. ``own_required`` (not in CaFFe, with ``own``): pieces of any length without an ``own`` pixel
    (made by bridging alone) are dropped.
    """
    zones = np.asarray(zones)
    g = np.pad(zones == glacier, 1)
    near_glacier = g[:-2, 1:-1] | g[2:, 1:-1] | g[1:-1, :-2] | g[1:-1, 2:]
    front = (zones == ocean) & near_glacier
    own_required = own_required and own is not None
    if (min_length_m > 0 or own_required) and front.any():
        labels, n = ndimage.label(front, structure=EIGHT)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        sizes[0] = 0
        has_own = np.bincount(labels[front & own], minlength=n + 1) > 0 if own is not None else True
        drop = sizes <= min_length_m / pixel_size_m
        if short_fraction > 0:
            drop &= ~((sizes > short_fraction * sizes.max()) & has_own)
        if own_required:
            drop |= ~has_own
        drop[0] = False
        front[drop[labels]] = False
    return front


def front_features(zones, grid, glacier, ocean, pixel_size_m, min_length_m=CAFFE_MIN_FRONT_LENGTH_M,
                   clean=True, simplify_m=0.0, model_name="", bridge_m=0.0, edge_km2=0.0, short_fraction=0.0,
                   drop_bridged_only=False, min_ocean_km2=0.0):
    """Calving-front line features from a zone class map on ``grid`` (CaFFe post-processing; with
    ``bridge_m`` > 0 (m) glacier-ocean gaps over land are bridged first, see :func:`bridge_glacier`;
    with ``edge_km2`` > 0 the clean-up keeps land and ocean regions of at least that area (km²) reaching the
    scene edge, see :func:`clean_zones`; with ``short_fraction`` > 0 pieces of at most ``min_length_m`` are kept
    when longer than that share of the scene's longest piece and touching glacier of the zone map itself, not
    only glacier added by bridging; with ``drop_bridged_only`` pieces made by bridging alone are dropped, see
    :func:`front_mask`; with ``min_ocean_km2`` > 0 ocean regions smaller than that (km²) are no ocean, see
    :func:`drop_small_ocean`).

    Returns (features, front pixel mask).
    """
    if clean:
        edge_px = int(np.ceil(edge_km2 * 1e6 / pixel_size_m ** 2)) if edge_km2 > 0 else 0
        zones = clean_zones(zones, ocean, glacier, edge_min_px=edge_px)
    if min_ocean_km2 > 0:
        zones = drop_small_ocean(zones, ocean, glacier, int(np.ceil(min_ocean_km2 * 1e6 / pixel_size_m ** 2)))
    own = None
    if bridge_m > 0:
        if short_fraction > 0 or drop_bridged_only:
            own = front_mask(zones, glacier, ocean, pixel_size_m, min_length_m=0)
        zones = bridge_glacier(zones, glacier, ocean, int(round(bridge_m / pixel_size_m)))
    front = front_mask(zones, glacier, ocean, pixel_size_m, min_length_m, short_fraction, own, drop_bridged_only)
    features = boundary_lines(front, np.asarray(zones) == glacier, grid, simplify_m=simplify_m,
                              model_name=model_name)
    return features, front


__all__ = ["bridge_glacier", "clean_zones", "drop_small_ocean", "front_mask", "front_features",
           "CAFFE_MIN_FRONT_LENGTH_M"]
