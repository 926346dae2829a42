"""``models.train_calving`` on a tiny network: a run resumed from its checkpoint starts exactly from it."""

import json

import numpy as np
import pytest

from serac.core.segmentation import load_model, predict_array

torch = pytest.importorskip("torch")

TINY = ["--train-scenes", "2", "--test-scenes", "1", "--size", "64", "--tile-size", "32", "--base-channels", "4",
        "--depth", "2", "--batch-size", "2", "--threads", "1", "--name", "tiny_calving", "--version", "0.0.1"]


def _train(tmp_path, *args):
    from serac.models.train_calving import main

    assert main([*TINY, "--shared-data", str(tmp_path / "none"), *args]) == 0


def test_resume_continues_a_run_from_its_checkpoint(tmp_path):
    first, again = tmp_path / "first.onnx", tmp_path / "again.onnx"
    checkpoint = tmp_path / "first.pt"
    _train(tmp_path, "--output", str(first), "--steps", "2", "--checkpoint", str(checkpoint))
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert saved["step"] == 2
    _train(tmp_path, "--output", str(again), "--steps", "0", "--resume", str(checkpoint), "--seed", "1")
    a, b = load_model(str(first), "onnxruntime"), load_model(str(again), "onnxruntime")
    assert b.metadata.training["resumed_from_step"] == 2 and b.metadata.training["base_model"] == "first.pt"
    assert b.metadata.normalization == a.metadata.normalization  # the run's own, not the new scenes'
    x = np.random.default_rng(0).normal(-12, 5, (1, 64, 64)).astype(np.float32)
    assert np.abs(predict_array(a, x) - predict_array(b, x)).max() < 1e-5
    log = json.loads((tmp_path / "again.training_log.json").read_text())
    assert log["config"]["init_model"] == str(checkpoint) and log["log"] == []


def test_resume_refuses_weights_of_another_network_size(tmp_path, capsys):
    checkpoint = tmp_path / "first.pt"
    _train(tmp_path, "--output", str(tmp_path / "first.onnx"), "--steps", "1", "--checkpoint", str(checkpoint))
    with pytest.raises(SystemExit):
        _train(tmp_path, "--output", str(tmp_path / "b.onnx"), "--steps", "0", "--resume", str(checkpoint),
               "--base-channels", "8")
    assert "--base-channels 8 and --depth 2" in capsys.readouterr().err
    assert not (tmp_path / "b.onnx").exists()
    with pytest.raises(SystemExit):
        _train(tmp_path, "--output", str(tmp_path / "c.onnx"), "--resume", str(tmp_path / "missing.pt"))
    torch.save({"weights": {}}, tmp_path / "other.pt")  # a .pt that no training run of this script saved
    with pytest.raises(SystemExit):
        _train(tmp_path, "--output", str(tmp_path / "d.onnx"), "--steps", "0", "--resume", str(tmp_path / "other.pt"))
    assert "is not a checkpoint that train_calving --checkpoint saved" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --export-checkpoint reads checkpoints the same way
        _train(tmp_path, "--output", str(tmp_path / "e.onnx"), "--checkpoint", str(tmp_path / "other.pt"),
               "--export-checkpoint")
    assert "--checkpoint " + str(tmp_path / "other.pt") + " is not a checkpoint" in capsys.readouterr().err


def test_scenes_without_sea_join_the_training_set_and_need_real_terrain(tmp_path, capsys, monkeypatch):
    """--land-fraction: that share of the training scenes has no sea (seeds from LAND_SEED_BASE), the metadata
    says so; without real terrain, or with shares above 1, it is a usage error and nothing is written."""
    import argparse

    from serac.models import train_calving as tc

    yy, xx = np.mgrid[:120, :120]
    terrain = ((yy * 5.0).astype(np.float32), (yy - 60) ** 2 + (xx - 60) ** 2 < 35 ** 2)
    a = argparse.Namespace(train_scenes=4, randomized_fraction=0.0, moderate_fraction=0.0, land_fraction=0.5,
                           seed=3, size=64, terrain_fraction=0.0)
    assert tc.scene_counts(a) == (2, 0, 0, 2)
    x, z = tc.training_scenes(a, [terrain])
    assert x.shape == (4, 1, 64, 64) and not (z[2:] == 1).any() and (z[:2] == 1).any()  # 1: ocean
    monkeypatch.setattr(tc, "load_terrains", lambda *args, **kw: [terrain])
    monkeypatch.setattr(tc, "held_out_metrics", lambda *args, **kw: {})  # Columbia is not in this folder
    (tmp_path / "terrain").mkdir()
    out = tmp_path / "land.onnx"
    assert tc.main([*TINY, "--shared-data", str(tmp_path / "terrain"), "--terrain-fraction", "0", "--test-scenes",
                    "1", "--land-fraction", "0.5", "--steps", "1", "--output", str(out)]) == 0
    assert "1 without sea (land-terminating glaciers on real terrain, seed 13000)" in \
        load_model(str(out), "onnxruntime").metadata.training["data"]
    with pytest.raises(SystemExit):
        _train(tmp_path, "--output", str(tmp_path / "b.onnx"), "--land-fraction", "0.5")
    assert "--land-fraction needs the real terrains" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _train(tmp_path, "--output", str(tmp_path / "c.onnx"), "--land-fraction", "0.6", "--randomized-fraction", "0.6")
    assert "between 0 and 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a negative share is refused even when the sum is below 1
        _train(tmp_path, "--output", str(tmp_path / "c.onnx"), "--land-fraction", "-0.2",
               "--randomized-fraction", "0.5")
    assert "between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "b.onnx").exists() and not (tmp_path / "c.onnx").exists()
