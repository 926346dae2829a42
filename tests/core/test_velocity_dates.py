"""Acquisition dates from file names and metadata; the interval."""

import datetime as dt

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from serac.core.errors import InputError
from serac.core.raster_io import RasterGrid, write_raster
from serac.core.velocity.dates import date_of_raster, interval_years, parse_date, resolve_dates


@pytest.mark.parametrize("name, expected", [
    ("LC08_L1TP_170002_20180401_20180416_01_T1_B8.TIF", dt.date(2018, 4, 1)),
    ("LE71400412000304SGS00_B4.tif", dt.date(2000, 10, 30)),  # year 2000, day 304
    ("S2A_MSIL1C_20200101T101421_N0208_R022_T32TLR_20200103T122132.SAFE", dt.date(2020, 1, 1)),
    ("T32TLR_20200105T101421_B04_10m.jp2", dt.date(2020, 1, 5)),
    ("20200205.jpg", dt.date(2020, 2, 5)),
    ("scene_2021-03-04.tif", dt.date(2021, 3, 4)),
    ("2018:04:05 10:00:00", dt.date(2018, 4, 5)),
    ("dem_v2_12345678.tif", None),
    ("no date here", None),
])
def test_parse_date(name, expected):
    assert parse_date(name) == expected


def test_date_from_metadata_wins_over_file_name(tmp_path):
    grid = RasterGrid(CRS.from_epsg(32633), Affine(10, 0, 500000, 0, -10, 7000000), 8, 8)
    path = tmp_path / "img_20190101.tif"
    write_raster(path, np.zeros((8, 8), "float32"), grid, tags={"ACQUISITION_DATE": "2019-07-15"})
    assert date_of_raster(path) == dt.date(2019, 7, 15)
    plain = tmp_path / "img_20190101_b.tif"
    write_raster(plain, np.zeros((8, 8), "float32"), grid)
    assert date_of_raster(plain) == dt.date(2019, 1, 1)


def test_interval_in_years_signed_and_identical_dates_refused():
    assert interval_years("2020-01-01", "2020-01-21") == pytest.approx(20 / 365.25)
    assert interval_years("2020-01-21", "2020-01-01") == pytest.approx(-20 / 365.25)
    with pytest.raises(InputError, match="two different dates"):
        interval_years("2020-01-01", dt.date(2020, 1, 1))


def test_missing_date_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="reference date"):
        resolve_dates(str(tmp_path / "a.tif"), str(tmp_path / "b_20200101.tif"))
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        resolve_dates(None, None, "yesterday", "2020-01-01")
