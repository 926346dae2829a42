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
