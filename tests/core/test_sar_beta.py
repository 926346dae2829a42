"""Beta estimation: per-pixel time series and ascending/descending pairs, on real backscatter with known answers."""

import os

import numpy as np
import pytest
from affine import Affine
from scipy import stats as sps

from serac.core import raster_io as rio
from serac.core.errors import InputError, NoOverlapError
from serac.core.progress import ConsoleFeedback
from serac.core.sar import synthetic
from serac.core.sar.annotation import to_lonlat
from serac.core.sar.beta_estimation import (BetaModel, BetaModelSource, estimate_beta_pair,
                                            estimate_beta_timeseries, fit_beta_model, window_betas)
from serac.core.sar.engine import normalize_raster
from serac.core.sar.normalization import LinearDB
from serac.core.sar.regression import fit_line

PYROSAR = "sar/pyrosar/S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
LOOKS = 18  # equivalent number of looks of a 20 m Sentinel-1 IW GRD product, roughly


@pytest.fixture(scope="module")
def real(shared_data):
    r = rio.read_raster(shared_data / PYROSAR)
    return r.data[0], r.grid


# -- regression --------------------------------------------------------------------------------
def test_fit_line_per_pixel_matches_polyfit_and_ignores_nan():
    rng = np.random.default_rng(0)
    x = rng.uniform(30, 45, (7, 4, 5))
    y = -10 + -0.2 * (x - 35) + rng.normal(0, 0.5, x.shape)
    y[0, 0, 0] = np.nan
    fit = fit_line(x, y, axis=0)
    for r, c in [(0, 0), (3, 4)]:
        ok = np.isfinite(y[:, r, c])
        slope, intercept = np.polyfit(x[ok, r, c], y[ok, r, c], 1)
        assert fit.slope[r, c] == pytest.approx(slope) and fit.intercept[r, c] == pytest.approx(intercept)
    assert fit.n[0, 0] == 6 and fit.n[1, 1] == 7
    flat = fit_line(np.full(5, 30.0), np.arange(5.0))
    assert np.isnan(flat.slope)  # no angle spread: no slope
    assert fit_line([1.0, 2.0, 4.0], [2.0, 4.0, 8.0], through_origin=True).slope == pytest.approx(2.0)


# -- time series (method 4) -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(real, tmp_path_factory):
    """Six acquisitions of the real scene at different angle ranges, per-pixel beta, independent speckle."""
    truth, grid = real
    folder = tmp_path_factory.mktemp("stack")
    beta = np.clip(-0.25 + 0.01 * (truth + 12.0), -0.45, -0.05).astype(np.float32)
    ranges = [(30, 38), (44, 36), (33, 41), (41, 45), (36, 31), (39, 46)]
    paths, angles = [], []
    for k, (near, far) in enumerate(ranges):
        theta = synthetic.angle_ramp(grid.shape, near, far)
        sigma = synthetic.add_linear_effect(truth, theta, beta) + synthetic.speckle_db(grid.shape, LOOKS, 10 + k)
        paths.append(folder / f"s{k}_db.tif")
        angles.append(str(folder / f"theta{k}.tif"))
        rio.write_raster(paths[-1], sigma, grid)
        rio.write_raster(angles[-1], theta, grid)
    return truth, grid, beta, paths, angles, folder


def test_timeseries_beta_and_its_standard_error(stack):
    truth, grid, beta, paths, angles, folder = stack
    res = estimate_beta_timeseries(paths, angles, folder / "beta.tif", block_size=100)
    out = rio.read_raster(folder / "beta.tif")
    assert out.band_names[:2] == ["beta_dB_per_deg", "beta_se_dB_per_deg"]
    est, se = out.data[0], out.data[1]
    assert res.valid_fraction == 1.0 and np.all(out.data[4] == 6)
    assert abs(np.mean(est - beta)) < 0.005  # unbiased
    # the standard error is right: (est - beta) / se follows Student's t with 6 - 2 dof
    z = (est - beta) / se
    inside = np.mean(np.abs(z) < sps.t.ppf(0.975, 4))
    assert inside == pytest.approx(0.95, abs=0.015)


def test_timeseries_beta_normalizes_an_image_of_the_stack(stack):
    truth, grid, beta, paths, angles, folder = stack
    estimate_beta_timeseries(paths, angles, folder / "beta2.tif")
    beta_map = rio.read_raster(folder / "beta2.tif", bands=1).data[0]
    rio.write_raster(folder / "beta_only.tif", beta_map, grid)
    normalize_raster(paths[1], folder / "norm.tif", LinearDB(str(folder / "beta_only.tif")), angles[1])
    out = rio.read_raster(folder / "norm.tif").data[0]
    theta = rio.read_raster(angles[1]).data[0]
    assert abs(fit_line(theta.ravel(), (out - truth).ravel()).slope) < 0.01


def test_timeseries_needs_angle_spread_and_three_images(stack, tmp_path):
    truth, grid, beta, paths, angles, folder = stack
    with pytest.raises(InputError, match="at least 3"):
        estimate_beta_timeseries(paths[:2], angles[:2], tmp_path / "b.tif")
    with pytest.raises(InputError, match="No pixel could be fitted"):
        estimate_beta_timeseries(paths[:3], [35.0, 35.2, 35.4], tmp_path / "b.tif")
    assert not os.path.exists(tmp_path / "b.tif")


