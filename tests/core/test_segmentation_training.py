"""Training, fine-tuning and dataset helpers (tiny networks, synthetic rasters)."""

import json

import numpy as np
import pytest

from serac.core.errors import InputError
from serac.core.segmentation import load_model, predict_array

from tests.core.test_segmentation_support import make_grid, tiny_model, write_image

torch = pytest.importorskip("torch")


def _box(grid, c0, c1, r0, r1):
    t = grid.transform
    pts = [t * (c0, r0), t * (c1, r0), t * (c1, r1), t * (c0, r1), t * (c0, r0)]
    return {"type": "Polygon", "coordinates": [[tuple(p) for p in pts]]}


def _config(tmp_path, **kw):
    from serac.models.train import TrainConfig

    src = tmp_path / "img.tif"
    _, grid = write_image(src, 120, 100)
    base = dict(rasters=[str(src)], labels=[_box(grid, 10, 70, 5, 60)], output=str(tmp_path / "m.onnx"),
                name="t", band_names=["red", "green", "blue"], holdout="right:0.3", gap_px=4, tile_size=32,
                inference_tile=32, inference_overlap=8, base_channels=4, depth=2, steps=3, batch_size=2,
                threads=1, device="cpu", log_every=1)
    base.update(kw)
    return TrainConfig(**base)


def test_training_writes_model_metadata_log_and_is_reproducible(tmp_path):
    from serac.models.train import train

    a = train(_config(tmp_path / "a"))
    b = train(_config(tmp_path / "b"))
    meta = load_model(a.onnx_path, "onnxruntime").metadata
    assert meta.name == "t" and meta.band_names == ["red", "green", "blue"] and meta.tile_size == 32
    assert meta.training["split"].startswith("spatial hold-out 'right:0.3'")
    assert set(a.metrics) >= {"held_out", "training_area", "baseline_brightness_threshold_held_out"}
    log = json.load(open(a.log_path))
    assert [e["step"] for e in log["log"]] == [1, 2, 3] and log["torch_onnx_max_abs_diff"] < 1e-3
    x = write_image(tmp_path / "probe.tif", 40, 40, seed=9)[0].astype(np.float32)
    pa = predict_array(load_model(a.onnx_path, "onnxruntime"), x)
    pb = predict_array(load_model(b.onnx_path, "onnxruntime"), x)
    np.testing.assert_allclose(pa, pb, atol=1e-6)  # same seed, same threads: same model


def test_fine_tuning_starts_exactly_from_the_base_model(tmp_path):
    """With zero steps, fine-tuning must reproduce the base model (BN folding/unfolding is exact)."""
    from serac.models.train import train

    result = train(_config(tmp_path, init_model=tiny_model(), steps=0, name="tuned"))
    tuned = load_model(result.onnx_path, "onnxruntime")
    base = load_model(tiny_model(), "onnxruntime")
    assert tuned.metadata.training["base_model"] == "tiny_test v0.0.1"
    assert tuned.metadata.normalization == base.metadata.normalization
    x = np.random.default_rng(0).uniform(0, 255, (3, 50, 60)).astype(np.float32)
    assert np.abs(predict_array(tuned, x) - predict_array(base, x)).max() < 1e-4


def test_fine_tuning_refuses_a_different_band_count(tmp_path):
    from serac.models.train import train

    cfg = _config(tmp_path, init_model=tiny_model())
    cfg.rasters = [(cfg.rasters[0], [1, 2])]
    with pytest.raises(InputError, match="takes 3 band"):
        train(cfg)


def test_fine_tuning_refuses_a_model_without_architecture(tmp_path):
    """The shipped calving ensembles (v3, v6, v8, v11) have no architecture to rebuild: a clear error, not a
    backend hint."""
    from serac.models import shipped_model_path
    from serac.models.train import train

    for name in ("calving_zones_synthetic_v3", "calving_zones_synthetic_v6", "calving_zones_synthetic_v8",
                 "calving_zones_synthetic_v11"):
        cfg = _config(tmp_path, init_model=shipped_model_path(name))
        with pytest.raises(InputError, match="cannot be fine-tuned.*names no network architecture"):
            train(cfg)


def test_holdout_split_and_tile_sampler():
    from serac.models.datasets import IGNORE, TileSampler, split_holdout

    train_mask, test_mask = split_holdout((100, 200), "left:0.25", gap_px=10)
    assert test_mask[:, :50].all() and not test_mask[:, 50:].any()
    assert not train_mask[:, :60].any() and train_mask[:, 60:].all()
    with pytest.raises(InputError):
        split_holdout((10, 10), "middle:0.5")
    x = np.arange(100 * 200, dtype=np.float32).reshape(1, 100, 200)
    labels = np.zeros((100, 200), np.uint8)
    labels[:, :40] = IGNORE
    sampler = TileSampler(x, labels, train_mask, 32, np.random.default_rng(0))
    assert (sampler.origins[:, 2] >= 60).all()  # tiles never reach the held-out block or the gap
    xb, yb = sampler.sample(5)
    assert xb.shape == (5, 1, 32, 32) and yb.shape == (5, 32, 32)
    assert xb.min() >= 60  # pixel values carry their column: only columns >= 60 were used


def test_labels_from_vector_file_and_raster(tmp_path, shared_data):
    from serac.core.raster_io import read_grid
    from serac.models.datasets import load_labels

    scene = shared_data / "optical" / "everest_landsat"
    grid = read_grid(scene / "LE71400412000304SGS00_RGB.tif")
    from_vector = load_labels(str(scene / "15_rgi60_glacier_outlines.gpkg"), grid)
    from_raster = load_labels(str(shared_data / "outlines" / "masks" / "everest_LE71400412000304_rgi60_mask.tif"),
                              grid)
    assert (from_vector == from_raster).mean() > 0.999
    with pytest.raises(InputError, match="do not cover"):
        load_labels([_box(make_grid(10, 10, x0=0, y0=0), 0, 5, 0, 5)], grid)


def test_flooded_real_terrain_scenes_have_a_calving_front(shared_data):
    from serac.core.segmentation.fronts import front_mask
    from serac.models.calving_scenes import (GLACIER, OCEAN, ROCK, TERRAIN_SOURCES, flooded_zones, load_terrains,
                                             terrain_scene)

    assert not any("columbia" in p.lower() for pair in TERRAIN_SOURCES.values() for p in pair)  # the test geometry
    dem, glacier = load_terrains(str(shared_data), 50.0, names=["coxe"])[0]
    assert glacier.any() and np.isfinite(dem).all()
    rng = np.random.default_rng(3)
    zones = flooded_zones(dem, glacier, rng)
    assert set(np.unique(zones)) == {GLACIER, OCEAN, ROCK}
    assert not ((zones == GLACIER) & ~glacier).any()  # the sea only takes glacier away, never adds it
    assert front_mask(zones, GLACIER, OCEAN, 50.0, min_length_m=0).any()
    db, z = terrain_scene((dem, glacier), rng, size=128)
    assert db.shape == (1, 128, 128) and z.shape == (128, 128) and np.isfinite(db).all()
    share = np.bincount(z.ravel(), minlength=3) / z.size
    assert share[GLACIER] >= 0.05 and 0.03 <= share[OCEAN] <= 0.5
