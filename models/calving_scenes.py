"""Synthetic SAR-like calving-glacier scenes (glacier / ocean / rock zones) for the front model.

No labelled SAR scene of a calving glacier is available offline (the CaFFe benchmark,
Gourmelon et al. 2022, doi:10.1594/PANGAEA.940950, is not in ../shared/data), so the
calving-front model is trained and scored on procedurally generated scenes that mimic the
difficulties CaFFe describes. Everything here is a simulation, not a measurement:

* geometry: a meandering fjord from the top edge to open sea along the bottom edge; the
  glacier fills the fjord down to an irregular (fractal) calving front, plus an
  accumulation area along the top; everything else is rock (fractal terrain);
* backscatter (sigma0, dB): rock from terrain slope towards the radar (fractal terrain of
  random scale, or a real DEM) plus texture of random strength;
  glacier bright and textured with crevasse bands near the front, or dark in "wet snow"
  scenes (25 %); ocean dark but wind-roughened in patches, with bright ice melange
  decaying away from the front; global calibration offset; multiplicative gamma speckle
  (3-6 looks).

The ranges of these draws are a :class:`Backscatter`; its defaults (:data:`DEFAULT`) are the simulator
every test and validation scene uses. :data:`RANDOMIZED` widens them and adds radar shadow / layover
on steep rock and drifting sea ice (domain randomisation for training, ``--randomized-fraction`` of
``python -m models.train_calving``); :data:`MODERATE` widens them less, with more wet and bright glaciers
and narrower tongues (``--moderate-fraction``; the second, rejected v2 attempt, docs/validation/calving.md).

Scenes are oriented with the sea at a random side (rotations/flips). Labels use the class
order ``["glacier", "ocean", "rock"]``.

Real-terrain scenes (:func:`terrain_scene`) put the same backscatter model on real
geometry: a DEM and a glacier mask from ``../shared/data`` (Coxe Glacier and a Greenland
glacier at 100 m, Hintereisferner and Baltoro on SRTM, Svalbard at 20 m), resampled to about
the model's pixel size, flooded up to a random "sea level" inside the glacier's lowest
elevations so that the tongue ends in a fjord at an irregular calving front. Procedural scenes
also take their rock relief from random crops of these DEMs half of the time. Columbia
Glacier's DEM and outline are never used for training: that geometry is the held-out test.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core.segmentation.fronts import front_mask

CLASSES = ["glacier", "ocean", "rock"]
GLACIER, OCEAN, ROCK = 0, 1, 2


def fractal_noise(shape, rng, scale, octaves=4, persistence=0.55):
    """Zero-mean, unit-std smooth noise with features of about ``scale`` px and finer octaves."""
    out = np.zeros(shape, np.float64)
    amp = 1.0
    for k in range(octaves):
        out += amp * ndimage.gaussian_filter(rng.normal(size=shape), max(scale / 2 ** k, 0.7), mode="wrap")
        amp *= persistence
    out -= out.mean()
    return out / (out.std() + 1e-12)


def _profile(n, rng, scale, amplitude):
    """A smooth random 1-D profile of length n (px), std ``amplitude``."""
    return fractal_noise((1, n), rng, scale, octaves=3)[0] * amplitude


def scene_zones(size, rng, half_width=(0.08, 0.18)):
    """Zone map (size x size uint8) with the glacier flowing from the top to the sea at the bottom.

    ``half_width``: range of the tongue's mean half width, as a share of ``size``.
    """
    h = w = size
    y = np.arange(h)[:, None].astype(float)
    x = np.arange(w)[None, :].astype(float)
    centre = w * rng.uniform(0.35, 0.65) + _profile(h, rng, h / 4, w * 0.08)[:, None]
    half_width = w * rng.uniform(*half_width) * (1 + 0.25 * _profile(h, rng, h / 5, 1.0)[:, None])
    channel = np.abs(x - centre) < np.maximum(half_width, 3)
    sea_line = h * rng.uniform(0.78, 0.92) + _profile(w, rng, w / 6, h * 0.03)[None, :]
    sea = y >= sea_line
    front_y = h * rng.uniform(0.35, 0.65) + _profile(w, rng, w / 12, h * 0.025)[None, :]
    accumulation = y < h * rng.uniform(0.05, 0.2) + _profile(w, rng, w / 8, h * 0.04)[None, :]
    zones = np.full((h, w), ROCK, np.uint8)
    zones[channel & (y < front_y)] = GLACIER
    zones[accumulation] = GLACIER
    zones[(channel & (y >= front_y)) | sea] = OCEAN
    return zones


@dataclass(frozen=True)
class Backscatter:
    """Ranges of the simulated backscatter: (low, high) pairs drawn uniformly per scene (dB unless stated),
    and the width of the procedural glacier tongues.

    The defaults are the simulator every test and validation draw uses; :data:`RANDOMIZED` widens them
    and adds radar shadow / layover and drifting sea ice (domain randomisation for training);
    :data:`MODERATE` widens them less, aimed at the failures of the first model. A pair
    with low == high is a constant (no random number is drawn, so the defaults reproduce the draws
    made before these ranges existed).
    """

    rock_db: tuple = (-11.0, -7.0)
    #: dB added by tanh(standardised slope towards the radar)
    slope_gain_db: tuple = (4.0, 4.0)
    rock_texture_db: tuple = (0.5, 2.0)
    wet_probability: float = 0.25
    wet_glacier_db: tuple = (-15.5, -15.5)
    glacier_db: tuple = (-8.0, -4.0)
    glacier_texture_db: tuple = (0.5, 2.0)
    crevasse_db: tuple = (3.5, 3.5)
    ocean_db: tuple = (-23.0, -18.0)
    wind_db: tuple = (0.0, 9.0)
    #: e-folding distance (px) of the melange density away from the glacier
    melange_length_px: tuple = (2.0, 30.0)
    #: melange density at the front (0-1)
    melange_density: tuple = (0.5, 0.5)
    melange_db: tuple = (6.0, 12.0)
    offset_db: tuple = (-2.0, 2.0)
    #: number of looks of the gamma speckle (integers, inclusive)
    looks: tuple = (3, 6)
    #: share of scenes with radar shadow (dark) and layover (bright) on steep rock slopes
    shadow_probability: float = 0.0
    #: share of scenes with drifting sea ice: bright floes over part of the open ocean
    sea_ice_probability: float = 0.0
    #: (geometry, procedural scenes only) range of the tongue's mean half width, share of the scene width
    tongue_half_width: tuple = (0.08, 0.18)


DEFAULT = Backscatter()
RANDOMIZED = Backscatter(rock_db=(-14.0, -5.0), slope_gain_db=(2.0, 7.0), rock_texture_db=(0.3, 3.0),
                         wet_probability=0.3, wet_glacier_db=(-19.0, -12.0), glacier_db=(-11.0, -2.0),
                         glacier_texture_db=(0.3, 3.0), crevasse_db=(1.0, 6.0), ocean_db=(-26.0, -15.0),
                         wind_db=(0.0, 14.0), melange_length_px=(2.0, 60.0), melange_density=(0.2, 0.9),
                         melange_db=(3.0, 14.0), offset_db=(-4.0, 4.0), looks=(1, 8), shadow_probability=0.4,
                         sea_ice_probability=0.25)
#: the ranges of the second (rejected) v2 attempt, docs/validation/calving.md: wider where the first model
#: failed (dark wet-snow glaciers, 40 % of scenes; dry glaciers from darker to as bright as sunlit rock; rock
#: overlapping both; tongues down to 3 % of the scene wide; 2 looks), the ocean side left as in :data:`DEFAULT`
#: (melange next to the front stays ocean-like: no shadow, no sea ice).
MODERATE = Backscatter(rock_db=(-12.0, -6.0), slope_gain_db=(3.0, 5.0), rock_texture_db=(0.4, 2.5),
                       wet_probability=0.4, wet_glacier_db=(-17.5, -13.0), glacier_db=(-10.0, -3.0),
                       glacier_texture_db=(0.4, 2.5), crevasse_db=(2.0, 5.0), ocean_db=(-24.0, -17.0),
                       wind_db=(0.0, 10.0), offset_db=(-3.0, 3.0), looks=(2, 6), tongue_half_width=(0.03, 0.18))


def _draw(rng, pair):
    lo, hi = pair
    return lo if lo == hi else rng.uniform(lo, hi)


def scene_backscatter(zones, rng, terrain=None, ranges=DEFAULT):
    """Simulated sigma0 (dB) for a zone map (see the module docstring), with the ranges of ``ranges``.

    ``terrain``: optional elevation-like array (any units; standardised here) used instead of
    fractal terrain for the rock backscatter (e.g. a real DEM).
    """
    h, w = zones.shape
    g, o, r = zones == GLACIER, zones == OCEAN, zones == ROCK
    if terrain is None:
        terrain = fractal_noise((h, w), rng, rng.uniform(10, 48), octaves=5)
    slope = np.gradient(ndimage.gaussian_filter(np.asarray(terrain, np.float64), 1.0), axis=1)
    slope = slope / (np.std(slope) + 1e-12) * rng.uniform(0.5, 1.2)
    db = np.empty((h, w))
    rock = (rng.uniform(*ranges.rock_db) + _draw(rng, ranges.slope_gain_db) * np.tanh(slope)
            + _draw(rng, ranges.rock_texture_db) * fractal_noise((h, w), rng, 3))
    db[r] = rock[r]
    # glacier: distance upstream of the front (px) for crevasses
    # (a scene without sea, :func:`land_scene`, has no front and so no crevasse band)
    dist_to_ocean = ndimage.distance_transform_edt(~o) if o.any() else np.full((h, w), np.inf)
    wet = rng.random() < ranges.wet_probability
    base = _draw(rng, ranges.wet_glacier_db) if wet else rng.uniform(*ranges.glacier_db)
    glacier = base + rng.uniform(*ranges.glacier_texture_db) * fractal_noise((h, w), rng, rng.uniform(3, 10))
    crevasse_zone = np.exp(-dist_to_ocean / rng.uniform(8, 25))
    yy = np.arange(h)[:, None] + 3 * fractal_noise((h, w), rng, 10)
    crevasses = np.sin(2 * np.pi * yy / rng.uniform(3, 7)) > 0.3
    glacier += _draw(rng, ranges.crevasse_db) * crevasse_zone * crevasses
    db[g] = glacier[g]
    # ocean: dark, wind patches, ice melange near the front
    dist_to_glacier = ndimage.distance_transform_edt(~g)
    wind = rng.uniform(*ranges.wind_db) * np.clip(fractal_noise((h, w), rng, 40, octaves=3), 0, None)
    density = _draw(rng, ranges.melange_density)
    melange = rng.random((h, w)) < density * np.exp(-dist_to_glacier / rng.uniform(*ranges.melange_length_px))
    melange = ndimage.binary_dilation(melange, iterations=1) & (rng.random((h, w)) < 0.8)
    ocean = rng.uniform(*ranges.ocean_db) + wind + rng.uniform(*ranges.melange_db) * melange
    if ranges.sea_ice_probability > 0 and rng.random() < ranges.sea_ice_probability:
        ocean = np.where(_sea_ice(rng, (h, w)), rng.uniform(-16, -8) + 1.5 * fractal_noise((h, w), rng, 2), ocean)
    db[o] = ocean[o]
    if ranges.shadow_probability > 0 and rng.random() < ranges.shadow_probability:
        steep = rng.uniform(1.0, 2.0)  # standardised slope beyond which the radar sees shadow / layover
        db[r & (slope < -steep)] = rng.uniform(-26, -20)
        db[r & (slope > steep)] += rng.uniform(3, 8)
    db += rng.uniform(*ranges.offset_db)  # calibration / incidence offset
    looks = rng.integers(ranges.looks[0], ranges.looks[1] + 1)
    speckle = rng.gamma(looks, 1.0 / looks, size=(h, w))
    return (10 * np.log10(10 ** (db / 10) * speckle)).astype(np.float32)


def _sea_ice(rng, shape):
    """Floes of drifting sea ice (bool): patches of 2-8 px covering 10-60 % of an area of 20-60 px features."""
    area = fractal_noise(shape, rng, rng.uniform(20, 60), octaves=2) > rng.uniform(-0.5, 1.0)
    floes = fractal_noise(shape, rng, rng.uniform(2, 8), octaves=2) > rng.uniform(-0.3, 1.3)
    return area & floes


def _orient(db, zones, rng):
    """Random 90-degree rotation and flip of a scene: (db (1, rows, cols), zones)."""
    k = int(rng.integers(0, 4))
    zones, db = np.rot90(zones, k), np.rot90(db, k)
    if rng.random() < 0.5:
        zones, db = zones[:, ::-1], db[:, ::-1]
    return np.ascontiguousarray(db)[None], np.ascontiguousarray(zones)


def synthetic_calving_scene(rng, size=256, terrains=None, ranges=DEFAULT):
    """(sigma0 dB (1, size, size) float32, zones (size, size) uint8), randomly oriented.

    ``terrains``: optional :func:`load_terrains` result; half of the scenes then take their
    rock relief from a random crop of a real DEM instead of fractal noise.
    """
    zones = scene_zones(size, rng, ranges.tongue_half_width)
    terrain = None
    if terrains and rng.random() < 0.5:
        dem, _ = terrains[int(rng.integers(0, len(terrains)))]
        terrain = _crop(dem, _random_origin(dem.shape, size, rng), size)
    return _orient(scene_backscatter(zones, rng, terrain=terrain, ranges=ranges), zones, rng)


def scene_set(seed, n, size=256, terrains=None, terrain_fraction=0.0, ranges=DEFAULT):
    """``n`` scenes from one seed: (images (n, 1, size, size), zones (n, size, size)).

    With ``terrains`` (see :func:`load_terrains`), a ``terrain_fraction`` of the scenes are
    real-terrain scenes (:func:`terrain_scene`), the others procedural.
    """
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        if terrains and rng.random() < terrain_fraction:
            scenes.append(terrain_scene(terrains[int(rng.integers(0, len(terrains)))], rng, size, ranges=ranges))
        else:
            scenes.append(synthetic_calving_scene(rng, size, terrains, ranges))
    images, zones = zip(*scenes)
    return np.stack(images), np.stack(zones)


# ---------------------------------------------------------------------------- real terrain
TERRAIN_SOURCES = {  # name: (DEM, glacier mask on the DEM grid), paths under ../shared/data
    "coxe": ("outlines/oggm/dem_RGI50-01.10299.tif", "outlines/masks/coxe_RGI50-01.10299_mask.tif"),
    "greenland": ("outlines/oggm/dem_RGI50-05.08389.tif", "outlines/masks/greenland_RGI50-05.08389_mask.tif"),
    "hintereisferner": ("outlines/oggm/hef_srtm.tif", "outlines/masks/hintereisferner_RGI60-11.00897_mask.tif"),
    "baltoro": ("outlines/oggm/baltoro_srtm_clip.tif", "outlines/masks/baltoro_mask.tif"),
    "svalbard": ("dem/longyearbyen_partial/DEM_1995.tif", "dem/longyearbyen_partial/glacier_mask_1990_derived.tif"),
}


def load_terrains(shared_data, pixel_size_m=50.0, names=None):
    """[(dem (m), glacier bool), ...] of :data:`TERRAIN_SOURCES` resampled to ``pixel_size_m`` (m/px).

    Geographic DEMs are reprojected to UTM; DEM nodata is filled from the nearest valid pixel.
    """
    import os

    from affine import Affine

    from ..core.raster_io import RasterGrid, metric_grid_for, read_grid, read_on_grid

    out = []
    for name in names or TERRAIN_SOURCES:
        dem_path, mask_path = (os.path.join(shared_data, p) for p in TERRAIN_SOURCES[name])
        metric = metric_grid_for(read_grid(dem_path))
        left, bottom, right, top = metric.bounds
        grid = RasterGrid(metric.crs, Affine(pixel_size_m, 0, left, 0, -pixel_size_m, top),
                          int((right - left) // pixel_size_m), int((top - bottom) // pixel_size_m))
        dem = read_on_grid(dem_path, grid, bands=1).data[0].astype(np.float64)
        mask = read_on_grid(mask_path, grid, bands=1, resampling="nearest").data[0] == 1
        bad = ~np.isfinite(dem)
        if bad.all():
            continue
        if bad.any():
            dem = dem[tuple(ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True))]
        out.append((dem, mask))
    return out


def _random_origin(shape, size, rng):
    return tuple(int(rng.integers(0, max(n - size, 0) + 1)) for n in shape)


def _crop(array, origin, size):
    """A size x size crop at ``origin`` (row, col), edge-padded where the array is smaller."""
    r, c = origin
    part = array[r:r + size, c:c + size]
    return np.pad(part, ((0, size - part.shape[0]), (0, size - part.shape[1])), mode="edge")


def flooded_zones(dem, glacier, rng):
    """Zones of a DEM flooded to a random level within the glacier's lowest elevations.

    The level (m) is a random 1-15 % percentile of the glacier's elevations; the water
    surface is perturbed by fractal noise over the glacier (an irregular calving front).
    Ocean = the largest 8-connected water body that floods part of the glacier (else the
    largest); glacier = the mask minus the ocean.
    """
    level = np.percentile(dem[glacier], rng.uniform(1, 15))
    wobble = rng.uniform(5, 40) * fractal_noise(dem.shape, rng, rng.uniform(3, 12), octaves=3)
    water, n = ndimage.label(dem + np.where(glacier, wobble, 0) < level, structure=np.ones((3, 3)))
    zones = np.where(glacier, GLACIER, ROCK).astype(np.uint8)
    if n:
        sizes = np.bincount(water.ravel(), minlength=n + 1)
        calving = np.bincount(water[glacier], minlength=n + 1) > 0
        calving[0] = False
        sizes[0] = 0
        zones[water == int(np.argmax(np.where(calving, sizes, 0) if calving.any() else sizes))] = OCEAN
    return zones


def _origin_near(cell, window, shape, rng):
    """(row, col) origin of a ``window``-px crop of an array of ``shape`` whose centre lies within a quarter window
    of ``cell`` (row, col), kept inside the array."""
    return tuple(int(np.clip(v - window // 2 + rng.integers(-window // 4, window // 4 + 1), 0, max(n - window, 0)))
                 for v, n in zip(cell, shape))


def terrain_scene(terrain, rng, size=256, tries=30, ranges=DEFAULT):
    """A scene on real terrain (see the module docstring): (db (1, size, size), zones), randomly oriented.

    The crop is centred near a random calving-front pixel, at a pixel size randomly 0.8-1.25
    times that of ``terrain`` (a :func:`load_terrains` entry).
    """
    dem, glacier = terrain
    for _ in range(tries):
        zones = flooded_zones(dem, glacier, rng)
        front = front_mask(zones, GLACIER, OCEAN, 1.0, min_length_m=0)
        if not front.any():
            continue
        window = int(round(size * rng.uniform(0.8, 1.25)))
        r0, c0 = _origin_near(np.argwhere(front)[int(rng.integers(0, int(front.sum())))], window, dem.shape, rng)
        z = upsample(_crop(zones, (r0, c0), window), size / window, 0)[:size, :size].astype(np.uint8)
        if z.shape != (size, size):
            continue
        share = np.bincount(z.ravel(), minlength=3) / z.size
        if share[GLACIER] < 0.05 or not 0.03 <= share[OCEAN] <= 0.5:
            continue
        d = upsample(_crop(dem, (r0, c0), window), size / window, 1)[:size, :size]
        return _orient(scene_backscatter(z, rng, terrain=d, ranges=ranges), z, rng)
    return synthetic_calving_scene(rng, size, ranges=ranges)


def land_scene(terrain, rng, size=256, tries=30, ranges=DEFAULT):
    """A scene on real terrain WITHOUT sea (glacier and rock only: land-terminating glaciers), randomly oriented:
    (db (1, size, size), zones). A front model should draw no front on it.

    The crop is centred near a random pixel of the glacier's margin, at a pixel size randomly 0.8-1.25 times
    that of ``terrain`` (a :func:`load_terrains` entry), with 5-80 % glacier; the backscatter is
    :func:`scene_backscatter`'s with the rock relief of the DEM. Raises ValueError when no crop qualifies.
    """
    dem, glacier = terrain
    margin = glacier & ~ndimage.binary_erosion(glacier, structure=np.ones((3, 3)), border_value=1)
    if not margin.any():
        raise ValueError("the terrain has no glacier margin to centre a scene on")
    cells = np.argwhere(margin)
    for _ in range(tries):
        window = int(round(size * rng.uniform(0.8, 1.25)))
        r0, c0 = _origin_near(cells[int(rng.integers(0, len(cells)))], window, dem.shape, rng)
        zones = np.where(_crop(glacier, (r0, c0), window), GLACIER, ROCK).astype(np.uint8)
        z = upsample(zones, size / window, 0)[:size, :size].astype(np.uint8)
        if z.shape != (size, size) or not 0.05 <= np.mean(z == GLACIER) <= 0.8:
            continue
        d = upsample(_crop(dem, (r0, c0), window), size / window, 1)[:size, :size]
        return _orient(scene_backscatter(z, rng, terrain=d, ranges=ranges), z, rng)
    raise ValueError(f"no crop of {size} px with 5-80 % glacier in {tries} tries")


def land_set(seed, n, terrains, size=256, ranges=DEFAULT):
    """``n`` scenes WITHOUT sea from one seed (:func:`land_scene`, on a random entry of ``terrains`` each):
    (images (n, 1, size, size), zones (n, size, size)); a terrain with no qualifying crop is skipped for the next.
    Training on them teaches a front model that a scene may have no sea."""
    if not terrains:
        raise ValueError("scenes without sea need real terrain (load_terrains found none)")
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        first = int(rng.integers(0, len(terrains)))
        for k in range(len(terrains)):
            try:
                scenes.append(land_scene(terrains[(first + k) % len(terrains)], rng, size, ranges=ranges))
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"no terrain gives a {size} px crop with 5-80 % glacier")
    images, zones = zip(*scenes)
    return np.stack(images), np.stack(zones)


# ---------------------------------------------------------------------------- Columbia
COLUMBIA_CROP = (330, 590, 130, 420)  # rows, cols of dem_Columbia.tif (100 m) around the terminus
FJORD_MAX_ELEVATION_M = 100.0
FJORD_MAX_DISTANCE_PX = 40  # 4 km at 100 m


def columbia_zones(shared_data):
    """Zones on Columbia Glacier's real geometry (Alaska; 100 m grid of OGGM's dem_Columbia.tif).

    glacier = the RGI 6.0 outline (RGI60-01.10689, 2009 terminus) rasterised on the DEM grid;
    ocean = the sea in the DEM (<= 2 m, largest region) plus the fjord up to the 2009
    terminus (non-glacier pixels below 100 m connected to that sea, within 4 km of it);
    rock = everything else. Returns (zones, dem, grid), cropped around the terminus.
    """
    import os

    from ..core.raster_io import read_raster

    base = os.path.join(shared_data, "outlines")
    dem_r = read_raster(os.path.join(base, "oggm", "columbia", "dem_Columbia.tif"))
    mask = read_raster(os.path.join(base, "masks", "columbia_RGI60-01.10689_mask.tif")).data[0] == 1
    r0, r1, c0, c1 = COLUMBIA_CROP
    dem = dem_r.data[0][r0:r1, c0:c1]
    glacier = mask[r0:r1, c0:c1]
    sea_labels, n = ndimage.label(dem <= 2.0)
    sizes = np.bincount(sea_labels.ravel())
    sizes[0] = 0
    sea = sea_labels == int(np.argmax(sizes))
    low, _ = ndimage.label((~glacier & (dem < FJORD_MAX_ELEVATION_M)) | sea)
    ids = np.unique(low[sea])
    ocean = np.isin(low, ids[ids > 0]) & (ndimage.distance_transform_edt(~sea) < FJORD_MAX_DISTANCE_PX)
    zones = np.full(dem.shape, ROCK, np.uint8)
    zones[ocean] = OCEAN
    zones[glacier] = GLACIER
    from rasterio.windows import Window

    grid = dem_r.grid.window_grid(Window(c0, r0, c1 - c0, r1 - r0))
    return zones, dem, grid


def upsample(array, factor, order):
    """Resample a 2-D array by ``factor`` (order 0: nearest, 1: bilinear)."""
    return ndimage.zoom(array, factor, order=order, mode="nearest", grid_mode=True)


def columbia_scene(shared_data, rng, pixel_size_m=50.0):
    """Simulated SAR-like sigma0 (dB) over Columbia Glacier's real geometry at ``pixel_size_m``.

    Returns (db (1, rows, cols) float32, zones uint8, grid).
    """
    from affine import Affine

    from ..core.raster_io import RasterGrid

    zones, dem, grid = columbia_zones(shared_data)
    factor = int(round(grid.res[0] / pixel_size_m))
    zones = upsample(zones, factor, 0).astype(np.uint8)
    dem = upsample(dem, factor, 1)
    t = grid.transform
    fine = RasterGrid(grid.crs, Affine(t.a / factor, t.b, t.c, t.d, t.e / factor, t.f), zones.shape[1],
                      zones.shape[0])
    return scene_backscatter(zones, rng, terrain=dem)[None], zones, fine
