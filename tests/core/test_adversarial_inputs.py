"""Adversarial inputs (issue 12): the kinds of files glaciologists really have.

One test per numbered case of the issue, through the core: each gives the right numbers,
a :class:`SeracWarning` that says what was assumed, or a typed error naming the fix.
Plus a truncated GeoTIFF and an unwritable output folder.
"""

import os
import re
import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from serac.core import raster_io as rio
from serac.core.dem import make_pipeline
from serac.core.errors import InputError, OutputError, SeracWarning, UnreadableRasterError

UTM = CRS.from_epsg(32633)
SHIFT = (7.0, -4.0, 2.5)  # displacement of the synthetic DEM relative to the reference (m)


def terrain(x, y):
    """Smooth hills with slopes in every direction (m)."""
    return (600 + 250 * np.sin(x / 900.0) * np.cos(y / 700.0) + 90 * np.sin((x + 2 * y) / 420.0)
            + 40 * np.cos((3 * x - y) / 260.0))


def grid(width=200, height=200, res=20.0, x0=500000.0, y0=8600000.0, crs=UTM):
    return rio.RasterGrid(crs, Affine(res, 0, x0, 0, -res, y0), width, height)


def sample(g, shift=(0.0, 0.0, 0.0)):
    rows, cols = np.mgrid[0:g.height, 0:g.width]
    x, y = g.xy(rows, cols)
    return terrain(x - shift[0], y - shift[1]) + shift[2]


def write(path, values, g, dtype="float32", nodata=None, scale=None, offset=None, count=1):
    values = np.asarray(values)
    values = values[None] if values.ndim == 2 else values
    with rasterio.open(path, "w", driver="GTiff", width=g.width, height=g.height, count=values.shape[0],
                       dtype=dtype, crs=g.crs, transform=g.transform, nodata=nodata) as ds:
        ds.write(values.astype(dtype))
        if scale is not None or offset is not None:
            ds.scales = [scale or 1.0] * values.shape[0]
            ds.offsets = [offset or 0.0] * values.shape[0]
    return str(path)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    g = grid()
    return write(tmp_path_factory.mktemp("ref") / "reference.tif", sample(g), g, nodata=-9999.0), g


def fit(ref, dem):
    return make_pipeline("nuth_kaab").fit(ref, dem)


def assert_right_shift(result):
    assert result.shift_x_m == pytest.approx(-SHIFT[0], abs=0.3)
    assert result.shift_y_m == pytest.approx(-SHIFT[1], abs=0.3)
    assert result.shift_z_m == pytest.approx(-SHIFT[2], abs=0.1)


# -- 1. outside the footprint is nodata, with or without a nodata tag ---------------------------------------

def test_1_untagged_dem_covering_part_of_the_reference_is_nodata_outside(reference, tmp_path):
    ref, g = reference
    # 97 % of the reference, on a grid offset by a third of a pixel (so it is warped, not read directly)
    part = grid(width=194, height=200, x0=500000.0 + 120.0 + 20.0 / 3)
    dem = write(tmp_path / "dem_untagged.tif", sample(part, SHIFT), part)
    values = rio.read_on_grid(dem, g).band(1)
    assert np.isnan(values[:, :5]).all()  # left of the footprint: NaN, not 0
    assert np.nanmin(values) > 100.0
    assert_right_shift(fit(ref, dem))


def test_1_untagged_angle_raster_covering_half_the_scene_reads_nan_outside(tmp_path):
    g = grid(width=100, height=100)
    half = grid(width=50, height=100, x0=500000.0 + 10.0)  # shifted half a pixel: warped
    angle = write(tmp_path / "angle.tif", np.full(half.shape, 39.0), half)
    from serac.core.sar.sources import RasterSource

    values = RasterSource(angle, g, what="incidence angle").read(rasterio.windows.Window(0, 0, 100, 100))
    assert np.isnan(values[:, 60:]).all()
    finite = values[np.isfinite(values)]
    assert finite.size > 0 and np.allclose(finite, 39.0)


# -- 2. untagged voids and nodata tags the data type cannot hold ---------------------------------------------

@pytest.mark.parametrize("void, dtype", [(-9999.0, "float32"), (-32768.0, "int16"), (-32767.0, "int16"),
                                         (float(np.finfo(np.float32).max), "float32"), (0.0, "uint16")])
def test_2_untagged_voids_are_nodata_with_a_warning_naming_the_value(reference, tmp_path, void, dtype):
    ref, g = reference
    z = np.round(sample(g, SHIFT))
    z[40:70, 50:90] = void
    dem = write(tmp_path / f"voids_{dtype}.tif", z, g, dtype=dtype)
    with pytest.warns(SeracWarning, match=re.escape(f"holds {void:g}, a void value") + ".*nodata"):
        result = fit(ref, dem)
    assert_right_shift(result)
    assert abs(result.stats_after["median"]) < 0.5 and result.stats_after["nmad"] < 1.0


