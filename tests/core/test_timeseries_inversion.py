"""Per-pixel least-squares inversion of velocity pairs (synthetic truth)."""

import numpy as np
import pytest

from serac.core.backend import has_module
from serac.core.errors import InputError
from serac.core.timeseries import synthetic as syn
from serac.core.timeseries.design import TimeGrid
from serac.core.timeseries.inversion import (GCV_CANDIDATES, InversionSettings, PairInversion, invert_point,
                                             pair_weights)
from serac.core.timeseries.patterns import group_rows
from tests.conftest import requires_gpu

FIELD = np.array([800.0, -300.0])  # vx, vy of every pixel before the seasonal factor, m/yr
SIGNAL = syn.SeasonalSignal(amplitude=0.3, peak_doy=200)


def scenario(n_pairs=60, pixels=400, sigma_disp=5.0, outliers=0, outlier_size=1500.0, seed=1, step=30, scale=None):
    """Pairs over two years (5-365 day baselines) of a seasonal velocity; returns obs (P, m, 2), truth (n, 2), ...

    ``scale`` (pixels,) multiplies the velocity of each pixel (not the noise); the truth is then (P, n, 2).
    """
    rng = np.random.default_rng(seed)
    dates = syn.acquisition_dates("2018-01-01", "2019-12-31", 6, rng, jitter_days=2)
    d1, d2 = syn.random_pairs(dates, n_pairs, 5, 365, rng)
    scale_px = np.ones(pixels) if scale is None else np.asarray(scale, float)
    field = FIELD[:, None, None] * scale_px[None, None, :]
    stack, bad = syn.pair_stack(field, SIGNAL, d1, d2, sigma_disp=sigma_disp, outlier_pairs=0, rng=rng)
    if outliers:  # blunders on long pairs, where they stand out of the noise
        long_pairs = np.flatnonzero((d2 - d1).astype(int) > 60)
        bad = rng.choice(long_pairs, outliers, replace=False)
        stack[bad] += outlier_size
    grid = TimeGrid.for_pairs(d1, d2, step)
    truth = SIGNAL.grid_means(grid)[:, None] * FIELD
    if scale is not None:
        truth = np.asarray(scale, float)[:, None, None] * truth[None]
    obs = stack[:, :, 0, :].transpose(2, 0, 1)
    return obs, truth, d1, d2, grid, bad


def rmse(velocity, truth):
    return float(np.sqrt(np.nanmean((velocity - truth) ** 2)))


def test_noise_free_pairs_give_the_truth_exactly():
    obs, _, d1, d2, _, _ = scenario(pixels=3, sigma_disp=0.0)
    grid = TimeGrid.for_pairs(d1, d2, None)  # the acquisition dates
    # add the consecutive pairs so that every interval is determined
    c1, c2 = grid.starts, grid.ends
    all1, all2 = np.concatenate([d1, c1]), np.concatenate([d2, c2])
    stack, _ = syn.pair_stack(FIELD[:, None, None] * np.ones((2, 1, 3)), SIGNAL, all1, all2)
    inv = PairInversion(all1, all2, grid, InversionSettings(regularisation=0.0, robust="none", backend="numpy"))
    sol = inv.solve(stack[:, :, 0, :].transpose(2, 0, 1))
    truth = SIGNAL.grid_means(grid)[:, None] * FIELD
    np.testing.assert_allclose(sol.velocity, np.broadcast_to(truth, sol.velocity.shape), rtol=1e-8, atol=1e-6)
    np.testing.assert_allclose(sol.residual_rms, 0.0, atol=1e-6)


def test_inversion_recovers_the_series_and_beats_the_naive_average():
    obs, truth, d1, d2, grid, _ = scenario(sigma_disp=5.0, outliers=3)
    sol = PairInversion(d1, d2, grid, InversionSettings(regularisation=0.3, backend="numpy")).solve(obs)
    naive = syn.naive_series(obs.transpose(1, 0, 2), d1, d2, grid).transpose(1, 0, 2)
    err, err_naive = rmse(sol.velocity, truth), rmse(naive, truth)
    # seasonal swing of vx is +-240 m/yr; 5-day pairs carry ~365 m/yr of noise
    assert err < 40.0
    assert err < 0.4 * err_naive
    assert not np.isnan(sol.velocity).any()


