"""The helpers of benchmarks/bench_ticoi.py that turn a pair stack into TICOI's per-pixel input and back (no TICOI).

The last test checks the smoothing mapping: TICOI's formulation (displacements of the intervals between acquisition
dates, equal weights, ``coef`` times the first difference of the interval velocities in m/day), written out here
from its equations and solved with the coef equivalent to Serac's lambda, gives Serac's fixed-lambda solution.
"""

import importlib.util

import numpy as np

from serac.core.timeseries.design import TimeGrid
from serac.core.timeseries.inversion import InversionSettings, PairInversion
from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("bench_ticoi_input", ROOT / "benchmarks" / "_ticoi.py")
ticoi_input = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ticoi_input)

DATE1 = np.array(["2018-01-01", "2018-01-11", "2018-01-01", "2018-02-10"], dtype="datetime64[D]")
DATE2 = np.array(["2018-01-21", "2018-02-10", "2018-03-02", "2018-03-02"], dtype="datetime64[D]")


def test_pixel_observations_keep_the_valid_pairs_as_displacements_and_baselines():
    velocity = np.array([[365.0, -730.0], [np.nan, 10.0], [100.0, 50.0], [20.0, 40.0]])  # m/yr; pair 2 missing vx
    dates, values = ticoi_input.pixel_observations(DATE1, DATE2, velocity)
    assert dates.dtype == np.dtype("datetime64[D]") and dates.shape == (3, 2)
    assert list(dates[:, 0].astype(str)) == ["2018-01-01", "2018-01-01", "2018-02-10"]
    assert np.array_equal(values[:, 4], [20.0, 60.0, 20.0])  # baselines, days
    assert np.allclose(values[0, :2], [20.0, -40.0])  # 365 m/yr over 20 days = 20 m
    assert np.allclose(values[:, :2] / values[:, 4:5] * ticoi_input.TICOI_UNIT, velocity[[0, 2, 3]])
    assert np.array_equal(values[:, 2:4], np.ones((3, 2)))  # no a-priori errors
    mean = ticoi_input.mean_velocity(values)
    assert np.allclose([float(mean[0]), float(mean[1])], velocity[[0, 2, 3]].mean(0) / 365)  # m/day
    empty = ticoi_input.pixel_observations(DATE1, DATE2, np.full((4, 2), np.nan))
    assert empty[0].shape == (0, 2) and empty[1].shape == (0, 5)


def test_on_steps_takes_only_the_windows_that_are_output_steps():
    edges = np.array(["2018-01-01", "2018-01-31", "2018-03-02", "2018-04-01"], dtype="datetime64[D]")
    starts = np.array(["2018-01-26", "2018-01-31", "2018-02-05", "2018-03-02"], dtype="datetime64[D]")
    ends = starts + np.timedelta64(30, "D")
    out = ticoi_input.on_steps(starts, ends, [1.0, 2.0, 3.0, 4.0], [-1.0, -2.0, -3.0, -4.0], edges)
    assert out.shape == (3, 2)
    assert np.isnan(out[0]).all()  # TICOI gives no window starting on the first step
    assert np.array_equal(out[1:], [[2.0, -2.0], [4.0, -4.0]])
    shifted = ticoi_input.on_steps(starts, ends + np.timedelta64(5, "D"), [1.0] * 4, [1.0] * 4, edges)
    assert np.isnan(shifted).all()  # a window that starts on a step but is not 30 days long is not that step


def test_equivalent_coef_gives_serac_fixed_lambda_solution_in_ticoi_formulation():
    rng = np.random.default_rng(3)
    dates = np.datetime64("2018-01-01") + np.arange(0, 200, 10).astype("timedelta64[D]")  # every 10 days
    first = rng.integers(0, dates.size - 1, 40)
    last = np.minimum(first + rng.integers(1, 9, 40), dates.size - 1)
    d1, d2 = dates[first], dates[last]
    velocity = 300.0 + 50.0 * rng.standard_normal((40, 2))  # m/yr
    lam = 3.0
    grid = TimeGrid.for_pairs(d1, d2, 10)  # output steps = the intervals between acquisitions
    intervals = np.unique(np.concatenate([d1, d2]))
    assert np.array_equal(grid.edges, intervals)
    serac = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, robust="none", weighting="baseline",
                                                          backend="numpy")).solve(velocity[None]).velocity[0]

    baselines = (d2 - d1).astype(np.float64)
    coef = ticoi_input.equivalent_coef(baselines, 10, 10, lam)
    assert np.isclose(coef, np.sqrt(lam * np.median(baselines**2)))
    dates_in, values = ticoi_input.pixel_observations(d1, d2, velocity)
    delta = np.diff(intervals).astype(np.float64)  # days
    design = ((intervals[None, :-1] >= dates_in[:, :1]) & (intervals[None, 1:] <= dates_in[:, 1:])).astype(float)
    diff = (np.eye(delta.size, k=1) - np.eye(delta.size))[:-1] / delta[None, :]  # m -> change of m/day
    system = np.vstack([design, coef * diff])
    for c in range(2):
        target = np.concatenate([values[:, c], np.zeros(delta.size - 1)])
        displacement = np.linalg.lstsq(system, target, rcond=None)[0]
        assert np.allclose(displacement / delta * ticoi_input.TICOI_UNIT, serac[:, c], rtol=1e-8, atol=1e-6)
