"""mask_raster: values kept inside or outside outlines, everything else NaN, blockwise, metadata kept."""

import numpy as np
import pytest
from affine import Affine

from serac.core.masks import mask_raster
from serac.core.raster_io import RasterGrid, read_raster, write_raster

GRID = RasterGrid("EPSG:32633", Affine(10.0, 0, 500000.0, 0, -10.0, 7000000.0), 50, 40)
SQUARE = {"type": "Polygon", "coordinates": [[(500100.0, 6999900.0), (500300.0, 6999900.0),
                                              (500300.0, 6999700.0), (500100.0, 6999700.0),
                                              (500100.0, 6999900.0)]]}  # cols 10-29, rows 10-29
# an invalid (self-intersecting) bow-tie over cols 35-44, rows 0-9: rasterized all the same
BOWTIE = {"type": "Polygon", "coordinates": [[(500350.0, 7000000.0), (500450.0, 6999900.0),
                                              (500450.0, 7000000.0), (500350.0, 6999900.0),
                                              (500350.0, 7000000.0)]]}


@pytest.fixture
def raster(tmp_path):
    data = np.arange(2 * 40 * 50, dtype=np.float32).reshape(2, 40, 50)
    path = tmp_path / "in.tif"
    write_raster(path, data, GRID, band_names=["vx", "vy"], tags={"UNITS": "m/yr"})
    return path, data


@pytest.mark.parametrize("keep", ["inside", "outside"])
def test_values_kept_on_one_side_only(raster, tmp_path, keep):
    path, data = raster
    out = tmp_path / f"{keep}.tif"
    summary = mask_raster(path, out, [SQUARE], keep=keep, block=16)  # several blocks
    result = read_raster(out)
    inside = np.zeros((40, 50), bool)
    inside[10:30, 10:30] = True
    kept = inside if keep == "inside" else ~inside
    assert np.array_equal(result.data[:, kept], data[:, kept])
    assert np.isnan(result.data[:, ~kept]).all()
    assert result.band_names == ["vx", "vy"] and result.tags["UNITS"] == "m/yr" and result.grid.matches(GRID)
    assert summary.glacier_px == 400 and summary.glacier_area_km2 == pytest.approx(0.04)


def test_invalid_polygons_are_rasterized(raster, tmp_path):
    path, _ = raster
    summary = mask_raster(path, tmp_path / "o.tif", [BOWTIE], keep="inside")
    result = read_raster(tmp_path / "o.tif")
    assert summary.glacier_px > 0 and np.isfinite(result.band(1)).sum() == summary.glacier_px


def test_bad_keep_value(raster, tmp_path):
    with pytest.raises(ValueError, match="inside"):
        mask_raster(raster[0], tmp_path / "x.tif", [SQUARE], keep="both")
    assert not (tmp_path / "x.tif").exists()