def test_baseline_weighting_beats_uniform_weights_when_errors_scale_with_one_over_baseline():
    obs, truth, d1, d2, grid, _ = scenario(sigma_disp=5.0)
    errs = {}
    for weighting in ("baseline", "uniform"):
        st = InversionSettings(regularisation=0.3, robust="none", weighting=weighting, backend="numpy")
        errs[weighting] = rmse(PairInversion(d1, d2, grid, st).solve(obs).velocity, truth)
    assert errs["baseline"] < 0.5 * errs["uniform"]


def test_robust_iterations_reject_outlier_pairs():
    obs, truth, d1, d2, grid, bad = scenario(sigma_disp=2.0, outliers=4)
    solved = {robust: PairInversion(d1, d2, grid, InversionSettings(regularisation=0.3, robust=robust,
                                                                     backend="numpy")).solve(obs)
              for robust in ("none", "reject", "tukey", "huber")}
    plain = rmse(solved["none"].velocity, truth)
    good = np.setdiff1d(np.arange(len(d1)), bad)
    for robust in ("reject", "tukey"):
        assert rmse(solved[robust].velocity, truth) < 0.5 * plain
        assert np.all(solved[robust].weights[:, bad] < 0.05)
        assert np.median(solved[robust].weights[:, good]) > 0.8
    assert rmse(solved["huber"].velocity, truth) < plain
    assert np.mean(solved["reject"].weights[:, good] == 1.0) > 0.93  # kept or left out: 95 % of the good pairs kept


def test_missing_pairs_are_dropped_per_pixel():
    obs, _, d1, d2, grid, _ = scenario(pixels=4, sigma_disp=3.0)
    st = InversionSettings(regularisation=0.3, robust="none", backend="numpy", min_pairs=3)
    obs = obs.copy()
    drop = np.arange(0, 60, 3)
    obs[1, drop, :] = np.nan  # pixel 1 misses a third of the pairs
    obs[2, 5, 0] = np.nan  # a pair missing in one component only is dropped as a whole
    obs[3, 2:, :] = np.nan  # pixel 3 keeps 2 pairs: too few
    sol = PairInversion(d1, d2, grid, st).solve(obs)
    keep = np.setdiff1d(np.arange(60), drop)
    # the same as inverting only the pairs the pixel has (on the same grid and unknowns, with the same weights)
    full = PairInversion(d1, d2, grid, st)
    sub = PairInversion(d1[keep], d2[keep], grid, st, intervals=full.intervals)
    sub.base_weights = full.base_weights[keep]
    ref = sub.solve(obs[1:2, keep])
    np.testing.assert_allclose(sol.velocity[1], ref.velocity[0], rtol=1e-9, equal_nan=True)
    assert sol.pairs_used.tolist() == [60, 40, 59, 2]
    assert np.isnan(sol.residuals[2, 5]).all() and sol.weights[2, 5] == 0
    assert np.isnan(sol.velocity[3]).all() and not sol.solved[3]


def test_steps_without_any_pair_are_nan_unless_gaps_are_filled():
    d1 = np.array(["2018-01-01", "2018-01-01", "2018-01-11", "2018-03-02", "2018-03-12"], dtype="datetime64[D]")
    d2 = np.array(["2018-01-11", "2018-01-21", "2018-01-21", "2018-03-22", "2018-03-22"], dtype="datetime64[D]")
    grid = TimeGrid.regular("2018-01-01", "2018-03-22", 10)  # steps in February have no pair
    values = np.array([[100.0], [110.0], [120.0], [200.0], [210.0]])
    gap = (grid.starts >= np.datetime64("2018-01-21")) & (grid.ends <= np.datetime64("2018-03-02"))
    for fill in (False, True):
        st = InversionSettings(regularisation=1.0, order=1, robust="none", fill_gaps=fill, backend="numpy")
        series = invert_point(values, d1, d2, time_grid=grid, settings=st, components=("speed",))
        assert np.isnan(series.velocity[gap]).all() != fill
        assert np.isfinite(series.velocity[~gap]).all()
        if fill:  # first-derivative smoothing bridges the gap monotonically
            bridge = series.velocity[gap, 0]
            assert np.all(np.diff(bridge) >= -1e-6) and 110 < bridge.min() and bridge.max() < 210


