"""Elevation change rate from a DEM series: Theil-Sen per pixel, its error, the Hooker 2012-2014 DEMs."""

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.dem.rate import decimal_year, elevation_change_rate, rate_of_stack
from serac.core.errors import InputError

HOOKER = ("HookerFJL_12JUL20WV01DEM2_30m.tif", "HookerFJL_13APR19WV01DEM3_30m.tif",
          "HookerFJL_14APR02WV02DEM1_30m.tif")
DATES = ("2012-07-20", "2013-04-19", "2014-04-02")


def test_decimal_years():
    assert decimal_year("2013-01-01") == 2013.0
    assert decimal_year("2012-07-20") == pytest.approx(2012 + 201 / 366)
    with pytest.raises(InputError, match="date"):
        decimal_year("20/07/2012")


def test_known_rate_with_a_blunder_and_calibrated_error(shared_data):
    z0 = rio.read_raster(shared_data / "dem" / "carst_hooker_icesat" / HOOKER[1]).band(1).astype(np.float64)
    years = np.array([2010.0, 2011.0, 2012.5, 2013.0, 2014.2, 2015.0])
    truth = np.where(np.isfinite(z0), -1.5 + 0.002 * np.nan_to_num(z0), np.nan)  # m/yr, varies with elevation
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.5, (years.size,) + z0.shape)
    stack = z0[None] + truth[None] * (years - 2012.0)[:, None, None] + noise
    stack[2, :40] += 25.0  # one DEM with a blunder over a strip: Theil-Sen ignores it
    out = rate_of_stack(stack, years)
    ok = np.isfinite(out["rate"])
    err = (out["rate"] - truth)[ok]
    assert abs(np.median(err)) < 0.01 and np.abs((out["rate"] - truth)[:40][ok[:40]]).max() < 1.5
    clean = ok.copy()
    clean[:40] = False
    # the reported error matches the true scatter of the rate (RMS), Theil-Sen being ~ as efficient as least squares
    rms_reported = np.sqrt(np.mean(out["rate_error"][clean] ** 2))
    assert rms_reported == pytest.approx(np.std((out["rate"] - truth)[clean]), rel=0.2)
    assert np.array_equal(out["count"][ok], np.full(ok.sum(), 6.0))


def test_hooker_series_rate_blockwise_equals_in_memory(shared_data, tmp_path):
    d = shared_data / "dem" / "carst_hooker_icesat"
    dems = [d / f for f in HOOKER]
    arrays, summary = elevation_change_rate(dems, DATES, sigmas=[0.52, 0.37, 0.40], block_size=64)
    written, _ = elevation_change_rate(dems, DATES, sigmas=[0.52, 0.37, 0.40], block_size=100,
                                       out_paths={"rate": tmp_path / "rate.tif", "rate_error": tmp_path / "e.tif"},
                                       cog=False)
    on_disk = rio.read_raster(written["rate"]).band(1)
    np.testing.assert_allclose(on_disk, arrays["rate"], atol=1e-6, equal_nan=True)
    ok = np.isfinite(arrays["rate"])
    assert ok.sum() > 10_000
    # errors are at least the propagated DEM errors (~0.3 m/yr over 1.7 years)
    assert np.nanmin(arrays["rate_error"]) >= 0.25
    assert summary["years"][0] == pytest.approx(2012.55, abs=0.01)
    # the median rate over the grid is a few dm/yr at most (ice cap plus land): no gross datum or unit error
    assert abs(summary["rate_summary"]["median"]) < 1.0


def test_rate_inputs_are_checked(shared_data):
    d = shared_data / "dem" / "carst_hooker_icesat"
    with pytest.raises(InputError, match="one date per DEM"):
        elevation_change_rate([d / HOOKER[0], d / HOOKER[1]], DATES)
    with pytest.raises(InputError, match="same date"):
        elevation_change_rate([d / HOOKER[0], d / HOOKER[1]], ["2012-01-01", "2012-01-01"])
