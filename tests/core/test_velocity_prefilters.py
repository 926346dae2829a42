"""Prefilters: NaN handling, output properties, and tile-independence through the halo."""

import numpy as np
import pytest

from serac.core.errors import InputError
from serac.core.velocity.prefilters import Prefilter, as_channels, highpass, orientation, wallis
from serac.core.velocity.synthetic import random_texture


def test_wallis_standardizes_local_contrast():
    img = random_texture((120, 120), seed=1)
    img[:, 60:] *= 20.0  # right half: 20 times the contrast
    out = wallis(img + 300.0, size=9)
    left, right = out[10:-10, 10:50].std(), out[10:-10, 70:-10].std()
    assert 0.5 < left / right < 2.0
    assert abs(np.mean(out[10:-10, 10:-10])) < 0.1


def test_highpass_removes_a_brightness_ramp():
    rows = np.mgrid[0:100, 0:100][0]
    img = random_texture((100, 100), seed=2) + 0.5 * rows
    out = highpass(img, 3.0)
    slope = np.polyfit(np.arange(60), out[20:80, 20:80].mean(axis=1), 1)[0]
    assert abs(slope) < 0.01


def test_orientation_images_have_unit_magnitude_and_nan_at_nodata():
    img = random_texture((60, 60), seed=3)
    img[20:25, 20:25] = np.nan
    out = orientation(img)
    assert out.dtype == np.complex64
    finite = np.isfinite(out.real)
    np.testing.assert_allclose(np.abs(out[finite]), 1.0, atol=1e-5)
    assert not finite[19:26, 19:26].any()  # nodata and the gradients touching it


@pytest.mark.parametrize("name", ["none", "wallis", "highpass", "orientation"])
def test_nan_stays_nan_and_valid_pixels_are_finite(name):
    img = random_texture((80, 80), seed=4) * 10 + 50
    img[30:40, 30:40] = np.nan
    out = Prefilter(name).apply(img)
    assert np.isnan(out[35, 35])
    assert np.isfinite(out[5:25, 5:25]).all()


@pytest.mark.parametrize("name", ["wallis", "highpass", "orientation"])
def test_halo_makes_a_crop_filter_like_the_whole_image(name):
    img = random_texture((120, 120), seed=5) * 10 + 50
    f = Prefilter(name)
    whole = f.apply(img)
    h = f.halo
    crop = f.apply(img[40 - h:80 + h, 40 - h:80 + h])[h:-h, h:-h]
    np.testing.assert_allclose(crop, whole[40:80, 40:80], atol=1e-4)


def test_as_channels_splits_complex_and_zeroes_nodata():
    img = orientation(random_texture((40, 40), seed=6))
    img[0, 0] = np.nan
    stack, valid = as_channels(img)
    assert stack.shape == (2, 40, 40) and stack.dtype == np.float32
    assert not valid[0, 0] and stack[:, 0, 0].tolist() == [0.0, 0.0]


def test_unknown_prefilter_is_refused():
    with pytest.raises(InputError, match="prefilter"):
        Prefilter("sobel")