def test_automatic_regularisation_adapts_to_each_pixel():
    """Per-pixel GCV: slow pixels (signal below the noise) get smoother series than fast ones."""
    slow = np.arange(200) >= 100
    scale = np.where(slow, 0.05, 1.0)  # 40 m/yr instead of 800 m/yr: a seasonal swing of +-12 m/yr, same noise
    obs, truth, d1, d2, grid, _ = scenario(n_pairs=100, sigma_disp=10.0, step=15, pixels=200, scale=scale)
    errs = []
    for lam in GCV_CANDIDATES:
        st = InversionSettings(regularisation=lam, robust="none", backend="numpy")
        errs.append(rmse(PairInversion(d1, d2, grid, st).solve(obs).velocity, truth))
    auto = PairInversion(d1, d2, grid, InversionSettings(regularisation="auto", robust="none", backend="numpy"))
    sol = auto.solve(obs)
    assert rmse(sol.velocity, truth) < min(errs)  # better than the best single lambda
    assert errs[0] > 2 * min(errs) and errs[-1] > 2 * min(errs)  # the choice matters in this case
    assert np.median(sol.regularisation[slow]) >= 10 * np.median(sol.regularisation[~slow])
    assert set(np.unique(sol.regularisation)) <= set(GCV_CANDIDATES)


def test_pair_errors_set_the_weights():
    w, method = pair_weights([10, 20, 40], errors=[10.0, 20.0, 40.0])
    assert method == "error"
    np.testing.assert_allclose(w, [4.0, 1.0, 0.25])
    w, method = pair_weights([10, 20, 40], errors=[10.0, None, 40.0])
    assert method == "baseline"
    np.testing.assert_allclose(w, [0.25, 1.0, 4.0])
    with pytest.raises(InputError):
        pair_weights([10, 20], errors=[1.0, np.nan], weighting="error")
    # a pair known to be bad (large error) barely moves the result
    d1 = np.array(["2018-01-01", "2018-01-01", "2018-01-11", "2018-01-01"], dtype="datetime64[D]")
    d2 = np.array(["2018-01-11", "2018-01-21", "2018-01-21", "2018-01-21"], dtype="datetime64[D]")
    values = np.array([100.0, 100.0, 100.0, 5000.0])
    st = InversionSettings(regularisation=0.0, robust="none", backend="numpy")
    series = invert_point(values, d1, d2, step_days=10, settings=st, errors=[5.0, 5.0, 5.0, 1e5])
    np.testing.assert_allclose(series.velocity[:, 0], 100.0, atol=1.0)


def test_point_series_records_and_settings_validation():
    obs, truth, d1, d2, grid, _ = scenario(pixels=1, sigma_disp=2.0)
    series = invert_point(obs[0], d1, d2, step_days=30, settings=InversionSettings(backend="numpy"))
    assert series.velocity.shape == (grid.n_steps, 2) and series.components == ("vx", "vy")
    rec = series.records()
    assert rec[0]["start"] == "2018-01-01" and {"vx", "vy", "speed", "residual_rms"} <= set(rec[0])
    np.testing.assert_allclose(series.speed, np.hypot(series.velocity[:, 0], series.velocity[:, 1]))
    assert series.extra["regularisation"] > 0
    for bad in (dict(regularisation=-1), dict(regularisation="lots"), dict(order=3), dict(robust="x"),
                dict(weighting="x"), dict(min_pairs=0), dict(gcv_candidates=(0.0, 1.0))):
        with pytest.raises(InputError):
            InversionSettings(**bad)


