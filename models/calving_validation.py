"""A calving-front model over many simulated draws: per-draw front error, pooled statistics, failures.

One simulated scene says little about a front model: eight re-simulations of Columbia Glacier's
geometry gave the first model an MDE from 55 m to 3.3 km. Here every *geometry* the simulator has
(:mod:`serac.models.calving_scenes`) is drawn many times with fresh random backscatter (and, for the
procedural and real-terrain geometries, fresh fjords, sea levels and crops):

* ``columbia``: Columbia Glacier's real outline and DEM (never used in training);
* ``procedural``: a fractal fjord with fractal rock relief;
* one per real-terrain source (``coxe``, ``greenland``, ...): flooded real DEMs and glacier masks. These
  regions are *also* used in training (other random crops and sea levels): not spatially independent.

Each draw is written as a GeoTIFF and run through the plugin's own calving-front job
(``segmentation_calving_front``: tiled inference, zone map, CaFFe post-processing, front lines); the
lines are compared with the reference front (glacier-ocean boundary of the simulated zones) on the
scene grid, both rasterised (every touched pixel), as :func:`serac.core.segmentation.metrics.compare_fronts`
does. Per draw: the CaFFe mean distance error (m), the share of the reference front found within
:data:`TOLERANCE_M` of a predicted front, the share of the predicted front within that distance of the
reference, and a status:

* ``no_front``: the job drew no front; no distance exists, the draw is a failure and is left out of the MDE;
* ``partial``: less than :data:`FOUND_FRACTION` of the reference front was found (a failure; its distances
  still count in the MDE);
* ``off_front``: most of the front was found, but most of what was drawn lies farther than the tolerance
  (spurious fronts; not a failure, its distances inflate the MDE);
* ``ok``.

Draw seeds are :data:`DRAW_SEED_BASE` + 1000 x geometry index + draw number: never a training,
test or calibration seed of the shipped models (1000-1014, 2000, 3000, 4000, 7; the training scenes without sea
from :data:`serac.models.train_calving.LAND_SEED_BASE`, 13000 and up) or of the v2 attempts
(:data:`serac.models.train_calving.RANDOMIZED_SEED_BASE` and ``MODERATE_SEED_BASE`` ranges, 11000-12001).

Every draw above has a sea. *Scenes without sea* (``no_sea``: land-terminating glaciers on the real terrains,
:func:`no_sea_draw`, seeds from :data:`NO_SEA_SEED_BASE`) are scored apart: any front drawn there is a false
front (:func:`score_no_sea`); they enter neither the MDE nor the failures above.
"""

import os
import tempfile

import numpy as np

from ..core.segmentation.metrics import front_distances, mean_distance_error
from .calving_scenes import GLACIER, OCEAN, TERRAIN_SOURCES, columbia_scene, land_scene, load_terrains, \
    synthetic_calving_scene, terrain_scene

GEOMETRIES = ("columbia", "procedural", *TERRAIN_SOURCES)
#: geometries never used in training (the others' regions are, with other crops and sea levels)
HELD_OUT = ("columbia", "procedural")
DRAW_SEED_BASE = 50_000
#: a reference front pixel is "found" when a predicted front pixel lies within this distance (m)
TOLERANCE_M = 500.0
#: a draw is a failure ("partial") when less than this share of its reference front is found
FOUND_FRACTION = 0.5
PIXEL_SIZE_M = 50.0
SCENE_SIZE_PX = 256
FAILURES = ("no_front", "partial")
#: draws per geometry of the cheaper screening subset used to compare candidate models before the full run
#: (the first 8 Columbia draws and the first 12 of every other geometry: 80 draws, the same seeds as the full run)
SCREENING = {g: 8 if g == "columbia" else 12 for g in GEOMETRIES}
#: scenes WITHOUT sea (land-terminating glaciers on the real terrains, :func:`serac.models.calving_scenes.land_scene`),
#: scored apart from the draws above: a front drawn there is a false front. Draw ``k`` uses the ``k`` mod 5-th terrain
#: of :data:`TERRAIN_SOURCES` and the seed ``NO_SEA_SEED_BASE + k`` (disjoint from the draws above and from training).
NO_SEA_SEED_BASE = 58_000
NO_SEA_DRAWS = 30
#: scenes without sea in the screening subset (the first of the full run's)
SCREENING_NO_SEA = 10