def test_2_two_different_void_values_are_refused_with_the_fix(tmp_path):
    g = grid(width=50, height=50)
    z = sample(g)
    z[0, 0], z[1, 1] = -9999.0, -32768.0
    path = write(tmp_path / "two_voids.tif", z, g)
    with pytest.raises(InputError, match="several void values.*gdal_edit.py -a_nodata"):
        rio.read_raster(path)


def test_2_nodata_tag_the_dtype_cannot_hold_is_clipped_with_a_warning(tmp_path):
    g = grid(width=50, height=50)
    z = np.full(g.shape, 5000, dtype="uint16")
    z[:10] = 0
    path = write(tmp_path / "khumbu_like.tif", z, g, dtype="uint16")
    from osgeo import gdal

    ds = gdal.Open(path, gdal.GA_Update)
    ds.GetRasterBand(1).SetNoDataValue(-3.4028234663852886e+38)
    ds = None
    with pytest.warns(SeracWarning, match="nodata tag -3.40282e\\+38 .* cannot occur in its uint16 data.*treats 0"):
        values = rio.read_raster(path).band(1)
    assert np.isnan(values[:10]).all() and np.all(values[10:] == 5000)


def test_2_real_khumbu_dem_with_unholdable_tag(shared_data):
    path = shared_data / "optical" / "khumbu_s2" / "hma-khumbu.tif"
    with pytest.warns(SeracWarning, match="cannot occur in its uint16 data"):
        values = rio.BandReader(path, zero_is_void=True).read(rio.read_grid(path))
    assert np.nanmin(values) > 3000.0  # Khumbu: no 0 m elevations left


def test_2_zero_in_unsigned_data_is_kept_outside_dems(tmp_path):
    g = grid(width=20, height=20)
    mask = np.zeros(g.shape, dtype="uint8")
    mask[5:10] = 1
    path = write(tmp_path / "mask.tif", mask, g, dtype="uint8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeracWarning)
        values = rio.read_raster(path).band(1)
    assert np.count_nonzero(values == 0) == 300


# -- 3. GDAL scale and offset are applied on every read -------------------------------------------------------

def test_3_scale_and_offset_are_applied(reference, tmp_path):
    ref, g = reference
    stored = np.round((sample(g, SHIFT) + 500.0) / 0.5)  # value = stored * 0.5 - 500
    dem = write(tmp_path / "scaled.tif", stored, g, dtype="int16", nodata=-32768, scale=0.5, offset=-500.0)
    np.testing.assert_allclose(rio.read_raster(dem).band(1), stored * 0.5 - 500.0)
    np.testing.assert_allclose(rio.BandReader(dem).read(g), stored * 0.5 - 500.0)
    other = grid(x0=500000.0 + 7.0)
    warped = rio.read_on_grid(dem, other).band(1)
    assert np.nanmax(np.abs(warped - sample(other, SHIFT))) < 20.0
    assert_right_shift(fit(ref, dem))


# -- truncated or corrupt files -------------------------------------------------------------------------------

def truncated_copy(src, dst, keep=0.6):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[:int(len(data) * keep)])
    return str(dst)


@pytest.fixture
def truncated(reference, tmp_path):
    ref, g = reference
    full = write(tmp_path / "full.tif", sample(g), g, nodata=-9999.0)
    return truncated_copy(full, tmp_path / "truncated.tif"), g


def test_truncated_geotiff_is_a_typed_error_naming_the_file(truncated, reference):
    path, g = truncated
    with pytest.raises(UnreadableRasterError, match="truncated.tif.*download or export the file again"):
        rio.read_raster(path)
    with pytest.raises(UnreadableRasterError, match="truncated.tif"):
        rio.BandReader(path)
    with pytest.raises(UnreadableRasterError, match="truncated.tif"):
        fit(reference[0], path)


def test_garbage_file_is_a_typed_error(tmp_path):
    path = tmp_path / "garbage.tif"
    path.write_bytes(b"II*\x00" + os.urandom(2000))
    with pytest.raises(UnreadableRasterError, match="garbage.tif.*download or export"):
        rio.read_grid(path)


# -- unwritable output folder ---------------------------------------------------------------------------------

def test_unwritable_output_is_a_typed_error_naming_the_file(readonly_dir, reference):
    ref, g = reference
    target = readonly_dir / "dh.tif"
    with pytest.raises(OutputError, match="dh.tif.*choose an output folder you can write to"):
        rio.check_output_path(target)
    with pytest.raises(OutputError, match="dh.tif"):
        rio.write_raster(target, np.zeros(g.shape, dtype="float32"), g)
    assert os.listdir(readonly_dir) == []