@pytest.mark.skipif(not has_module("torch"), reason="torch not installed")
def test_torch_cpu_backend_matches_numpy():
    obs, _, d1, d2, grid, _ = scenario(pixels=50, sigma_disp=5.0, outliers=2)
    obs[3, :40] = np.nan
    for lam in (0.3, "auto"):
        ref = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, backend="numpy")).solve(obs)
        got = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, backend="torch-cpu")).solve(obs)
        np.testing.assert_allclose(got.velocity, ref.velocity, rtol=1e-7, atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(got.weights, ref.weights, atol=1e-7)
        np.testing.assert_array_equal(got.regularisation, ref.regularisation)


@requires_gpu
def test_torch_cuda_backend_matches_numpy():
    obs, _, d1, d2, grid, _ = scenario(pixels=50, sigma_disp=5.0, outliers=2)
    for lam in (0.3, "auto"):
        ref = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, backend="numpy")).solve(obs)
        inv = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, backend="torch-cuda"))
        assert inv.backend.device == "cuda"
        np.testing.assert_allclose(inv.solve(obs).velocity, ref.velocity, rtol=1e-7, atol=1e-6)


def speedup_case(seed=0):
    """A fast uniform field (800, -300 m/yr) with a seasonal cycle and a 3.5-week 50 % spring speed-up seen by 8- and
    16-day pairs (no blunders): (scenario, time grid, obs (P, m, 2), truth (P, n, 2), steps of the speed-up)."""
    sc = syn.speedup_scenario(FIELD[:, None, None] * np.ones((2, 1, 200)), outlier_pairs=0, seed=seed)
    grid = TimeGrid.for_pairs(sc.date1, sc.date2, 30)
    obs = sc.stack[:, :, 0, :].transpose(2, 0, 1)
    truth = sc.truth(grid)[:, :, 0, :].transpose(2, 0, 1)
    start, end = np.datetime64(sc.signal.surge[1]), np.datetime64(sc.signal.surge[2])
    return sc, grid, obs, truth, (grid.ends > start) & (grid.starts <= end)


def test_a_short_speed_up_seen_by_short_pairs_is_kept():
    """Four seeds of the speed-up case. Before issue 20 (unknowns on the 30-day steps) seed 0 gave 70 m/yr in the
    speed-up steps and rejected 52 % of the short pairs (robust weight < 0.5). On the intervals between acquisitions
    with Tukey reweighting at a fixed small lambda: speed-up steps 50 m/yr (mean of the seeds; 100 m/yr in seed 1),
    all steps 26 m/yr, 30 % of the short pairs rejected; with lambda fixed at 1: 128 m/yr. Screened at every smoothing
    level up to the chosen one (a pair is an outlier only if no level explains it): 36, 26 m/yr, 1 % rejected; 85 m/yr
    with lambda 1."""
    spd, every, kept, spd_fixed = [], [], [], []
    for seed in range(4):
        sc, grid, obs, truth, steps = speedup_case(seed)
        for lam in ("auto", 1.0):
            sol = PairInversion(sc.date1, sc.date2, grid, InversionSettings(regularisation=lam,
                                                                            backend="numpy")).solve(obs)
            assert np.isfinite(sol.velocity).all()
            if lam == "auto":
                spd.append(rmse(sol.velocity[:, steps], truth[:, steps]))
                every.append(rmse(sol.velocity, truth))
                kept.append(np.mean(sol.weights[:, sc.short] >= 0.5))
            else:
                spd_fixed.append(rmse(sol.velocity[:, steps], truth[:, steps]))
    print(f"speed-up steps RMSE {np.mean(spd):.1f} m/yr (lambda 1: {np.mean(spd_fixed):.1f}), all steps "
          f"{np.mean(every):.1f} m/yr, short pairs kept {np.mean(kept):.3f}")
    assert np.mean(spd) < 42.0 and max(spd) < 60.0
    assert np.mean(every) < 28.0
    assert min(kept) > 0.97  # the short pairs agree with each other: consistent, not outliers
    assert np.mean(spd_fixed) < 100.0


