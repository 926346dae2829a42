"""DEM terrain attributes (Horn slope/aspect) and the constant-shift bilinear resampling."""

import numpy as np
import pytest

from serac.core.dem.shift import shift_array, shift_points
from serac.core.dem.terrain import horn_gradients, horn_gradients_at, slope_aspect, slope_aspect_at


def plane(a, b, shape=(20, 30), res=10.0):
    """z = a*x + b*y (x east, y north) on a north-up grid of ``res`` m."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    x, y = cols * res, -rows * res
    return (a * x + b * y).astype(np.float32)


@pytest.mark.parametrize("a, b, aspect", [(0.1, 0.0, 270.0), (-0.1, 0.0, 90.0), (0.0, 0.2, 180.0),
                                          (0.0, -0.2, 0.0), (-0.3, -0.3, 45.0), (0.3, -0.3, 315.0)])
def test_slope_and_aspect_of_planes(a, b, aspect):
    slope, asp = slope_aspect(plane(a, b), 10.0)
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(slope[inner], np.degrees(np.arctan(np.hypot(a, b))), atol=1e-3)
    np.testing.assert_allclose(asp[inner], aspect, atol=1e-3)
    assert np.isnan(slope[0]).all() and np.isnan(slope[:, -1]).all()


def test_anisotropic_pixels_and_flat_aspect():
    gx, gy = horn_gradients(plane(0.1, 0.05, res=1.0), (1.0, 1.0))
    np.testing.assert_allclose(gx[1:-1, 1:-1], 0.1, atol=1e-5)
    np.testing.assert_allclose(gy[1:-1, 1:-1], 0.05, atol=1e-5)
    # the same terrain sampled at 2 m in x: values per column double, the pixel size too
    rows, cols = np.mgrid[0:10, 0:10]
    z = (0.1 * cols * 2.0 - 0.05 * rows * 1.0).astype(np.float32)
    gx, gy = horn_gradients(z, (2.0, 1.0))
    np.testing.assert_allclose(gx[1:-1, 1:-1], 0.1, atol=1e-5)
    np.testing.assert_allclose(gy[1:-1, 1:-1], 0.05, atol=1e-5)
    slope, aspect = slope_aspect(np.zeros((5, 5), np.float32), 1.0)
    assert np.all(slope[1:-1, 1:-1] == 0) and np.isnan(aspect).all()


def test_gradients_at_points_equal_whole_array_and_respect_nan():
    rng = np.random.default_rng(1)
    dem = rng.normal(size=(40, 50)).astype(np.float32).cumsum(axis=0).cumsum(axis=1)
    dem[10, 10] = np.nan
    rows = rng.integers(0, 40, 300)
    cols = rng.integers(0, 50, 300)
    full = slope_aspect(dem, (3.0, 4.0))
    at = slope_aspect_at(dem, rows, cols, (3.0, 4.0))
    for f, p in zip(full, at):
        np.testing.assert_allclose(p, f[rows, cols], rtol=1e-5, equal_nan=True)
    gx, _ = horn_gradients_at(dem, np.array([11, 0]), np.array([11, 5]), 1.0)
    assert np.isnan(gx).all()  # next to NaN; on the border


def test_shift_array_integer_fractional_and_nan():
    a = np.arange(30, dtype=np.float32).reshape(5, 6)
    np.testing.assert_array_equal(shift_array(a, 1, 2)[:-1, :-2], a[1:, 2:])
    assert np.isnan(shift_array(a, 1, 2)[-1]).all() and np.isnan(shift_array(a, 1, 2)[:, -2:]).all()
    # on a linear ramp bilinear interpolation is exact: a = 6*row + col
    s = shift_array(a, 0.25, -0.5)
    np.testing.assert_allclose(s[:-1, 1:], a[:-1, 1:] + 6 * 0.25 - 0.5, atol=1e-5)
    assert np.isnan(s[:, 0]).all()
    b = a.copy()
    b[2, 2] = np.nan
    s = shift_array(b, 0.5, 0.5)
    assert np.isnan(s[1:3, 1:3]).all() and np.isfinite(s[0, 0]) and np.isfinite(s[3, 3])
    np.testing.assert_array_equal(shift_array(a, 0, 0), a)


def test_shift_points_equal_shift_array():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(30, 40)).astype(np.float32)
    rows, cols = rng.integers(0, 30, 500), rng.integers(0, 40, 500)
    for drow, dcol in [(0.3, -1.7), (-2.0, 0.5), (4.9, 3.1)]:
        np.testing.assert_allclose(shift_points(a, rows, cols, drow, dcol), shift_array(a, drow, dcol)[rows, cols],
                                   rtol=1e-5, atol=1e-6, equal_nan=True)