# -- asc/desc pair (method 3) ----------------------------------------------------------------------
def test_window_betas_exact_without_noise():
    d_theta = np.full((64, 64), -6.0)
    d_theta[:32, :32] = 0.5  # too small an angle difference: no estimate
    d_sigma = -0.2 * d_theta
    for estimator in ("median", "ls"):
        beta, dtheta, count = window_betas(d_sigma, d_theta, 32, estimator)
        assert np.isnan(beta[0, 0]) and np.allclose(beta.ravel()[1:], -0.2)
        assert np.all(count == 1024)


@pytest.fixture(scope="module")
def pair(real, tmp_path_factory):
    """Asc/desc pair of the real scene with a known beta(lon, lat, elevation) and independent speckle."""
    truth, grid = real
    folder = tmp_path_factory.mktemp("pair")
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    lon, lat = (a.reshape(grid.shape) for a in to_lonlat(*grid.xy(rows, cols), grid.crs))
    dem = synthetic.smooth_elevation(grid.shape, 0.0, 2000.0, seed=1)
    # beta = -0.2 dB/deg at (4.52 E, 43.59 N, 1000 m), +1.5 per deg lon, -2.0 per deg lat, +6e-5 per m
    truth_model = BetaModel(-0.2 - 1.5 * 4.52 + 2.0 * 43.59 - 6e-5 * 1000, 1.5, -2.0, 6e-5,
                            0, 0, 0, 0, 1, 0, 0, 0, (4.52, 43.59, 1000.0))
    beta = truth_model.predict(lon, lat, dem).astype(np.float32)
    th_a = synthetic.angle_ramp(grid.shape, 33.0, 40.0)
    th_d = synthetic.angle_ramp(grid.shape, 44.0, 37.0)
    files = {}
    for name, data in [("asc_db", synthetic.add_linear_effect(truth, th_a, beta)
                        + synthetic.speckle_db(grid.shape, LOOKS, 1)),
                       ("desc_db", synthetic.add_linear_effect(truth, th_d, beta)
                        + synthetic.speckle_db(grid.shape, LOOKS, 2)),
                       ("th_a", th_a), ("th_d", th_d), ("dem", dem)]:
        files[name] = str(folder / f"{name}.tif")
        rio.write_raster(files[name], data, grid)
    return truth, grid, beta, truth_model, files, (lon, lat, dem)


@pytest.mark.parametrize("estimator", ["median", "ls"])
def test_pair_recovers_the_spatial_beta_model(pair, estimator):
    truth, grid, beta, truth_model, f, (lon, lat, dem) = pair
    res = estimate_beta_pair(f["asc_db"], f["th_a"], f["desc_db"], f["th_d"], dem=f["dem"], window=16,
                             estimator=estimator)
    m = res.model
    assert m.n_windows > 100 and m.uses_elevation
    est = m.predict(lon, lat, dem)
    assert np.sqrt(np.mean((est - beta) ** 2)) < 0.008  # dB/deg, beta spans -0.34 to -0.12
    for name, se in (("lon_coef", "lon_se"), ("lat_coef", "lat_se"), ("elev_coef", "elev_se")):
        assert abs(getattr(m, name) - getattr(truth_model, name)) < 3 * getattr(m, se)
    assert m.r2 > 0.5


def test_pair_beta_map_normalizes_the_ascending_image(pair, tmp_path):
    truth, grid, beta, truth_model, f, _ = pair
    res = estimate_beta_pair(f["asc_db"], f["th_a"], f["desc_db"], f["th_d"], dem=f["dem"], window=16)
    source = BetaModelSource(res.model, grid, dem=f["dem"])
    normalize_raster(f["asc_db"], tmp_path / "norm.tif", LinearDB(source), f["th_a"])
    out = rio.read_raster(tmp_path / "norm.tif").data[0]
    theta = rio.read_raster(f["th_a"]).data[0]
    before = fit_line(theta.ravel(), (rio.read_raster(f["asc_db"]).data[0] - truth).ravel()).slope
    after = fit_line(theta.ravel(), (out - truth).ravel()).slope
    assert before < -0.15 and abs(after) < 0.01
    with pytest.raises(InputError, match="elevation term"):
        BetaModelSource(res.model, grid)


def test_pair_without_dem_and_on_mismatched_grids(pair, tmp_path):
    truth, grid, beta, truth_model, f, _ = pair
    res = estimate_beta_pair(f["asc_db"], f["th_a"], f["desc_db"], f["th_d"], window=16,
                             feedback=ConsoleFeedback(verbose=False))
    assert not res.model.uses_elevation and any("No DEM" in w for w in res.warnings)
    far = rio.RasterGrid(grid.crs, Affine.translation(100_000, 0) * grid.transform, grid.width, grid.height)
    rio.write_raster(tmp_path / "desc_far.tif", rio.read_raster(f["desc_db"]).data[0], far)
    with pytest.raises(NoOverlapError):
        estimate_beta_pair(f["asc_db"], f["th_a"], tmp_path / "desc_far.tif", f["th_d"])


def test_too_few_windows_is_a_clear_error():
    with pytest.raises(InputError, match="window"):
        fit_beta_model([4.5, 4.6], [43.5, 43.6], [-0.2, -0.3])
