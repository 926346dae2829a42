"""Time grid, design matrix and difference operators of the velocity time-series inversion."""

import datetime as dt

import numpy as np
import pytest

from serac.core.errors import InputError
from serac.core.timeseries.design import (TimeGrid, as_day, baselines_days, design_matrix, difference_operator,
                                          ordered_pairs)


def test_as_day_accepts_common_forms_and_rejects_nonsense():
    want = np.datetime64("2018-03-04")
    for value in ("2018-03-04", "20180304", "2018-03-04T10:22:01", dt.date(2018, 3, 4),
                  dt.datetime(2018, 3, 4, 23, 59), np.datetime64("2018-03-04T12:00")):
        assert as_day(value) == want
    for bad in ("2018-13-04", "yesterday", 3.5):
        with pytest.raises(InputError):
            as_day(bad)


def test_regular_grid_covers_the_period_with_whole_steps():
    grid = TimeGrid.regular("2018-01-01", "2018-03-01", 15)
    assert grid.n_steps == 4  # 59 days -> 4 steps of 15 days, the last ending after the end date
    assert grid.edges[0] == np.datetime64("2018-01-01") and grid.edges[-1] == np.datetime64("2018-03-02")
    np.testing.assert_array_equal(grid.durations_days, 15)
    assert grid.labels[0] == "2018-01-08"


def test_grid_from_acquisition_dates_uses_each_distinct_date_once():
    grid = TimeGrid.for_pairs(["2018-01-10", "2018-01-01", "2018-01-01"], ["2018-01-20", "2018-01-10", "2018-02-01"])
    np.testing.assert_array_equal(grid.edges, np.array(["2018-01-01", "2018-01-10", "2018-01-20", "2018-02-01"],
                                                       dtype="datetime64[D]"))
    with pytest.raises(InputError):
        TimeGrid(["2018-01-01", "2018-01-01"])


def test_design_matrix_rows_are_baseline_fractions():
    grid = TimeGrid.regular("2018-01-01", "2018-01-31", 10)  # [1-11), [11-21), [21-31)
    A = design_matrix(["2018-01-01", "2018-01-06", "2018-01-21"], ["2018-01-31", "2018-01-16", "2018-01-26"], grid)
    np.testing.assert_allclose(A, [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(A.sum(1), 1.0)
    # a pair's mean velocity is the duration-weighted mean of the interval velocities
    u = np.array([100.0, 200.0, 400.0])
    np.testing.assert_allclose(A @ u, [700 / 3, 150.0, 400.0])


def test_identical_dates_are_a_clear_error_and_reversed_dates_are_swapped():
    with pytest.raises(InputError, match="same first and second date"):
        baselines_days(["2018-01-01", "2018-02-01"], ["2018-01-05", "2018-02-01"])
    d1, d2 = ordered_pairs(["2018-02-01"], ["2018-01-01"])
    assert d1[0] < d2[0]
    np.testing.assert_array_equal(baselines_days(["2018-02-01"], ["2018-01-01"]), [31.0])


def test_pairs_outside_the_grid_are_detected():
    grid = TimeGrid.regular("2018-01-01", "2018-02-01", 10)
    covers = grid.covers(["2018-01-02", "2017-12-20"], ["2018-01-20", "2018-01-10"])
    np.testing.assert_array_equal(covers, [True, False])


def test_difference_operators_on_regular_and_irregular_grids():
    regular = TimeGrid.regular("2018-01-01", "2018-02-10", 10)
    D1, D2 = difference_operator(regular, 1), difference_operator(regular, 2)
    np.testing.assert_allclose(D1[0, :2], [-1, 1])
    np.testing.assert_allclose(D2[0, :3], [1, -2, 1])
    assert D1.shape == (regular.n_steps - 1, regular.n_steps) and D2.shape == (regular.n_steps - 2, regular.n_steps)
    # a linear trend in time has zero curvature also on an irregular grid
    irregular = TimeGrid(["2018-01-01", "2018-01-05", "2018-01-25", "2018-02-01", "2018-03-01"])
    mid = irregular.starts.astype(float) + irregular.durations_days / 2
    np.testing.assert_allclose(difference_operator(irregular, 2) @ (3.0 * mid), 0, atol=1e-9)
    np.testing.assert_allclose(difference_operator(irregular, 1) @ np.ones(irregular.n_steps), 0)
    with pytest.raises(InputError):
        difference_operator(regular, 3)