def test_consistent_short_pairs_are_not_down_weighted():
    """Four short pairs that agree on a March speed-up keep their weight and set the steps (exact pairs; before issue
    20 the 30-day steps missed the speed-up by up to 56 m/yr, 18 m/yr now)."""
    d1 = np.array(["2018-01-01", "2018-01-01", "2018-02-10", "2018-03-02", "2018-03-02", "2018-03-10",
                   "2018-03-18", "2018-03-10", "2018-01-21", "2018-04-11"], dtype="datetime64[D]")
    d2 = np.array(["2018-04-11", "2018-03-02", "2018-04-11", "2018-03-10", "2018-03-18", "2018-03-18",
                   "2018-03-26", "2018-03-26", "2018-03-02", "2018-05-31"], dtype="datetime64[D]")
    sc_signal = syn.SeasonalSignal(amplitude=0.0, surge=(1.6, "2018-03-02", "2018-03-26"))
    values = 500.0 * sc_signal.mean(d1, d2)  # exact: the four short pairs of March see the speed-up
    short = (d2 - d1).astype(int) <= 16
    st = InversionSettings(backend="numpy")
    series = invert_point(values, d1, d2, step_days=30, settings=st, components=("speed",))
    assert np.all(series.weights[short] > 0.8)
    grid = TimeGrid.for_pairs(d1, d2, 30)
    truth = 500.0 * sc_signal.grid_means(grid)
    assert np.max(np.abs(series.velocity[:, 0] - truth)) < 0.05 * 500.0


def test_step_errors_cover_the_true_errors():
    """1-sigma step errors: about 68 % of the true errors within them and 95 % within 2 sigma (synthetic truth, two
    scenarios, automatic and fixed smoothing)."""
    obs, truth, d1, d2, grid, _ = scenario(sigma_disp=5.0, outliers=3)
    sc, grid2, obs2, truth2, _ = speedup_case(seed=2)
    for lam in ("auto", 0.3):
        sol = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, backend="numpy")).solve(obs)
        sol2 = PairInversion(sc.date1, sc.date2, grid2, InversionSettings(regularisation=lam,
                                                                         backend="numpy")).solve(obs2)
        for s, t in ((sol, truth), (sol2, truth2)):
            err = np.abs(s.velocity - t)
            within1, within2 = np.mean(err < s.error), np.mean(err < 2 * s.error)
            print(f"lambda {lam}: within 1 sigma {within1:.2f}, 2 sigma {within2:.2f}")
            assert 0.6 <= within1 <= 0.85 and 0.88 <= within2 <= 0.99
        assert np.all(sol.error > 0) and sol.error.shape == sol.velocity.shape


def test_a_pixel_gets_the_same_values_whatever_the_other_pixels_of_its_batch():
    """Pixels with the same pairs (and pairs left out) share one factorisation; each pixel's values do not depend on
    which pixels are solved with it (bit-identical), so blocks of a grid give the values of the whole grid. With a
    fixed lambda a pattern may be solved from another's factorisation (a downdate, or a cached factorisation: the
    same values to rounding, see test_downdates_give_the_values_of_factorisations): identical weights, values to
    1e-10."""
    obs, _, d1, d2, grid, _ = scenario(pixels=120, sigma_disp=5.0, outliers=3)
    obs[10:30, :12] = np.nan  # a cloud: other valid pairs
    obs[50, 3] = np.nan
    for settings in (InversionSettings(backend="numpy"), InversionSettings(regularisation=0.3, backend="numpy"),
                     InversionSettings(robust="tukey", backend="numpy"),
                     InversionSettings(backend="numpy", chunk_mb=1)):
        inv = PairInversion(d1, d2, grid, settings)
        whole = inv.solve(obs)
        for part in (slice(5, 40), slice(49, 52), slice(100, 120)):
            sub = inv.solve(obs[part])
            for name in ("velocity", "error", "weights", "regularisation", "residual_rms"):
                if settings.regularisation == "auto" or name in ("weights", "regularisation"):
                    np.testing.assert_array_equal(getattr(sub, name), getattr(whole, name)[part])
                else:
                    np.testing.assert_allclose(getattr(sub, name), getattr(whole, name)[part], rtol=1e-10,
                                               equal_nan=True)
    rows, _, _, _ = group_rows(np.isfinite(obs).all(-1).astype(float))
    assert rows.shape[0] == 3  # three sets of valid pairs


