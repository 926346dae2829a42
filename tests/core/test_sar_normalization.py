"""Cosine-law and linear-in-dB normalization: formulas, checks, and the blockwise engine on real backscatter."""

import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import calculate_default_transform, reproject

from serac.core import raster_io as rio
from serac.core.errors import Cancelled, InputError, NoOverlapError
from serac.core.progress import ConsoleFeedback
from serac.core.sar import synthetic, units
from serac.core.sar.engine import normalize_raster, write_sources
from serac.core.sar.normalization import CosineLaw, LinearDB, check_angles, check_theta_ref
from serac.core.sar.regression import fit_line
from serac.core.sar.sources import ConstantSource

PYROSAR = "sar/pyrosar/S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"


@pytest.fixture(scope="module")
def real(shared_data):
    """Real Sentinel-1 VV sigma0 (dB), taken as the truth at 35 deg, and a 30-45 deg angle ramp."""
    r = rio.read_raster(shared_data / PYROSAR)
    return r.data[0], r.grid, synthetic.angle_ramp(r.grid.shape, 30.0, 45.0)


def residual_slope(normalized, truth, theta):
    """Angle dependence left after normalization (dB/deg): slope of (normalized - truth) vs angle."""
    return fit_line(theta.ravel(), (normalized - truth).ravel()).slope


# -- formulas ---------------------------------------------------------------------------------
def test_cosine_law_in_db_equals_the_linear_power_law():
    rng = np.random.default_rng(0)
    sigma_lin = rng.uniform(0.001, 0.5, 1000).astype(np.float32)
    theta = rng.uniform(20, 50, 1000).astype(np.float32)
    for n in (1.0, 2.0, 3.3):
        expected = units.to_db(sigma_lin * np.cos(np.radians(35.0)) ** n / np.cos(np.radians(theta)) ** n)
        got = CosineLaw(n, 35.0).apply(units.to_db(sigma_lin), theta)
        np.testing.assert_allclose(got, expected, atol=2e-4)


def test_cosine_correction_is_additive_in_db_never_multiplicative():
    law = CosineLaw(2.0, 35.0)
    sigma_db = np.array([-20.0, -10.0, -5.0], dtype=np.float32)
    at_ref = law.apply(sigma_db.copy(), np.full(3, 35.0, np.float32))
    np.testing.assert_allclose(at_ref, sigma_db, atol=1e-5)  # no change at the reference angle
    far = law.apply(sigma_db.copy(), np.full(3, 45.0, np.float32))
    shift = far - sigma_db
    np.testing.assert_allclose(shift, shift[0], atol=1e-5)  # same dB shift whatever the level
    assert shift[0] == pytest.approx(20 * np.log10(np.cos(np.radians(35)) / np.cos(np.radians(45))), abs=1e-4)
    # the known bug: multiplying dB values by cos^2 ratio would scale -20 dB and -5 dB differently
    wrong = sigma_db * (np.cos(np.radians(35)) / np.cos(np.radians(45))) ** 2
    assert not np.allclose(wrong - sigma_db, shift)


