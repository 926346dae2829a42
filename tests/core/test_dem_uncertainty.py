"""Uncertainty of elevation change: known-variogram simulation on real terrain, Rolstad cross-check, glaciers."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

from serac.core import raster_io as rio
from serac.core.dem.uncertainty import (VariogramModel, area_change, area_changes, estimate_uncertainty,
                                        fit_error_model, mean_dh_error, rolstad_disk_error, terrain_at)
from serac.core.errors import InputError

RES = 20.0
SMOOTH_PX = 5.0  # std of the Gaussian kernel smoothing white noise: correlation exp(-d^2 / (4 s^2))


@pytest.fixture(scope="module")
def terrain(shared_data):
    d = shared_data / "dem" / "longyearbyen_partial"
    dem = rio.read_raster(d / "DEM_1995.tif").band(1)[200:712, 300:812].astype(np.float32)
    glaciers = rio.read_raster(d / "glacier_mask_1990_derived.tif").band(1)[200:712, 300:812] > 0
    rows, cols = np.mgrid[0:512, 0:512]
    slope, _ = terrain_at(dem, rows.ravel(), cols.ravel(), RES)
    sigma = (0.5 + 0.04 * np.nan_to_num(slope)).reshape(dem.shape)  # heteroscedastic: 0.5 m flat, 2.1 m at 40 deg
    return dem, glaciers, sigma


def _correlated_noise(rng, shape):
    """Unit-variance Gaussian random field with correlation exp(-d^2 / (4 SMOOTH_PX^2)) (d in px)."""
    n = max(shape) + 64  # padding wider than the kernel: no wrap-around correlation
    kx = np.fft.fftfreq(n)[:, None]
    ky = np.fft.fftfreq(n)[None, :]
    filt = np.exp(-2 * np.pi ** 2 * SMOOTH_PX ** 2 * (kx ** 2 + ky ** 2))
    field = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) * filt))[:shape[0], :shape[1]]
    return field * 2 * np.sqrt(np.pi) * SMOOTH_PX


def _true_standard_error(sigma, mask):
    """Exact standard error of the mean over ``mask`` for noise sigma * field (double sum by FFT convolution)."""
    a = np.where(mask, sigma, 0.0)
    k = np.arange(-40, 41)
    rho = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (4 * SMOOTH_PX ** 2))
    return float(np.sqrt(np.sum(a * fftconvolve(a, rho, mode="same")))) / mask.sum()


def test_simulation_confirms_the_exact_error_of_the_mean(terrain):
    dem, glaciers, sigma = terrain
    rng = np.random.default_rng(0)
    means = [np.mean((_correlated_noise(rng, dem.shape) * sigma)[glaciers]) for _ in range(60)]
    exact = _true_standard_error(sigma, glaciers)
    assert np.std(means) == pytest.approx(exact, rel=0.25)  # 60 draws: the std itself is known to ~10 %


@pytest.mark.parametrize("seed", [1, 2])
def test_estimated_error_of_mean_dh_within_20_percent(terrain, seed):
    dem, glaciers, sigma = terrain
    dh = (_correlated_noise(np.random.default_rng(seed), dem.shape) * sigma).astype(np.float32)
    u = estimate_uncertainty(dh, dem, ~glaciers, RES, seed=seed)
    out = area_change(dh, dem, glaciers, u, seed=seed)
    exact = _true_standard_error(sigma, glaciers)
    assert out["sigma_mean_dh_m"] == pytest.approx(exact, rel=0.2)
    # the error model found the heteroscedasticity: steeper bins have larger NMAD
    table = u.error_model.nmad.mean(axis=1)
    assert table[-1] > 2 * table[0]
    # the fitted correlation reaches zero near the true range (Gaussian, practical range sqrt(12) s = 346 m)
    assert 200 < max(a for _, _, a in u.model.components) < 700
    assert out["volume_change_m3"] == pytest.approx(out["mean_dh_m"] * out["area_m2"])
    assert out["sigma_volume_m3"] == pytest.approx(out["sigma_mean_dh_m"] * out["area_m2"])


def test_rolstad_closed_form_agrees_with_pair_sampling_on_a_disk():
    rows, cols = np.mgrid[0:400, 0:400]
    disk = (rows - 200) ** 2 + (cols - 200) ** 2 <= 150 ** 2
    r, c = np.nonzero(disk)
    pick = np.random.default_rng(0).choice(r.size, 5000, replace=False)
    model = VariogramModel(0.0, [("spherical", 1.0, 600.0)])  # range < disk radius (3000 m)
    sampled = mean_dh_error(np.ones(5000), r[pick], c[pick], RES, model, r.size)
    assert sampled == pytest.approx(rolstad_disk_error(r.size * RES ** 2, 1.0, model), rel=0.1)
    white = VariogramModel(1.0, [])
    assert mean_dh_error(np.full(5000, 2.0), r[pick], c[pick], RES, white, r.size) == pytest.approx(
        2.0 / np.sqrt(r.size), rel=1e-6)


def test_mass_balance_and_density_error():
    rows, cols = np.mgrid[0:100, 0:100]
    dem = (rows * 2.0 + cols).astype(np.float32)
    stable = cols < 50
    dh = np.where(stable, np.random.default_rng(0).normal(0, 1, dem.shape), -10.0).astype(np.float32)
    u = estimate_uncertainty(dh, dem, stable, RES, samples=20_000)
    out = area_change(dh, dem, ~stable, u, density=850.0, density_sigma=60.0)
    assert out["mean_dh_m"] == pytest.approx(-10.0) and out["mass_balance_mwe"] == pytest.approx(-8.5)
    assert out["sigma_mass_mwe"] >= 10.0 * 60 / 1000 and out["area_m2"] == pytest.approx(5000 * RES ** 2)
    labels = np.where(~stable, 1 + (rows >= 50), 0)
    both = area_changes(dh, dem, labels, u)
    assert set(both) == {1, 2} and both[1]["area_m2"] == pytest.approx(2500 * RES ** 2)


def test_too_little_stable_terrain_is_a_clear_error():
    with pytest.raises(InputError, match="stable pixels"):
        estimate_uncertainty(np.zeros((20, 20), np.float32), np.zeros((20, 20), np.float32),
                             np.ones((20, 20), bool), RES)
    with pytest.raises(InputError, match="stable pixels"):
        fit_error_model(np.zeros(10), np.zeros(10), np.zeros(10))
