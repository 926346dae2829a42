"""Raster velocity time series from pair stacks: synthetic rasters and realistic stacks built on real fields."""

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from serac.core import raster_io as rio
from serac.core.errors import Cancelled, InputError
from serac.core.progress import ConsoleFeedback
from serac.core.timeseries import synthetic as syn
from serac.core.timeseries.design import TimeGrid
from serac.core.timeseries.inversion import InversionSettings
from serac.core.timeseries.stack import invert_stack, point_series

SETTINGS = InversionSettings(backend="numpy")


def small_stack(tmp_path, n_pairs=30, sigma_disp=3.0, seed=2, **kw):
    rng = np.random.default_rng(seed)
    grid = rio.RasterGrid(CRS.from_epsg(32607), Affine(60, 0, 600000, 0, -60, 6750000), 24, 16)
    field = np.stack([np.full(grid.shape, 600.0), np.full(grid.shape, 200.0)])
    field[:, :, :4] = np.nan  # no data on the western edge in every pair
    dates = syn.acquisition_dates("2018-01-01", "2019-06-30", 8, rng)
    d1, d2 = syn.random_pairs(dates, n_pairs, 8, 300, rng)
    signal = syn.SeasonalSignal(0.3, 200)
    stack, _ = syn.pair_stack(field, signal, d1, d2, sigma_disp=sigma_disp, rng=rng)
    paths = syn.write_pair_files(tmp_path, stack, d1, d2, grid, **kw)
    return paths, field, signal, grid, d1, d2


def test_time_series_raster_has_named_bands_tags_and_recovers_the_signal(tmp_path):
    paths, field, signal, grid, d1, d2 = small_stack(tmp_path)
    out, diag = tmp_path / "series.tif", tmp_path / "diag.tif"
    result = invert_stack(paths, out, step_days=30, settings=SETTINGS, diagnostics_path=diag, block_size=10)
    tg = result.time_grid
    n = tg.n_steps
    ts = rio.read_raster(out)
    assert ts.count == 3 * n and result.band_names == ts.band_names
    assert ts.band_names[0] == f"vx_{tg.labels[0]}" and ts.band_names[n] == f"vy_{tg.labels[0]}"
    assert ts.band_names[2 * n].startswith("speed_")
    assert ts.tags["N_PAIRS"] == str(len(paths)) and ts.tags["TIME_GRID_EDGES"].count(",") == n
    assert ts.tags["REGULARISATION"] == "auto" and "GCV" in ts.tags["REGULARISATION_DESCRIPTION"]
    truth = signal.grid_means(tg)
    vx, vy, speed = ts.data[:n], ts.data[n:2 * n], ts.data[2 * n:]
    assert np.isnan(vx[:, :, :4]).all() and np.isfinite(vx[:, :, 4:]).all()
    assert result.pixels_solved == 16 * 20 and result.pixels_total == 16 * 24
    err = vx[:, :, 4:] - 600.0 * truth[:, None, None]
    assert np.sqrt(np.mean(err**2)) < 30.0  # seasonal swing +-180 m/yr
    np.testing.assert_allclose(speed, np.hypot(vx, vy), rtol=1e-5, equal_nan=True)
    d = rio.read_raster(diag)
    assert d.band_names[:4] == ["residual_rms", "pairs_used", "pairs_downweighted", "regularisation"]
    assert d.count == 4 + n and d.band_names[4] == f"rms_{tg.labels[0]}"
    assert np.all(d.band(2)[:, 4:] == len(paths)) and np.isnan(d.band(2)[:, :4]).all()
    assert np.nanmedian(d.band(1)) == pytest.approx(result.median_residual_rms, rel=1e-4)
    assert np.nanmedian(d.band(4)) == pytest.approx(result.median_regularisation, rel=1e-6)
    # the series of one point is the raster's pixel
    series = point_series(paths, *grid.xy(5, 10), step_days=30, settings=SETTINGS)
    np.testing.assert_allclose(series.velocity[:, 0], vx[:, 5, 10], rtol=1e-4)
    assert series.extra["regularisation"] == pytest.approx(d.band(4)[5, 10], rel=1e-6)
    assert series.extra["pixel"] == (5, 10) and len(series.extra["names"]) == len(paths)


