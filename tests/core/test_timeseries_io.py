"""Reading velocity pair rasters with their dates, components and units."""

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from serac.core import raster_io as rio
from serac.core.errors import InputError
from serac.core.timeseries.io import (PairStack, dates_from_name, dates_from_tags, error_from_tags, open_pair,
                                      open_pairs, unit_factor)


def grid(width=20, height=10, x0=500000.0, y0=7000000.0, res=100.0):
    return rio.RasterGrid(CRS.from_epsg(32607), Affine(res, 0, x0, 0, -res, y0), width, height)


def day(text):
    return np.datetime64(text, "D")


def test_dates_from_file_names():
    assert dates_from_name("/x/20180304-20180405_velo-raw_vx.tif") == (day("2018-03-04"), day("2018-04-05"))
    assert dates_from_name("S2_2019-07-01_2019-07-11_velocity.tif") == (day("2019-07-01"), day("2019-07-11"))
    itslive = ("LC08_L1TP_061018_20180304_20180319_01_T1_X_LC08_L1TP_061018_20180405_20180417_01_T1"
               "_G0240V01_P095.tif")
    assert dates_from_name(itslive) == (day("2018-03-04"), day("2018-04-05"))
    assert dates_from_name("velocity_20180304.tif") is None
    assert dates_from_name("run_123456789_20181399_x.tif") is None  # not dates


def test_dates_from_tags():
    assert dates_from_tags({"DATE1": "2018-03-04", "DATE2": "2018-04-05"}) == (day("2018-03-04"), day("2018-04-05"))
    assert dates_from_tags({"date_1": "20180304", "date_2": "20180405"})[1] == day("2018-04-05")
    assert dates_from_tags({"img_pair_info#acquisition_date_img1": "20180304T20:12:01",
                            "img_pair_info#acquisition_date_img2": "20180405T20:12:09"})[0] == day("2018-03-04")
    assert dates_from_tags({"AREA_OR_POINT": "Area"}) is None


def test_units():
    assert unit_factor("m/y") == 1.0 and unit_factor("m yr-1") == 1.0
    assert unit_factor("m/day") == pytest.approx(365.25) and unit_factor("M/D") == pytest.approx(365.25)
    assert unit_factor("furlongs/fortnight") is None


def test_multiband_velocity_file_with_named_bands_tags_and_valid_mask(tmp_path):
    g = grid()
    data = np.zeros((5, *g.shape), np.float32)
    data[0], data[1], data[2], data[3], data[4] = 5.0, 3.0, 4.0, 0.9, 1.0  # speed, vx, vy, quality, valid
    data[4, 0, 0] = 0.0
    path = tmp_path / "pair.tif"
    rio.write_raster(path, data, g, band_names=["speed", "vx", "vy", "quality", "valid"],
                     tags={"DATE1": "2018-03-04", "DATE2": "2018-04-05", "units": "m/day"}, cog=False)
    pair = open_pair(path)
    assert pair.components == ("vx", "vy") and [r.band for _, r in pair.bands] == [2, 3]
    assert pair.valid.band == 5 and pair.baseline_days == 32
    assert pair.units_known and pair.scale == pytest.approx(365.25)
    values = PairStack([pair]).read()
    assert values.shape == (1, 2, *g.shape)
    assert np.isnan(values[0, :, 0, 0]).all()
    np.testing.assert_allclose(values[0, 0, 1:, :], 3.0 * 365.25, rtol=1e-6)


def test_serac_velocity_product_gives_components_dates_and_error(tmp_path):
    """Serac's velocity GeoTIFF: bands vx, vy, speed, ncc, peak_ratio, chip_px, status; dates, NMAD in tags."""
    g = grid()
    data = np.ones((7, *g.shape), np.float32)
    path = tmp_path / "velocity.tif"
    rio.write_raster(path, data, g, band_names=["vx", "vy", "speed", "ncc", "peak_ratio", "chip_px", "status"],
                     tags={"SERAC_PRODUCT": "glacier_velocity", "UNITS": "m/yr", "REFERENCE_DATE": "2020-01-06",
                           "SECONDARY_DATE": "2020-01-21", "STABLE_NMAD_VX": "12.0", "STABLE_NMAD_VY": "18.0"},
                     band_tags={1: {"UNITS": "m/yr"}, 2: {"UNITS": "m/yr"}}, cog=False)
    pair = open_pair(path)
    assert (pair.date1, pair.date2) == (day("2020-01-06"), day("2020-01-21"))
    assert [r.band for _, r in pair.bands] == [1, 2] and pair.units_known and pair.scale == 1.0
    assert pair.error == pytest.approx(15.0) and pair.valid is None
    assert error_from_tags({"vx_error": "3", "vy_error": "5"}) == 4.0
    assert error_from_tags({"STABLE_NMAD_VX": "nan", "STABLE_NMAD_VY": "2"}) is None


