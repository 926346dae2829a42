"""Batched ZNCC correlator and sub-pixel estimators (numpy backend)."""

import numpy as np
import pytest

from serac.core.errors import InputError
from serac.core.velocity.backends import NumpyOps
from serac.core.velocity.correlation import box_sum, box_variance, correlate
from serac.core.velocity.synthetic import fourier_shift, random_texture

CHIP, SEARCH = 32, 8
WIN = CHIP + 2 * SEARCH


def stacks(reference, secondary, centres, chip=CHIP, search=SEARCH):
    """Chips of ``reference`` and search windows of ``secondary`` around (row, col) centres."""
    half = chip // 2
    chips = np.stack([reference[r - half:r + half, c - half:c + half] for r, c in centres])
    wins = np.stack([secondary[r - half - search:r + half + search, c - half - search:c + half + search]
                     for r, c in centres])
    return chips.astype(np.float32), wins.astype(np.float32)


def grid_centres(shape, margin=40, step=24):
    return [(r, c) for r in range(margin, shape[0] - margin, step) for c in range(margin, shape[1] - margin, step)]


def test_box_sums_and_variance_match_brute_force():
    x = np.random.default_rng(1).normal(size=(2, 30, 40)) * 5 + 100
    k = 7
    brute = np.array([[[x[ch, i:i + k, j:j + k].sum() for j in range(40 - k + 1)] for i in range(30 - k + 1)]
                      for ch in range(2)])
    np.testing.assert_allclose(box_sum(x, k), brute, rtol=1e-12)
    var = np.array([[[((x[ch, i:i + k, j:j + k] - x[ch, i:i + k, j:j + k].mean()) ** 2).sum()
                      for j in range(40 - k + 1)] for i in range(30 - k + 1)] for ch in range(2)])
    np.testing.assert_allclose(box_variance(x, k), var, rtol=1e-4)


def test_integer_shift_is_found_exactly_with_ncc_one():
    ref = random_texture((200, 200), seed=2) * 30 + 500  # large mean: ZNCC must not care
    sec = np.roll(ref, (3, -5), axis=(0, 1)) * 0.5 + 7  # gain and offset change
    chips, wins = stacks(ref, sec, grid_centres(ref.shape))
    peaks = correlate(NumpyOps(), chips, wins, subpixel="none")
    np.testing.assert_array_equal(peaks.row - SEARCH, 3)
    np.testing.assert_array_equal(peaks.col - SEARCH, -5)
    np.testing.assert_allclose(peaks.ncc, 1.0, atol=1e-4)
    assert not peaks.on_edge.any() and not peaks.flat.any()
    assert (peaks.ratio > 1.5).all()


@pytest.mark.parametrize("shift", [(0.25, -0.4), (0.5, 0.1), (-0.8, 1.7)])
def test_dft_refinement_is_accurate_and_beats_the_parabola(shift):
    ref = random_texture((256, 256), sigma=1.2, seed=3)
    sec = fourier_shift(ref, *shift)
    chips, wins = stacks(ref, sec, grid_centres(ref.shape))
    errors = {}
    for method in ("dft", "parabolic"):
        p = correlate(NumpyOps(), chips, wins, subpixel=method)
        err = np.hypot(p.row - SEARCH - shift[0], p.col - SEARCH - shift[1])
        errors[method] = np.median(err)
    assert errors["dft"] < 0.01
    assert errors["parabolic"] > 2 * errors["dft"]


def test_no_pixel_locking_across_a_pixel():
    ref = random_texture((160, 160), sigma=1.2, seed=4)
    centres = grid_centres(ref.shape)
    fractions = np.arange(0.0, 1.0001, 0.125)
    bias = []
    for f in fractions:
        chips, wins = stacks(ref, fourier_shift(ref, f, 0.0), centres)
        p = correlate(NumpyOps(), chips, wins)
        bias.append(np.median(p.row - SEARCH) - f)
    assert np.max(np.abs(bias)) < 0.01


def test_peak_ratio_is_low_for_repetitive_texture_and_flat_chips_are_flagged():
    rows, cols = np.mgrid[0:120, 0:120]
    stripes = np.sin(2 * np.pi * cols / 6.0) + 0.01 * random_texture((120, 120), seed=5)
    chips, wins = stacks(stripes, stripes, [(60, 60)])
    p = correlate(NumpyOps(), chips, wins)
    assert p.ratio[0] < 1.1  # period 6 px: equally good matches 6 px apart
    flat = np.full((120, 120), 3.0)
    chips, wins = stacks(flat, random_texture((120, 120), seed=6), [(60, 60)])
    assert correlate(NumpyOps(), chips, wins).flat[0]


def test_match_beyond_search_range_is_flagged_on_edge():
    ref = random_texture((200, 200), sigma=4.0, seed=7)  # broad correlation peak
    sec = np.roll(ref, (SEARCH + 2, 0), axis=(0, 1))
    chips, wins = stacks(ref, sec, grid_centres(ref.shape))
    p = correlate(NumpyOps(), chips, wins)
    assert p.on_edge.mean() > 0.8
    assert (p.row[p.on_edge] == 2 * SEARCH).mean() > 0.8  # stuck at the far row of the search range


def test_two_channel_input_correlates_like_one_vector_image():
    ref = random_texture((160, 160), seed=8)
    sec = fourier_shift(ref, 0.3, -1.2)
    centres = grid_centres(ref.shape)
    chips, wins = stacks(ref, sec, centres)
    p = correlate(NumpyOps(), np.stack([chips, chips], 1), np.stack([wins, wins], 1))
    np.testing.assert_allclose(p.row - SEARCH, 0.3, atol=0.02)
    np.testing.assert_allclose(p.col - SEARCH, -1.2, atol=0.02)


def test_unknown_subpixel_method_is_refused():
    chips, wins = stacks(random_texture((100, 100)), random_texture((100, 100)), [(50, 50)])
    with pytest.raises(InputError, match="sub-pixel"):
        correlate(NumpyOps(), chips, wins, subpixel="magic")