def test_pairs_beyond_a_given_time_grid_are_left_out_with_a_warning(tmp_path):
    paths, *_ = small_stack(tmp_path, n_pairs=20)
    feedback = ConsoleFeedback(verbose=False)
    tgrid = TimeGrid.regular("2018-01-01", "2018-12-31", 30)
    result = invert_stack(paths, tmp_path / "ts.tif", time_grid=tgrid, settings=SETTINGS, feedback=feedback)
    assert result.pairs_left_out and result.n_pairs + len(result.pairs_left_out) == 20
    assert any("left out" in m for m in feedback.messages)
    assert any("units" in m for m in feedback.messages) is False  # units are in the band metadata
    with pytest.raises(InputError, match="None of the"):
        invert_stack(paths, tmp_path / "none.tif", time_grid=TimeGrid.regular("2010-01-01", "2010-06-01", 30))


def test_cancelling_leaves_no_output(tmp_path):
    paths, *_ = small_stack(tmp_path, n_pairs=12)
    out = tmp_path / "out" / "ts.tif"
    with pytest.raises(Cancelled):
        invert_stack(paths, out, settings=InversionSettings(regularisation=1.0, backend="numpy"),
                     diagnostics_path=tmp_path / "out" / "diag.tif", block_size=8,
                     feedback=ConsoleFeedback(verbose=False, cancel_after=2))
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_point_with_too_few_pairs_is_a_clear_error(tmp_path):
    paths, _, _, grid, _, _ = small_stack(tmp_path, n_pairs=10)
    with pytest.raises(InputError, match="valid pair"):
        point_series(paths, *grid.xy(3, 1), settings=SETTINGS)  # in the no-data strip


def _series(path, tgrid):
    """(n_steps, 2, rows, cols) vx, vy of a time-series raster (bands: vx steps, vy steps, speed steps)."""
    data = rio.read_raster(path).data[: 2 * tgrid.n_steps]
    return data.reshape(2, tgrid.n_steps, *data.shape[1:]).transpose(1, 0, 2, 3)


def _rmse(a, b):
    return float(np.sqrt(np.nanmean((a - b) ** 2)))


def test_real_kaskawulsh_field_scaled_by_a_seasonal_cycle(shared_data, tmp_path):
    """GLAFT Kaskawulsh vx/vy (m/day, Landsat 8, 60 m) as the spatial pattern of a two-year seasonal series.

    Pairs are written like GLAFT's product (separate _vx/_vy files, m/day, dates in the
    name), with the product's own no-data, a cloud gap per pair, 3 m displacement noise
    (0.2 Landsat pixel) and four blunder pairs.
    """
    folder = shared_data / "velocity" / "glaft_kaskawulsh"
    window = (320, 280, 160, 100)  # col, row, width, height: the trunk below the confluence
    vx = rio.read_raster(folder / "20180304-20180405_velo-raw_vx.tif", window=window)
    vy = rio.read_raster(folder / "20180304-20180405_velo-raw_vy.tif", window=window)
    field = np.stack([vx.band(1), vy.band(1)]).astype(np.float64) * 365.25  # m/yr
    sc = syn.field_scenario(field, n_pairs=40, revisit_days=8, drop_fraction=0.3, min_baseline=16,
                            signal=syn.SeasonalSignal(amplitude=0.4, peak_doy=190), sigma_disp=3.0, outlier_pairs=4,
                            outlier_size=300.0, outlier_fraction=0.5, gap_fraction=0.15, seed=7)
    stack, d1, d2 = sc.stack, sc.date1, sc.date2
    paths = syn.write_pair_files(tmp_path, stack, d1, d2, vx.grid, units="m/day", unit_metadata=False,
                                 separate_components=True)
    feedback = ConsoleFeedback(verbose=False)
    result = invert_stack(paths, tmp_path / "ts.tif", step_days=30, units="m/day", settings=SETTINGS,
                          feedback=feedback)
    assert result.n_pairs == 40 and not any("assumed" in m for m in feedback.messages)
    tg = result.time_grid
    out = _series(tmp_path / "ts.tif", tg)
    truth = sc.truth(tg)
    naive = syn.naive_series(stack, d1, d2, tg)
    err, err_naive = _rmse(out, truth), _rmse(naive, truth)
    print(f"Kaskawulsh: median lambda {result.median_regularisation:g}, RMSE {err:.1f} m/yr "
          f"vs naive {err_naive:.1f} m/yr")
    assert err < 0.4 * err_naive
    assert err < 25.0
    # no-data of the real product stays no-data
    nodata = ~np.isfinite(field).all(0)
    assert np.isnan(out[:, :, nodata]).all()
    # the seasonal cycle of the glacier's mean speed is recovered
    fast = np.isfinite(field).all(0) & (np.hypot(*field) > 50)
    mean_speed = np.nanmean(np.hypot(out[:, 0], out[:, 1])[:, fast], axis=1)
    true_speed = np.hypot(truth[:, 0], truth[:, 1])[:, fast].mean(1)
    assert np.corrcoef(mean_speed, true_speed)[0, 1] > 0.95


