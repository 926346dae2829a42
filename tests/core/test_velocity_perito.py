"""Real multi-date tracking: the GIV Perito Moreno series (pixel units, no georeferencing).

A 5-day and a 20-day pair, each corrected by its median offset on the stable margins
(outside the GIV glacier mask), must give the same flow directions and the same speeds
in px/day: displacements scale with the interval.
"""

import numpy as np
import pytest
from scipy import ndimage

from serac.core.velocity import filtering
from serac.core.velocity.engine import CorrelationParams, track_arrays

PARAMS = CorrelationParams(chip=32, search=12, spacing=24, max_chip=32)


@pytest.fixture(scope="module")
def series(shared_data):
    Image = pytest.importorskip("PIL.Image")
    folder = shared_data / "velocity" / "giv_perito_moreno" / "Perito_Moreno"

    def grey(name):
        rgb = np.asarray(Image.open(folder / f"{name}.jpg"), dtype=np.float64)
        valid = ndimage.binary_erosion(rgb.max(axis=2) > 12, iterations=3)  # black frame: no data
        return np.where(valid, rgb.mean(axis=2), np.nan)

    ice = np.asarray(Image.open(folder / "mask.jpg"), dtype=np.float64).min(axis=2) > 127
    return grey, ice


def corrected(grey, ice, a, b):
    field = track_arrays(grey(a), grey(b), PARAMS, backend="numpy")
    lay = field.layout
    rows, cols = (np.clip(lay.centre(np.arange(n)).astype(int), 0, s - 1) for n, s in zip(lay.shape, ice.shape))
    ice_in_chip = ndimage.uniform_filter(ice.astype(float), PARAMS.chip)[np.ix_(rows, cols)]
    ground = filtering.stable_ground(field.dx, field.dy, field.valid & (ice_in_chip == 0), min_count=5)
    assert ground.usable
    return field.dx - ground.median_dx, field.dy - ground.median_dy, field.valid


def test_5_and_20_day_pairs_agree_in_direction_and_speed(series):
    grey, ice = series
    dx5, dy5, ok5 = corrected(grey, ice, "20200205", "20200210")
    dx20, dy20, ok20 = corrected(grey, ice, "20200207", "20200227")
    both = ok5 & ok20
    assert both.mean() > 0.4
    speed5, speed20 = np.hypot(dx5, dy5) / 5, np.hypot(dx20, dy20) / 20
    moving = both & (speed20 > 0.1)  # px/day
    assert moving.sum() > 100
    ratio = np.median(speed5[moving] / speed20[moving])
    assert 0.85 < ratio < 1.15
    assert np.median(np.hypot(dx20, dy20)[moving]) / np.median(np.hypot(dx5, dy5)[moving]) == pytest.approx(4, rel=0.2)
    angle = np.degrees(np.angle(np.exp(1j * (np.arctan2(dx5, -dy5) - np.arctan2(dx20, -dy20)))))[moving]
    assert np.median(np.abs(angle)) < 10
    # flow towards the terminus in the upper right of the frame
    mean_direction = np.degrees(np.arctan2(dx20[moving].mean(), -dy20[moving].mean())) % 360
    assert 20 < mean_direction < 90