def test_linear_db_with_number_and_per_pixel_beta():
    theta = np.array([[30.0, 35.0, 40.0]], dtype=np.float32)
    sigma = np.array([[-9.0, -10.0, -11.0]], dtype=np.float32)
    np.testing.assert_allclose(LinearDB(-0.2, 35.0).apply(sigma.copy(), theta, -0.2), [[-10.0] * 3], atol=1e-6)
    beta = np.array([[-0.2, -0.5, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(LinearDB(beta, 35.0).apply(sigma.copy(), theta, beta), [[-10.0, -10.0, -11.0]],
                               atol=1e-6)


@pytest.mark.parametrize("bad", [0.0, 90.0, -5.0, 95.0])
def test_angles_outside_0_90_are_rejected(bad):
    theta = np.array([30.0, np.nan, bad], dtype=np.float32)
    with pytest.raises(InputError, match="outside 0-90"):
        check_angles(theta)
    with pytest.raises(InputError, match="outside 0-90"):
        check_theta_ref(bad)
    check_angles(np.array([0.5, 89.5, np.nan]))  # NaN (nodata) is fine


def test_bad_method_parameters():
    with pytest.raises(InputError, match="needs beta"):
        LinearDB(None)
    with pytest.raises(InputError, match="plausible"):
        LinearDB(12.0)
    with pytest.raises(InputError, match="exponent"):
        CosineLaw(-1.0)
    with pytest.raises(InputError, match="one per band"):
        LinearDB([-0.1, -0.2]).beta_for_band(0, 3)


# -- engine on real backscatter ------------------------------------------------------------------
def test_known_linear_effect_on_real_backscatter_is_removed(real, tmp_path):
    truth, grid, theta = real
    observed = synthetic.add_linear_effect(truth, theta, -0.15)
    rio.write_raster(tmp_path / "obs.tif", observed, grid)
    rio.write_raster(tmp_path / "theta.tif", theta, grid)
    res = normalize_raster(tmp_path / "obs.tif", tmp_path / "norm.tif", LinearDB(-0.15, 35.0),
                           str(tmp_path / "theta.tif"), unit="dB", block_size=100)
    out = rio.read_raster(tmp_path / "norm.tif")
    assert out.grid.matches(grid) and out.tags["UNIT"] == "dB"
    assert np.nanmax(np.abs(out.data[0] - truth)) < 1e-4
    assert abs(residual_slope(out.data[0], truth, theta)) < 0.01
    # the reported apparent slope drops by the synthetic beta
    assert res.slope_before[0] - res.slope_after[0] == pytest.approx(-0.15, abs=0.005)
    assert res.angle_range == pytest.approx((30.0, 45.0), abs=1e-3)


def test_cosine_effect_in_linear_input_is_removed_and_output_is_db(real, tmp_path):
    truth, grid, theta = real
    observed = synthetic.add_cosine_effect(units.to_linear(truth), theta, n=2.0)
    rio.write_raster(tmp_path / "obs.tif", observed, grid)  # no unit in metadata: detected from values
    res = normalize_raster(tmp_path / "obs.tif", tmp_path / "norm.tif", CosineLaw(2.0, 35.0),
                           _angle_file(tmp_path, theta, grid))
    assert res.unit.unit == units.LINEAR and res.unit.source == "values"
    out = rio.read_raster(tmp_path / "norm.tif").data[0]
    assert np.nanmax(np.abs(out - truth)) < 1e-3
    assert abs(residual_slope(out, truth, theta)) < 0.01


def _angle_file(tmp_path, theta, grid, name="theta.tif"):
    rio.write_raster(tmp_path / name, theta, grid)
    return str(tmp_path / name)


def test_two_polarisations_with_one_beta_each(real, tmp_path):
    truth, grid, theta = real
    vv = synthetic.add_linear_effect(truth, theta, -0.12)
    vh = synthetic.add_linear_effect(truth - 7.0, theta, -0.25)
    rio.write_raster(tmp_path / "s1.tif", np.stack([vv, vh]), grid, band_names=["VV_dB", "VH_dB"])
    res = normalize_raster(tmp_path / "s1.tif", tmp_path / "norm.tif", LinearDB([-0.12, -0.25]),
                           _angle_file(tmp_path, theta, grid))
    out = rio.read_raster(tmp_path / "norm.tif")
    assert out.band_names == ["VV_dB_norm35_dB", "VH_dB_norm35_dB"]
    assert res.unit.source == "metadata"
    np.testing.assert_allclose(out.data[0], truth, atol=1e-4)
    np.testing.assert_allclose(out.data[1], truth - 7.0, atol=1e-4)


def test_angle_raster_on_another_grid_is_reprojected(real, tmp_path):
    truth, grid, theta = real
    observed = synthetic.add_linear_effect(truth, theta, -0.2)
    rio.write_raster(tmp_path / "obs_db.tif", observed, grid)
    # the same angles in geographic coordinates, on a coarser grid
    dst_crs = CRS.from_epsg(4326)
    transform, width, height = calculate_default_transform(grid.crs, dst_crs, grid.width, grid.height,
                                                           *grid.bounds)
    geo = np.full((height, width), np.nan, np.float32)
    reproject(theta, geo, src_transform=grid.transform, src_crs=grid.crs, dst_transform=transform,
              dst_crs=dst_crs, dst_nodata=np.nan, resampling=rasterio.enums.Resampling.bilinear)
    geo_grid = rio.RasterGrid(dst_crs, transform, width, height)
    rio.write_raster(tmp_path / "theta_geo.tif", geo, geo_grid)
    fb = ConsoleFeedback(verbose=False)
    res = normalize_raster(tmp_path / "obs_db.tif", tmp_path / "norm.tif", LinearDB(-0.2),
                           str(tmp_path / "theta_geo.tif"), feedback=fb)
    assert "resampled" in res.angle_source
    out = rio.read_raster(tmp_path / "norm.tif").data[0]
    inner = np.s_[3:-3, 3:-3]  # edge pixels may fall outside the reprojected angle raster
    assert np.nanmedian(np.abs(out[inner] - truth[inner])) < 0.01  # angles interpolated twice: ~0.05 deg
    assert abs(residual_slope(out[inner], truth[inner], theta[inner])) < 0.01


def test_angle_raster_elsewhere_is_a_clear_error(real, tmp_path):
    truth, grid, theta = real
    rio.write_raster(tmp_path / "obs_db.tif", truth, grid)
    far = rio.RasterGrid(grid.crs, Affine.translation(200_000, 0) * grid.transform, grid.width, grid.height)
    rio.write_raster(tmp_path / "theta_far.tif", theta, far)
    with pytest.raises(NoOverlapError, match="do not overlap"):
        normalize_raster(tmp_path / "obs_db.tif", tmp_path / "norm.tif", CosineLaw(),
                         str(tmp_path / "theta_far.tif"))
    assert not os.path.exists(tmp_path / "norm.tif")


def test_bad_angle_inputs_are_clear_errors(real, tmp_path):
    truth, grid, theta = real
    rio.write_raster(tmp_path / "obs_db.tif", truth, grid)
    with pytest.raises(InputError, match="No incidence angle"):
        normalize_raster(tmp_path / "obs_db.tif", tmp_path / "n.tif", CosineLaw(), None)
    with pytest.raises(InputError, match="radians"):
        normalize_raster(tmp_path / "obs_db.tif", tmp_path / "n.tif", CosineLaw(),
                         _angle_file(tmp_path, np.radians(theta), grid, "rad.tif"))
    bad = theta.copy()
    bad[150, 200] = 120.0  # a single bad value is enough
    with pytest.raises(InputError, match="outside 0-90"):
        normalize_raster(tmp_path / "obs_db.tif", tmp_path / "n.tif", CosineLaw(),
                         _angle_file(tmp_path, bad, grid, "bad.tif"), block_size=64)
    assert not os.path.exists(tmp_path / "n.tif")


def test_db_linear_confusion_warns(real, tmp_path):
    truth, grid, theta = real
    rio.write_raster(tmp_path / "obs.tif", units.to_linear(truth), grid)
    fb = ConsoleFeedback(verbose=False)
    res = normalize_raster(tmp_path / "obs.tif", tmp_path / "n.tif", CosineLaw(), 35.0, unit="dB", feedback=fb)
    assert res.warnings and "look like linear" in res.warnings[0]
    assert any(m.startswith("WARNING") and "look like linear" in m for m in fb.messages)


def test_cancel_leaves_no_output(real, tmp_path):
    truth, grid, _ = real
    rio.write_raster(tmp_path / "obs_db.tif", truth, grid)
    with pytest.raises(Cancelled):
        normalize_raster(tmp_path / "obs_db.tif", tmp_path / "n.tif", CosineLaw(), ConstantSource(40.0),
                         block_size=32, feedback=ConsoleFeedback(verbose=False, cancel_after=3))
    assert not os.path.exists(tmp_path / "n.tif")


def test_write_sources_writes_an_angle_map(real, tmp_path):
    _, grid, theta = real
    path = write_sources(tmp_path / "angle.tif", grid, [ConstantSource(33.0)], ["incidence_angle_deg"])
    out = rio.read_raster(path)
    assert out.band_names == ["incidence_angle_deg"] and np.all(out.data == 33.0)
