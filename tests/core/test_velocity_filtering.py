"""Quality status, normalized median test and stable-ground statistics."""

import numpy as np

from serac.core.velocity import filtering


def test_quality_status_codes():
    status = filtering.quality_status(ncc=np.array([0.9, 0.1, 0.9, 0.9, 0.9]),
                                      ratio=np.array([2.0, 2.0, 1.01, 2.0, 2.0]),
                                      on_edge=np.array([False, False, False, True, False]),
                                      flat=np.array([False, False, False, False, True]),
                                      min_ncc=0.2, min_ratio=1.1)
    assert status.tolist() == [filtering.VALID, filtering.LOW_QUALITY, filtering.LOW_QUALITY,
                               filtering.SEARCH_EDGE, filtering.LOW_QUALITY]


def test_median_test_flags_outliers_and_keeps_a_sheared_flow():
    rows, cols = np.mgrid[0:30, 0:30]
    dx = 0.2 * rows.astype(float)  # smooth shear: 0.2 px per point
    dy = np.full(dx.shape, 1.0)
    dx[10, 10] += 3.0
    dy[20, 5] -= 2.0
    valid = np.ones(dx.shape, bool)
    valid[0, 0] = False
    out = filtering.normalized_median_test(dx, dy, valid, radius=1, threshold=3.0)
    assert out[10, 10] and out[20, 5]
    assert out.sum() == 2
    assert not out[0, 0]


def test_isolated_points_are_outliers():
    dx = np.zeros((9, 9))
    valid = np.zeros((9, 9), bool)
    valid[4, 4] = True
    assert filtering.normalized_median_test(dx, dx, valid, min_neighbours=3)[4, 4]


def test_stable_ground_median_and_nmad():
    rng = np.random.default_rng(0)
    vx = rng.normal(5.0, 2.0, 5000)
    vy = rng.normal(-3.0, 1.0, 5000)
    stable = np.ones(5000, bool)
    s = filtering.stable_ground(vx, vy, stable)
    assert abs(s.median_dx - 5.0) < 0.1 and abs(s.median_dy + 3.0) < 0.1
    assert abs(s.nmad_dx - 2.0) < 0.1 and abs(s.nmad_dy - 1.0) < 0.1
    few = filtering.stable_ground(vx, vy, np.arange(5000) < 3, min_count=10)
    assert not few.usable and few.count == 3
