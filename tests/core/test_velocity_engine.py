"""Windowed offset tracking on the real Everest Landsat image with known displacements."""

import numpy as np
import pytest

from serac.core.errors import Cancelled, InputError
from serac.core.progress import ConsoleFeedback
from serac.core.raster_io import read_raster
from serac.core.stats import nmad
from serac.core.velocity import filtering
from serac.core.velocity.engine import CorrelationParams, OffsetTracker, PointLayout, track_arrays
from serac.core.velocity.synthetic import add_noise, fourier_shift, random_texture


@pytest.fixture(scope="module")
def everest(shared_data):
    """Landsat 7 ETM+ band 4 (NIR), Everest, 2000-10-30, 492 x 315 px crop, as float."""
    path = shared_data / "optical" / "everest_landsat" / "LE71400412000304SGS00_B4_cropped.tif"
    return read_raster(path).band(1).astype(np.float64)


def test_layout_centres_chips_and_georeferences_points():
    lay = PointLayout.create((100, 130), spacing=12, chip=32)
    assert lay.shape == (8, 10)
    assert lay.origin == 0.0
    # point 0 is centred at 6 px: a 32 px chip starts at -10 (outside), a 4 px box at 4
    assert lay.corner(0, 32) == -10 and lay.corner(0, 4) == 4
    odd = PointLayout.create((100, 100), spacing=12, chip=31)
    assert odd.origin == 0.5 and float(odd.centre(0) - 31 / 2) == float(odd.corner(0, 31))


def test_uniform_subpixel_shift_of_a_real_image(everest):
    shift = (1.3, -0.6)
    ref = add_noise(everest, 1.0, seed=1)
    sec = add_noise(fourier_shift(everest, *shift), 1.0, seed=2)
    field = track_arrays(ref, sec, CorrelationParams(chip=32, search=8), backend="numpy")
    ok = field.valid
    assert ok.mean() > 0.75  # the border band (chip + search) has no data
    for got, true in ((field.dy[ok], shift[0]), (field.dx[ok], shift[1])):
        assert abs(np.median(got) - true) < 0.01
        assert nmad(got) < 0.05


def test_windowed_run_equals_one_block(everest):
    sec = fourier_shift(everest, 0.4, 2.2)
    small = track_arrays(everest, sec, CorrelationParams(search=6, block=5), backend="numpy")
    large = track_arrays(everest, sec, CorrelationParams(search=6, block=200), backend="numpy")
    np.testing.assert_array_equal(small.status, large.status)
    ok = small.valid
    np.testing.assert_allclose(small.dx[ok], large.dx[ok], atol=2e-3)
    np.testing.assert_allclose(small.dy[ok], large.dy[ok], atol=2e-3)


def test_prior_offsets_centre_the_search(everest):
    sec = fourier_shift(everest, 0.0, 20.3)  # 20 px: beyond a ±6 px search
    params = CorrelationParams(search=6, max_chip=32)
    blind = track_arrays(everest, sec, params, backend="numpy")
    assert blind.valid.mean() < 0.2
    lay = PointLayout.create(everest.shape, params.spacing, params.chip)
    prior = (np.zeros(lay.shape), np.full(lay.shape, 19.0))
    guided = track_arrays(everest, sec, params, backend="numpy", prior=prior)
    assert guided.valid.mean() > 0.6
    assert abs(np.median(guided.dx[guided.valid]) - 20.3) < 0.02


def test_chip_fallback_rescues_textureless_patches():
    tex = random_texture((240, 240), seed=3)
    lay = PointLayout.create(tex.shape, spacing=12, chip=16)
    ref = tex.copy()
    flat_points = [(6, 6), (10, 12), (13, 7)]
    for i, j in flat_points:  # a 20 px featureless patch around these points
        r, c = int(lay.centre(i)), int(lay.centre(j))
        ref[r - 10:r + 10, c - 10:c + 10] = 0.0
    sec = fourier_shift(ref, 0.5, 0.25)
    only_small = track_arrays(ref, sec, CorrelationParams(chip=16, search=4, max_chip=16, prefilter="none"),
                              backend="numpy")
    fallback = track_arrays(ref, sec, CorrelationParams(chip=16, search=4, max_chip=32, prefilter="none"),
                            backend="numpy")
    for i, j in flat_points:
        assert only_small.status[i, j] != filtering.VALID
        assert fallback.status[i, j] == filtering.VALID and fallback.chip[i, j] == 32
        assert abs(fallback.dy[i, j] - 0.5) < 0.05 and abs(fallback.dx[i, j] - 0.25) < 0.05
    assert (fallback.chip[fallback.valid] == 16).mean() > 0.9  # the small chip where it works


def test_nodata_areas_give_nodata_points_not_errors(everest):
    sec = fourier_shift(everest, 0.5, 0.5)
    sec[:, :200] = np.nan
    field = track_arrays(everest, sec, CorrelationParams(search=6), backend="numpy")
    cols_centre = field.layout.centre(np.arange(field.layout.shape[1]))
    assert (field.status[:, cols_centre < 180] == filtering.NODATA).all()
    assert field.valid[:, cols_centre > 240].mean() > 0.8


def test_cancellation_stops_the_run(everest):
    tracker = OffsetTracker(CorrelationParams(search=6, block=4), backend="numpy")
    from serac.core.velocity.engine import ArraySource
    with pytest.raises(Cancelled):
        tracker.track(ArraySource(everest), ArraySource(everest), feedback=ConsoleFeedback(False, cancel_after=3))


def test_chip_and_search_larger_than_the_image_is_refused():
    img = random_texture((50, 60))
    with pytest.raises(InputError, match="needs 64 x 64 px"):
        track_arrays(img, img, CorrelationParams(chip=32, search=16))


def test_bad_parameters_are_refused():
    with pytest.raises(InputError, match="chip"):
        CorrelationParams(chip=4)
    with pytest.raises(InputError, match="search"):
        CorrelationParams(search=1)
    with pytest.raises(InputError, match="whole number"):
        CorrelationParams(spacing=2.5)


def test_box_counts_are_exact_counts_at_the_boxes():
    from serac.core.velocity.engine import box_counts

    rng = np.random.default_rng(4)
    mask = rng.random((90, 110)) < 0.3
    for size in (1, 7, 32):
        rows, cols = rng.integers(0, 90 - size + 1, 200), rng.integers(0, 110 - size + 1, 200)
        got = box_counts(mask, size, rows, cols)
        want = [mask[r:r + size, c:c + size].sum() for r, c in zip(rows, cols)]
        assert got.dtype.kind == "i" and got.tolist() == want
    assert box_counts(mask, 5, [], []).size == 0
