"""Tile grid and blending weights."""

import numpy as np
import pytest
from rasterio.windows import Window

from serac.core.segmentation.tiling import (TileGrid, accumulate, axis_starts, blend_weights, bounding_window,
                                            extract_tile)


@pytest.mark.parametrize("length, tile, stride", [(100, 32, 24), (32, 32, 24), (20, 32, 24), (1000, 256, 224)])
def test_axis_starts_cover_the_axis_without_leaving_it(length, tile, stride):
    starts = axis_starts(length, tile, stride)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s:s + tile] = True
        assert s >= 0 and (s + tile <= length or length < tile)
    assert covered.all()
    assert all(b - a <= stride for a, b in zip(starts, starts[1:]))


def test_cosine_weights_are_a_partition_of_unity_between_neighbours():
    tile, overlap = 64, 16
    w = blend_weights(tile, overlap, "cosine", floor=0)[tile // 2]  # one row through the middle
    stride = tile - overlap
    total = np.zeros(stride + tile)
    total[:tile] += w
    total[stride:] += w
    np.testing.assert_allclose(total[overlap:tile], 1.0, atol=1e-6)  # the overlap zone and beyond
    assert w.min() > 0 and w.max() == pytest.approx(1.0)


def test_linear_and_none_weights():
    assert np.all(blend_weights(32, 0) == 1)
    assert np.all(blend_weights(32, 8, "none") == 1)
    lin = blend_weights(32, 8, "linear")
    assert lin[16, 0] < lin[16, 4] < lin[16, 8] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        blend_weights(32, 8, "gaussian")


def test_tiles_in_window_and_bounding_window():
    grid = TileGrid((100, 130), 32, 8)
    assert len(grid) == len(grid.row_starts) * len(grid.col_starts)
    tiles = grid.tiles_in(Window(30, 40, 20, 10))
    assert tiles and all(t.row < 50 and t.row + 32 > 40 and t.col < 50 and t.col + 32 > 30 for t in tiles)
    win = bounding_window(tiles, grid.shape)
    assert win.col_off <= 30 and win.row_off <= 40 and win.col_off + win.width >= 50
    with pytest.raises(ValueError):
        TileGrid((10, 10), 32, 16)


def test_blending_a_per_pixel_prediction_reproduces_it_exactly():
    """Any tiling of a prediction that depends only on the pixel must give back that prediction."""
    rng = np.random.default_rng(1)
    scene = rng.normal(size=(1, 70, 90)).astype(np.float32)
    grid = TileGrid(scene.shape[1:], 32, 8)
    weights = blend_weights(32, 8)
    window = Window(0, 0, 90, 70)
    acc = np.zeros((1, 70, 90), np.float32)
    wsum = np.zeros((70, 90), np.float32)
    for t in grid:
        tile = extract_tile(scene, t, (0, 0), 0.0)
        accumulate(acc, wsum, np.tanh(tile), weights, t, window)
    np.testing.assert_allclose(acc / wsum, np.tanh(scene), atol=1e-5)


def test_extract_tile_pads_a_scene_smaller_than_the_tile():
    scene = np.ones((2, 10, 12), np.float32)
    grid = TileGrid((10, 12), 32, 8)
    (t,) = list(grid)
    tile = extract_tile(scene, t, (0, 0), -5.0)
    assert tile.shape == (2, 32, 32)
    assert np.all(tile[:, :10, :12] == 1) and np.all(tile[:, 10:, :] == -5)