def test_unnamed_bands_default_to_vx_vy_and_explicit_dates_win(tmp_path):
    g = grid()
    path = tmp_path / "20180101-20180201.tif"
    rio.write_raster(path, np.stack([np.full(g.shape, 1.0), np.full(g.shape, 2.0)]).astype("float32"), g, cog=False)
    pair = open_pair(path, "2018-01-05", "2018-01-25", units="m/yr", error=10.0)
    assert pair.date1 == day("2018-01-05") and pair.date2 == day("2018-01-25") and pair.error == 10.0
    assert [r.band for _, r in pair.bands] == [1, 2] and pair.units_known
    assert open_pair(path).date1 == day("2018-01-01") and not open_pair(path).units_known


def test_glaft_vx_vy_files_become_one_pair(shared_data):
    folder = shared_data / "velocity" / "glaft_kaskawulsh"
    vx, vy = folder / "20180304-20180405_velo-raw_vx.tif", folder / "20180304-20180405_velo-raw_vy.tif"
    pairs = open_pairs([vx, vy], units="m/day")
    assert len(pairs) == 1
    pair = pairs[0]
    assert pair.components == ("vx", "vy") and pair.bands[1][1].path == str(vy)
    assert (pair.date1, pair.date2) == (day("2018-03-04"), day("2018-04-05"))
    window = (300, 200, 50, 40)
    got = PairStack(pairs).read(window)[0]
    raw = rio.read_raster(vy, window=window).data[0]
    np.testing.assert_allclose(got[1], raw * 365.25, rtol=1e-6, equal_nan=True)
    assert not open_pair(vx).units_known  # GLAFT stores no unit: the caller must say m/day


def test_itslive_units_come_from_metadata(shared_data):
    path = shared_data / "velocity" / "itslive_columbia" / "crop_ALA_G0120_0000_vx.tif"
    pair = open_pair(path, "2018-01-01", "2018-02-01")
    assert pair.units_known and pair.scale == 1.0 and pair.components == ("vx", "vy")


def test_pairs_on_other_grids_are_read_onto_the_first_grid(tmp_path):
    g = grid(40, 30)
    rows, cols = np.mgrid[0:30, 0:40].astype(np.float32)
    field = np.stack([cols * 10.0, rows * 10.0])
    a = tmp_path / "20180101-20180201.tif"
    b = tmp_path / "20180110-20180301.tif"
    rio.write_raster(a, field, g, band_names=["vx", "vy"], cog=False)
    sub = g.window_grid((5, 3, 30, 20))  # a crop 5 px east, 3 px south
    rio.write_raster(b, field[:, 3:23, 5:35], sub, band_names=["vx", "vy"], cog=False)
    stack = PairStack(open_pairs([a, b], units="m/yr"))
    assert stack.grid.matches(g)
    values = stack.read()
    np.testing.assert_allclose(values[1, :, 3:23, 5:35], field[:, 3:23, 5:35], atol=1e-3)
    assert np.isnan(values[1, :, 0, 0]).all()
    x, y = g.xy(10, 12)
    np.testing.assert_allclose(stack.read_point(x, y), [[120.0, 100.0], [120.0, 100.0]], atol=1e-3)
    with pytest.raises(InputError):
        stack.read_point(0.0, 0.0)


def test_unusable_inputs_raise_clear_errors(tmp_path):
    g = grid()
    undated = tmp_path / "velocity.tif"
    rio.write_raster(undated, np.ones((2, *g.shape), "float32"), g, cog=False)
    with pytest.raises(InputError, match="dates .* unknown"):
        open_pair(undated)
    with pytest.raises(InputError, match="not recognised"):
        open_pair(undated, "2018-01-01", "2018-02-01", units="knots")
    with pytest.raises(InputError, match="same first and second date"):
        open_pair(undated, "2018-01-01", "2018-01-01")
    speed = tmp_path / "20180101-20180201_speed.tif"
    rio.write_raster(speed, np.ones(g.shape, "float32"), g, band_names=["speed"], cog=False)
    with pytest.raises(InputError, match="components"):
        PairStack([open_pair(undated, "2018-01-01", "2018-02-01"), open_pair(speed)])
    with pytest.raises(InputError):
        open_pairs([])