def test_fixed_lambda_equals_a_direct_solve_with_the_final_weights():
    """With a fixed lambda each pixel's series and step errors are those of the regularised normal equations solved
    directly with its final pair weights (the per-pattern factorisation only holds the lambdas the screening uses)."""
    obs, _, d1, d2, grid, _ = scenario(pixels=40, sigma_disp=5.0, outliers=3)
    obs[:8, :10] = np.nan
    for lam in (0.3, 1.0, 3.0):
        assert_plain_solutions(obs, PairInversion(d1, d2, grid, InversionSettings(regularisation=lam,
                                                                                  backend="numpy")), lam)


def assert_plain_solutions(obs, inv, lam):
    """Each pixel's series and step errors are the regularised normal equations' at its final weights."""
    sol = inv.solve(obs)
    assert np.all(sol.regularisation == lam)
    A, R = inv.A_intervals, inv.R
    for p in range(obs.shape[0]):
        w = inv.base_weights * sol.weights[p]
        y = np.nan_to_num(obs[p])
        N0 = A.T @ (w[:, None] * A)
        Ninv = np.linalg.inv(N0 + lam * inv.DtD)
        x = Ninv @ (A.T @ (w[:, None] * y))
        rss = (w[:, None] * (y - A @ x) ** 2).sum(0)
        dof = max(sol.weights[p].sum() - np.trace(Ninv @ N0), 1.0)
        error = np.sqrt(np.einsum("kn,nj,kj->k", R, Ninv, R)[:, None] * rss[None] / dof)
        keep = np.isfinite(sol.velocity[p])
        assert keep.any()
        np.testing.assert_allclose(sol.velocity[p][keep], (R @ x)[keep], rtol=1e-8, atol=1e-6)
        np.testing.assert_allclose(sol.error[p][keep], error[keep], rtol=1e-6)