def draw_seed(geometry, k):
    """Seed of draw ``k`` (0, 1, ...) of ``geometry``."""
    return DRAW_SEED_BASE + 1000 * GEOMETRIES.index(geometry) + int(k)


def scene_grid(shape, pixel_size_m=PIXEL_SIZE_M):
    """A north-up UTM grid (zone 6N, Alaska) of ``shape`` (rows, cols) at ``pixel_size_m`` for simulated scenes."""
    from affine import Affine
    from rasterio.crs import CRS

    from ..core.raster_io import RasterGrid

    return RasterGrid(CRS.from_epsg(32606), Affine(pixel_size_m, 0, 500000.0, 0, -pixel_size_m, 6800000.0),
                      int(shape[1]), int(shape[0]))


def load_geometry_terrains(shared_data, pixel_size_m=PIXEL_SIZE_M):
    """{name: (dem, glacier mask)} of the real-terrain sources found in ``shared_data``."""
    out = {}
    for name in TERRAIN_SOURCES:
        loaded = load_terrains(shared_data, pixel_size_m, names=[name])
        if loaded:
            out[name] = loaded[0]
    return out


def simulated_draw(geometry, seed, shared_data=None, terrains=None, size=SCENE_SIZE_PX, pixel_size_m=PIXEL_SIZE_M):
    """(sigma0 dB (1, rows, cols) float32, zones (rows, cols) uint8, grid) of one draw of ``geometry``.

    ``columbia`` needs ``shared_data``; a real-terrain geometry its entry of ``terrains``
    (:func:`load_geometry_terrains`); ``procedural`` needs neither (fractal rock relief).
    """
    rng = np.random.default_rng(seed)
    if geometry == "columbia":
        db, zones, grid = columbia_scene(shared_data, rng, pixel_size_m)
        return db.astype(np.float32), zones, grid
    if geometry == "procedural":
        db, zones = synthetic_calving_scene(rng, size)
    else:
        db, zones = terrain_scene(terrains[geometry], rng, size)
    return db.astype(np.float32), zones, scene_grid(zones.shape, pixel_size_m)


def no_sea_draw(k, terrains):
    """(terrain name, seed, (sigma0 dB (1, rows, cols) float32, zones without ocean, grid)) of scene ``k`` without
    sea (see :data:`NO_SEA_SEED_BASE`); ``terrains``: :func:`load_geometry_terrains`."""
    names = [n for n in TERRAIN_SOURCES if n in terrains]
    name, seed = names[int(k) % len(names)], NO_SEA_SEED_BASE + int(k)
    db, zones = land_scene(terrains[name], np.random.default_rng(seed), SCENE_SIZE_PX)
    return name, seed, (db.astype(np.float32), zones, scene_grid(zones.shape))


def reference_front_lines(zones, grid, pixel_size_m=PIXEL_SIZE_M):
    """The true front of simulated ``zones``: glacier-ocean boundary, no clean-up, no length filter."""
    from ..core.segmentation.fronts import front_features

    return front_features(zones, grid, GLACIER, OCEAN, pixel_size_m, min_length_m=0, clean=False)[0]


def job_front_lines(db, grid, model_path, settings=None, workdir=None):
    """Front line features of the calving-front job run on ``db`` (written as a GeoTIFF on ``grid``)."""
    return _run_job(db, grid, model_path, settings, workdir)[0].features["output_fronts"][0]


def job_probabilities(db, grid, model_path, settings=None, workdir=None):
    """Zone probabilities (classes, rows, cols) float32 that the calving-front job writes for ``db``."""
    return _run_job(db, grid, model_path, settings, workdir, probabilities=True)[1]


def _run_job(db, grid, model_path, settings, workdir, probabilities=False):
    from ..core.jobs import run_job
    from ..core.raster_io import read_raster, write_raster

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = os.path.join(tmp, "sigma0_db.tif")
        write_raster(path, db, grid, band_names=["sigma0_db"], cog=False)
        outputs = {"output_probability": os.path.join(tmp, "p.tif"), "output_zones": os.path.join(tmp, "z.tif"),
                   "output_uncertainty": os.path.join(tmp, "u.tif")}  # written only with settings["uncertainty"]
        result = run_job("segmentation_calving_front", {"input": path, "model": os.fspath(model_path)}, outputs,
                         dict(settings or {}), threads=1)
        p = read_raster(outputs["output_probability"]).data.astype(np.float32) if probabilities else None
    return result, p


