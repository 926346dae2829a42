"""Training is deterministic on the CPU (bit-identical weights), and the two-scene glacier data set holds out
the same ground on both scenes."""

import numpy as np
import pytest

from tests.core.test_segmentation_support import write_image
from tests.core.test_segmentation_training import _box

torch = pytest.importorskip("torch")


def _short_training(tmp_path, seed=0):
    from serac.models.train import TrainConfig, train

    src = tmp_path / "img.tif"
    _, grid = write_image(src, 96, 80)
    config = TrainConfig(rasters=[str(src)], labels=[_box(grid, 10, 60, 5, 50)], output=str(tmp_path / "m.onnx"),
                         name="det", holdout="right:0.3", gap_px=4, tile_size=32, inference_tile=32,
                         inference_overlap=8, base_channels=4, depth=2, steps=4, batch_size=2, jitter=0.05,
                         seed=seed, threads=1, device="cpu", log_every=1)
    return train(config).onnx_path


def _weights(path):
    from serac.core.segmentation.runtime import onnx_state_dict

    return onnx_state_dict(path)


def test_two_short_trainings_give_bit_identical_weights(tmp_path):
    a = _weights(_short_training(tmp_path / "a"))
    b = _weights(_short_training(tmp_path / "b"))
    c = _weights(_short_training(tmp_path / "c", seed=1))
    assert a.keys() == b.keys() and len(a) > 4
    for k in a:
        assert np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes(), k  # bit for bit, not approximately
    assert any(np.asarray(a[k]).tobytes() != np.asarray(c[k]).tobytes() for k in a)  # the seed does matter


def test_training_restores_torch_settings(tmp_path):
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    _short_training(tmp_path)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_two_scene_glacier_data_holds_out_the_same_ground(shared_data):
    from serac.models.glacier_rgb_scenes import GAP_M, HOLDOUT_X_M, load_scenes

    landsat, s2 = load_scenes()
    assert landsat.image.shape == (3, 655, 800) and s2.image.shape == (3, 331, 609)
    assert s2.grid.res == (30.0, 30.0)
    for s in (landsat, s2):
        x = s.grid.xy(np.zeros(s.grid.width), np.arange(s.grid.width))[0]
        assert (x[s.test[0]] < HOLDOUT_X_M).all() and (x[s.train[0]] >= HOLDOUT_X_M + GAP_M).all()
        assert not (s.train & s.test).any() and (s.fit | s.report).sum() == s.test.sum()
        assert not (s.fit & s.report).any()
        valid = np.isfinite(s.image[0])
        assert np.nanmin(s.image) >= 1 and np.nanmax(s.image) <= 255 and valid.mean() > 0.9
        assert 0.2 < (s.labels[s.test & valid] == 1).mean() < 0.8  # glacier and background in every block
    assert (landsat.test[0] == (np.arange(800) < 200)).all()  # the block the v1 model never saw