def gappy_scenario(pixels=160, components=2, seed=4):
    """Pairs where nearly every pixel has its own set of valid pairs (random cloud gaps), plus blunders."""
    obs, _, d1, d2, grid, _ = scenario(n_pairs=40, pixels=pixels, sigma_disp=5.0, outliers=3, seed=seed)
    rng = np.random.default_rng(seed)
    obs[rng.random(obs.shape[:2]) < 0.12] = np.nan
    obs[: pixels // 4, :6] = np.nan  # a cloud shared by a quarter of the pixels
    return obs[:, :, :components], d1, d2, grid


@pytest.mark.parametrize("robust", ["reject", "tukey", "huber", "none"])
def test_direct_solves_give_the_values_of_the_eigendecompositions(monkeypatch, robust):
    """With a fixed lambda, each weight pattern is solved by Cholesky at each lambda the screening needs (or by a
    downdate of another pattern's factorisation) instead of through a generalised eigendecomposition: the same
    series, errors, residuals and weights (to rounding), whatever the robust method and smoothness order, on stacks
    where nearly every pixel has its own pairs (cloud gaps) and blunders."""
    import serac.core.timeseries.direct as direct
    import serac.core.timeseries.inversion as inversion

    levels = []
    original = direct.PatternSystems.level
    monkeypatch.setattr(direct.PatternSystems, "level", lambda self, j, groups=None: levels.append(j) or original(
        self, j, groups))
    for components, lam, order in ((2, 1.0, 1), (2, 0.05, 2), (1, 3.0, 0), (2, 0.01, 1)):
        obs, d1, d2, grid = gappy_scenario(components=components)
        settings = InversionSettings(regularisation=lam, robust=robust, order=order, backend="numpy")
        levels.clear()
        got = PairInversion(d1, d2, grid, settings).solve(obs)
        assert levels  # solved through PatternSystems
        with monkeypatch.context() as patch:  # eigendecompositions only
            patch.setattr(inversion.PairInversion, "_fit", inversion.PairInversion._fit_patterns)
            levels.clear()
            ref = PairInversion(d1, d2, grid, settings).solve(obs)
            assert not levels
        assert np.isfinite(ref.velocity).any() and np.isfinite(ref.error).any()
        if robust == "reject":
            assert (ref.weights[np.isfinite(obs).all(-1)] == 0).any()  # blunders left out
        assert_same_solutions(got, ref)


def assert_same_solutions(got, ref):
    """Series, errors, residuals and RMS to 1e-10 of the largest value; weights and lambdas identical."""
    for name in ("velocity", "error", "residuals", "residual_rms", "step_rms"):
        scale = np.nanmax(np.abs(getattr(ref, name)))
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-10, atol=1e-10 * scale,
                                   equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(got.weights, ref.weights)
    np.testing.assert_array_equal(got.regularisation, ref.regularisation)


@pytest.mark.parametrize("robust", ["reject", "none", "tukey"])
def test_downdates_give_the_values_of_factorisations(monkeypatch, robust):
    """Patterns solved as downdates (Woodbury) of the system with every pair or of their valid pairs' system get the
    values of their own Cholesky factorisations, and a pixel gets the same values solved alone as with the pixels
    that share its pattern."""
    import serac.core.timeseries.direct as direct

    made = []
    original = direct.PatternSystems._downdate
    monkeypatch.setattr(direct.PatternSystems, "_downdate", lambda self, *args: made.append(1) or original(
        self, *args))
    obs, d1, d2, grid = gappy_scenario(pixels=120)
    obs[60:90] = obs[60]  # thirty pixels with the same pairs and values: one pattern
    obs[60:90] += np.random.default_rng(1).normal(0.0, 1.0, obs[60:90].shape) * np.isfinite(obs[60:90])
    for lam in (1.0, 0.05):
        inv = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, robust=robust, backend="numpy"))
        made.clear()
        got = inv.solve(obs)
        assert made or robust == "tukey"  # Tukey's weights: every pair changed, every pattern factorised
        with monkeypatch.context() as patch:  # every pattern factorised
            patch.setattr(direct, "DOWNDATE_MAX", 0)
            patch.setattr(direct, "FULL_DOWNDATE_MAX", 0)
            made.clear()
            ref = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, robust=robust,
                                                                backend="numpy")).solve(obs)
            assert not made
        assert_same_solutions(got, ref)
        for p in (0, 5, 61, 75, 119):
            alone = PairInversion(d1, d2, grid, InversionSettings(regularisation=lam, robust=robust,
                                                                  backend="numpy")).solve(obs[p:p + 1])
            np.testing.assert_allclose(alone.weights[0], got.weights[p], rtol=0, atol=0 if robust != "tukey" else 1e-12)
            for name in ("velocity", "error"):
                scale = np.nanmax(np.abs(getattr(got, name)[p]))
                np.testing.assert_allclose(getattr(alone, name)[0], getattr(got, name)[p], rtol=1e-10,
                                           atol=1e-10 * scale, equal_nan=True)


def test_direct_solves_equal_a_plain_solve_with_the_final_weights():
    """Pixels solved by pattern (nearly every weight pattern held by one pixel) get the regularised normal equations'
    solution and step errors at their final weights, as the eigendecompositions do."""
    obs, d1, d2, grid = gappy_scenario(pixels=30)
    assert_plain_solutions(obs, PairInversion(d1, d2, grid, InversionSettings(regularisation=0.5, backend="numpy")),
                           0.5)


@pytest.mark.skipif(not has_module("torch"), reason="needs torch")
@pytest.mark.parametrize("backend", ["torch-cpu", pytest.param("torch-cuda", marks=requires_gpu)])
def test_direct_solves_on_torch_match_numpy(backend):
    obs, d1, d2, grid = gappy_scenario(pixels=40)
    ref = PairInversion(d1, d2, grid, InversionSettings(regularisation=1.0, backend="numpy")).solve(obs)
    got = PairInversion(d1, d2, grid, InversionSettings(regularisation=1.0, backend=backend)).solve(obs)
    np.testing.assert_allclose(got.velocity, ref.velocity, rtol=1e-9, atol=1e-8, equal_nan=True)
    np.testing.assert_allclose(got.error, ref.error, rtol=1e-9, atol=1e-8, equal_nan=True)
    np.testing.assert_array_equal(got.weights, ref.weights)