class StoredProbabilities:
    """One model's zone probabilities on the validation draws, computed through the job once and stored.

    Files: ``cache_dir/<model stem>-<key>/<geometry>_<seed>.npy`` (float32, classes x rows x cols), ``key`` a
    hash of the model file's bytes and the inference settings among ``settings`` (backend, overlap,
    uncertainty, ...): a retrained file or other tiling never reuses stale probabilities. The post-processing
    settings do not enter the key: they are applied afterwards (:func:`stored_front_lines`).
    """

    def __init__(self, model_path, cache_dir, settings=None):
        import dataclasses
        import hashlib
        import json

        from ..core.jobs.segmentation import InferenceSettings
        from ..core.segmentation.runtime import read_metadata

        inference = {f.name for f in dataclasses.fields(InferenceSettings)}
        self.model_path = os.fspath(model_path)
        self.settings = {k: v for k, v in (settings or {}).items() if k in inference}
        self.metadata = read_metadata(self.model_path)
        digest = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode())
        with open(self.model_path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        stem = os.path.splitext(os.path.basename(self.model_path))[0]
        self.folder = os.path.join(os.fspath(cache_dir), f"{stem}-{digest.hexdigest()[:12]}")

    def __call__(self, geometry, seed, db, grid):
        """Probabilities of draw ``seed`` of ``geometry`` (``db``, ``grid``: the simulated draw)."""
        path = os.path.join(self.folder, f"{geometry}_{seed}.npy")
        if os.path.exists(path):
            return np.load(path)
        p = job_probabilities(db, grid, self.model_path, self.settings)
        os.makedirs(self.folder, exist_ok=True)
        partial = path + ".partial.npy"  # a stopped run leaves no truncated file under the final name
        np.save(partial, p)
        os.replace(partial, path)
        return p


def stored_front_lines(members, weights, geometry, seed, db, grid, settings=None):
    """Front line features of the ``weights``-weighted mean of the ``members``' stored probabilities
    (:class:`StoredProbabilities`), classified and post-processed as the calving-front job does
    (:func:`serac.core.segmentation.inference.classify`, :func:`serac.core.jobs.segmentation.calving_front_lines`
    with ``settings``): what the job gives for an ensemble file of those members and weights
    (:mod:`serac.models.calving_ensemble`), without running one."""
    from ..core.jobs.segmentation import CalvingFrontSettings, calving_front_lines
    from ..core.segmentation.inference import classify

    meta = members[0].metadata
    mean = sum(w * m(geometry, seed, db, grid) for m, w in zip(members, weights)) / float(sum(weights))
    return calving_front_lines(classify(mean, meta), grid, meta.class_index(meta.front[0]),
                               meta.class_index(meta.front[1]), CalvingFrontSettings.from_dict(settings or {}),
                               meta.name)[0]


def true_zone_front_lines(zones, grid, settings=None):
    """Front line features of the job's post-processing (``settings`` of the calving-front job: clean-up,
    ``edge_km2``, ``bridge_m``, ``min_length_m``) run on the TRUE ``zones``: what a perfect zone map would
    give, so the failures the post-processing makes by itself."""
    from ..core.jobs.segmentation import CalvingFrontSettings, calving_front_lines

    return calving_front_lines(zones, grid, GLACIER, OCEAN, CalvingFrontSettings.from_dict(settings or {}))[0]


def front_pixels(lines, grid):
    """Pixels of ``grid`` touched by line features (bool)."""
    from ..core.raster_io import rasterize_geometries

    return rasterize_geometries([f["geometry"] for f in lines], grid, all_touched=True).astype(bool)


def score_draw(predicted, reference, pixel_size_m=PIXEL_SIZE_M, tolerance_m=TOLERANCE_M):
    """Scores of one draw from its predicted and reference front pixel masks (see the module docstring).

    Returns a dict: status, mde_m (None when no front was drawn), found_fraction, on_front_fraction,
    predicted_px, reference_px.
    """
    predicted, reference = np.asarray(predicted, bool), np.asarray(reference, bool)
    out = {"predicted_px": int(predicted.sum()), "reference_px": int(reference.sum())}
    if not reference.any():
        return dict(out, status="no_reference", mde_m=None, found_fraction=None, on_front_fraction=None)
    if not predicted.any():
        return dict(out, status="no_front", mde_m=None, found_fraction=0.0, on_front_fraction=None)
    to_ref, to_pred = front_distances(predicted, reference, pixel_size_m)
    found = float(np.mean(to_pred <= tolerance_m))
    on_front = float(np.mean(to_ref <= tolerance_m))
    status = "partial" if found < FOUND_FRACTION else "off_front" if on_front < FOUND_FRACTION else "ok"
    mde = mean_distance_error([(predicted, reference, pixel_size_m)]).mde_m
    return dict(out, status=status, mde_m=round(mde, 2), found_fraction=round(found, 4),
                on_front_fraction=round(on_front, 4))


def score_no_sea(predicted, pixel_size_m=PIXEL_SIZE_M):
    """Score of a scene without sea from its predicted front pixel mask: status ``false_front`` when anything was
    drawn (a failure of its own kind, apart from the draws with a sea), else ``none``; ``false_front_m``: the
    drawn front's length, about its pixel count x pixel size (m)."""
    n = int(np.count_nonzero(predicted))
    return {"predicted_px": n, "status": "false_front" if n else "none", "false_front_m": n * pixel_size_m}


def summarize_no_sea(draws):
    """Share of the scenes without sea (dicts of :func:`score_no_sea`) given a false front, and its length."""
    n = sum(d["status"] == "false_front" for d in draws)
    return {"n_draws": len(draws), "n_false_front": n, "false_front_rate": round(n / len(draws), 3) if draws else None,
            "false_front_km": round(sum(d["false_front_m"] for d in draws) / 1000.0, 2)}


def summarize(draws):
    """Pooled statistics of draws (dicts of :func:`score_draw`).

    pooled_mde_m: CaFFe MDE over every distance of every draw with a front (no-front draws are left out
    and counted): the per-draw MDEs weighted by their number of distances (predicted + reference front
    pixels); median_m / p90_m / max_m: of the per-draw MDEs; failures: no_front + partial.
    """
    scored = [d for d in draws if d["mde_m"] is not None]
    per_draw = np.array([d["mde_m"] for d in scored], float)
    weights = np.array([d["predicted_px"] + d["reference_px"] for d in scored], float)
    counts = {s: sum(d["status"] == s for d in draws) for s in ("ok", "off_front", "partial", "no_front",
                                                                 "no_reference")}
    n_failures = sum(counts[s] for s in FAILURES)
    stat = (lambda f: round(float(f(per_draw)), 1)) if per_draw.size else (lambda f: None)
    return {"n_draws": len(draws),
            "pooled_mde_m": round(float(per_draw @ weights / weights.sum()), 1) if per_draw.size else None,
            "median_m": stat(np.median), "p90_m": stat(lambda v: np.percentile(v, 90)),
            "max_m": stat(np.max), "min_m": stat(np.min),
            "n_failures": n_failures, "failure_rate": round(n_failures / len(draws), 3) if draws else None,
            **{f"n_{s}": n for s, n in counts.items()}}


def subset(result, counts):
    """A :func:`validate` result cut to the first ``counts[geometry]`` draws of each geometry and the first
    :data:`SCREENING_NO_SEA` scenes without sea, re-summarised (e.g. the full run's figures on the
    :data:`SCREENING` subset)."""
    report = {g: {"summary": summarize(r["draws"][:counts[g]]), "draws": r["draws"][:counts[g]]}
              for g, r in result["geometries"].items() if g in counts}
    out = _pooled(report)
    if result.get("without_sea"):
        cut = result["without_sea"]["draws"][:SCREENING_NO_SEA]
        out["without_sea"] = {"summary": summarize_no_sea(cut), "draws": cut}
    return out


def _pooled(report):
    everything = [d for r in report.values() for d in r["draws"]]
    held = [d for g, r in report.items() if g in HELD_OUT for d in r["draws"]]
    return {"geometries": report, "held_out": summarize(held) if held else None,
            "all": summarize(everything) if everything else None}


def validate(model_path, geometries=GEOMETRIES, n_draws=30, shared_data=None, settings=None, progress=None,
             no_sea=0):
    """Every draw of ``geometries`` through the calving-front job with ``model_path`` (None: the job's
    post-processing on the true zones, :func:`true_zone_front_lines`).

    ``n_draws``: draws per geometry, or a {geometry: draws} dict (e.g. :data:`SCREENING`); ``no_sea``: scenes
    without sea (:func:`no_sea_draw`, needs ``shared_data``) scored apart (:func:`score_no_sea`).

    Returns {"geometries": {name: {"summary": ..., "draws": [...]}}, "held_out" and "all": pooled summaries of
    the draws with a sea, and with ``no_sea`` "without_sea": {"summary": ..., "draws": [...]}}.
    """
    def lines(geometry, seed, db, zones, grid):
        return (true_zone_front_lines(zones, grid, settings) if model_path is None
                else job_front_lines(db, grid, model_path, settings))

    return _score_draws(lines, geometries, n_draws, shared_data, progress, no_sea)


def validate_stored(members, weights, cache_dir, geometries=GEOMETRIES, n_draws=30, shared_data=None, settings=None,
                    progress=None, no_sea=0):
    """:func:`validate` for the weighted mean of several models (an ensemble not yet built, or one model) from
    probabilities stored under ``cache_dir`` (:class:`StoredProbabilities`; computed through the job on the
    first call): the same figures as the job with an ensemble file of those members and weights, at the cost
    of the post-processing alone once the probabilities are stored. The screening of candidates uses it."""
    if len(members) != len(weights) or not members or min(weights) <= 0:
        raise ValueError("one positive weight per member model is needed")
    stored = [StoredProbabilities(m, cache_dir, settings) for m in members]
    first = stored[0].metadata
    for s in stored[1:]:
        if list(s.metadata.classes) != list(first.classes) or list(s.metadata.front) != list(first.front):
            raise ValueError(f"{s.model_path} has other classes or front classes than {stored[0].model_path}; "
                             "only models of the same zones can be averaged")

    def lines(geometry, seed, db, zones, grid):
        return stored_front_lines(stored, weights, geometry, seed, db, grid, settings)

    return _score_draws(lines, geometries, n_draws, shared_data, progress, no_sea)


def _score_draws(lines_of, geometries, n_draws, shared_data, progress, no_sea=0):
    """The draws of ``geometries``, each scored against its reference front, and ``no_sea`` scenes without sea;
    ``lines_of(geometry, seed, db, zones, grid)`` gives the predicted front line features (``geometry``
    ``land_<terrain>`` for a scene without sea)."""
    import time

    wants_terrain = set(geometries) - set(HELD_OUT) or no_sea
    terrains = load_geometry_terrains(shared_data) if shared_data and wants_terrain else {}
    report = {}
    for geometry in geometries:
        if geometry in TERRAIN_SOURCES and geometry not in terrains or geometry == "columbia" and not shared_data:
            continue
        draws = []
        for k in range(n_draws[geometry] if isinstance(n_draws, dict) else n_draws):
            seed = draw_seed(geometry, k)
            t = time.perf_counter()
            db, zones, grid = simulated_draw(geometry, seed, shared_data, terrains)
            reference = front_pixels(reference_front_lines(zones, grid), grid)
            predicted = front_pixels(lines_of(geometry, seed, db, zones, grid), grid)
            d = dict(score_draw(predicted, reference, PIXEL_SIZE_M), seed=seed,
                     seconds=round(time.perf_counter() - t, 2))
            draws.append(d)
            if progress:
                progress(f"{geometry} draw {k} (seed {seed}): {d['status']}, MDE {d['mde_m']} m, "
                         f"found {d['found_fraction']}")
        report[geometry] = {"summary": summarize(draws), "draws": draws}
    result = _pooled(report)
    if no_sea and terrains:
        draws = []
        for k in range(no_sea):
            t = time.perf_counter()
            name, seed, (db, zones, grid) = no_sea_draw(k, terrains)
            d = dict(score_no_sea(front_pixels(lines_of(f"land_{name}", seed, db, zones, grid), grid)),
                     terrain=name, seed=seed, seconds=round(time.perf_counter() - t, 2))
            draws.append(d)
            if progress:
                progress(f"without sea {k} ({name}, seed {seed}): {d['status']}, {d['false_front_m']:g} m drawn")
        result["without_sea"] = {"summary": summarize_no_sea(draws), "draws": draws}
    return result