def test_real_columbia_field_on_shifted_grids_with_units_from_metadata(shared_data, tmp_path):
    """ITS_LIVE Columbia vx/vy (m/yr, 120 m) with pairs on two different grids and blunder pairs."""
    folder = shared_data / "velocity" / "itslive_columbia"
    full = rio.read_raster(folder / "crop_ALA_G0120_0000_vx.tif", window=(150, 150, 120, 110))
    vy = rio.read_raster(folder / "crop_ALA_G0120_0000_vy.tif", window=(150, 150, 120, 110)).band(1)
    field = np.stack([full.band(1), vy]).astype(np.float64)
    sc = syn.field_scenario(field, n_pairs=36, revisit_days=6, min_baseline=6,
                            signal=syn.SeasonalSignal(amplitude=0.25, peak_doy=150, trend=0.05), sigma_disp=6.0,
                            outlier_pairs=3, outlier_size=1500.0, outlier_fraction=0.6, seed=3)
    stack, d1, d2 = sc.stack, sc.date1, sc.date2
    # the first half on the full crop, the second half on a sub-grid 7 px east, 5 px south
    sub = full.grid.window_grid((7, 5, 100, 95))
    paths = syn.write_pair_files(tmp_path, stack[:18], d1[:18], d2[:18], full.grid, units="m/y", prefix="a_")
    paths += syn.write_pair_files(tmp_path, stack[18:, :, 5:100, 7:107], d1[18:], d2[18:], sub, units="m/y",
                                  prefix="b_")
    result = invert_stack(paths, tmp_path / "ts.tif", step_days=30, settings=SETTINGS,
                          diagnostics_path=tmp_path / "diag.tif")
    tg = result.time_grid
    out = _series(tmp_path / "ts.tif", tg)
    truth = sc.truth(tg)
    inner = (slice(None), slice(None), slice(5, 100), slice(7, 107))  # where all pairs overlap
    speed = np.hypot(truth[:, 0], truth[:, 1])[:, 5:100, 7:107]
    rel = (np.abs(np.hypot(out[:, 0], out[:, 1])[:, 5:100, 7:107] - speed) / speed)[:, speed.mean(0) > 500]
    err, err_naive = _rmse(out[inner], truth[inner]), _rmse(syn.naive_series(stack, d1, d2, tg)[inner], truth[inner])
    print(f"Columbia: median lambda {result.median_regularisation:g}, RMSE {err:.1f} m/yr vs naive {err_naive:.1f}; "
          f"median |speed error| where faster than 500 m/yr {100 * np.median(rel):.1f} %")
    assert err < 0.35 * err_naive
    assert np.median(rel) < 0.05
    diag = rio.read_raster(tmp_path / "diag.tif")
    # where the blunders hit, their pairs are flagged as down-weighted
    assert np.nanmedian(diag.band(3)[5:100, 7:107]) >= 1
    assert np.nanmax(diag.band(2)) == 36 and np.nanmin(diag.band(2)) == 18  # outside the sub-grid: half the pairs


def test_error_raster_has_the_series_layout_and_covers_the_truth(tmp_path):
    from serac.core.jobs import run_job

    paths, field, signal, grid, d1, d2 = small_stack(tmp_path)
    out, err_path = tmp_path / "series.tif", tmp_path / "error.tif"
    result = invert_stack(paths, out, step_days=30, settings=SETTINGS, error_path=err_path, block_size=10)
    n = result.time_grid.n_steps
    ts, err = rio.read_raster(out), rio.read_raster(err_path)
    assert result.error_path == str(err_path) and err.count == ts.count
    assert err.band_names[0] == ts.band_names[0].replace("vx_", "vx_error_")
    assert err.band_names[2 * n][:12] == "speed_error_"
    assert np.array_equal(np.isfinite(err.data), np.isfinite(ts.data)) and np.nanmin(err.data) > 0
    truth = signal.grid_means(result.time_grid)[:, None, None] * 600.0
    within = np.nanmean(np.abs(ts.data[:n, :, 4:] - truth) < err.data[:n, :, 4:])
    assert 0.5 < within < 0.95
    # through the job: the error output is dated like the series
    res = run_job("velocity_timeseries", {"input": [str(p) for p in paths]},
                  {"output": str(tmp_path / "j.tif"), "error": str(tmp_path / "j_err.tif")}, {"backend": "numpy"})
    assert res.outputs["error"] == str(tmp_path / "j_err.tif")
    assert res.report["time_steps"]["error"] == res.report["time_steps"]["output"]
    assert res.report["display_bands"]["error"] == 2 * res.numbers["n_steps"] + 1
