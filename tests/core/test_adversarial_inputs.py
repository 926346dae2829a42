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


# -- 4. vertical datums ---------------------------------------------------------------------------------------

def test_4_vertical_shift_equal_to_the_geoid_undulation_is_named(reference, tmp_path):
    from serac.core.dem.datum import _centre_lonlat, geoid_undulation

    ref, g = reference
    n, _ = geoid_undulation(*_centre_lonlat(g))
    if n is None:
        pytest.skip("no EGM96 grid installed for PROJ")
    n = float(n)
    assert 25.0 < n < 40.0  # Svalbard, EGM96
    dem = write(tmp_path / "ellipsoidal.tif", sample(g) + n, g, nodata=-9999.0)  # same terrain, ellipsoidal
    with pytest.warns(SeracWarning, match="close to the local geoid undulation.*ellipsoidal"):
        result = fit(ref, dem)
    assert result.shift_z_m == pytest.approx(-n, abs=0.05)


def test_4_declared_vertical_datums_that_differ_are_named():
    """One datum declared, the other not: a warning with what was assumed and the fix (conversion of declared
    datums: tests/core/test_dem_pair_datums.py)."""
    from serac.core.dem.pair_datum import check_vertical_datum, match_datums
    from serac.core.dem.sources import DemSource

    plain, compound = grid(), grid(crs=CRS.from_user_input("EPSG:32633+5773"))
    zeros = np.zeros((1,) + plain.shape, dtype="float32")
    ref, dem = DemSource(rio.Raster(zeros, compound), "reference DEM"), DemSource(rio.Raster(zeros, plain), "DEM")
    with pytest.warns(SeracWarning, match="relative to EGM96 .*undeclared datum.*assumed.*compound CRS"):
        same, pair = match_datums(ref, dem)
    assert same is dem and not pair.converted and len(pair.warnings) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeracWarning)
        _, same_datum = match_datums(dem, dem)
        assert check_vertical_datum(plain, same_datum, 0.3) == [] and not same_datum.warnings


# -- 5. almost no stable terrain --------------------------------------------------------------------------------

def test_5_one_percent_stable_terrain_warns_with_count_and_expected_error(tmp_path):
    from scipy import ndimage

    from serac.core.dem import StableTerrain

    g = grid(300, 300)
    ref = write(tmp_path / "ref.tif", sample(g), g, nodata=-9999.0)
    mask = np.ones(g.shape, "uint8")
    mask[:30, :30] = 0  # 1 % of the grid is stable
    unstable = np.where(mask == 1, -30.0, 0.0)
    noise = ndimage.gaussian_filter(np.random.default_rng(1).normal(0, 1, g.shape), 2) * 5
    dem = write(tmp_path / "dem.tif", sample(g, SHIFT) + unstable + noise, g, nodata=-9999.0)
    mask_path = write(tmp_path / "mask.tif", mask, g, dtype="uint8", nodata=255)
    with pytest.warns(SeracWarning, match=r"Only \d+ stable pixels \(0\.9 % .*expect an error of about ±[\d.]+ m") as w:
        result = make_pipeline("nuth_kaab").fit(ref, dem, StableTerrain(mask_path=mask_path))
    assert any(f"Only {result.counts['stable']} stable pixels" in str(m.message) for m in w)
    error = np.hypot(result.shift_x_m + SHIFT[0], result.shift_y_m + SHIFT[1])
    assert error > 0.2  # the shift really is uncertain here (about 0.9 m off)
    with warnings.catch_warnings():  # plenty of stable terrain: no warning
        warnings.simplefilter("error", SeracWarning)
        fit(ref, write(tmp_path / "all.tif", sample(g, SHIFT), g, nodata=-9999.0))


# -- 6. SAR physical ranges ----------------------------------------------------------------------------------------

SAR = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "sample_data", "sar")
VV = os.path.join(SAR, "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif")
ANGLE = os.path.join(SAR, "incidence_angle_synthetic_30_45deg.tif")


def test_6_reference_angle_in_radians_is_refused():
    from serac.core.sar.normalization import CosineLaw

    with pytest.raises(InputError, match="looks like radians.*give it in degrees, e.g. 35"):
        CosineLaw(theta_ref=0.61)


def test_6_beta_raster_in_db_per_radian_is_refused(tmp_path):
    from serac.core.sar.engine import normalize_raster
    from serac.core.sar.normalization import LinearDB

    g = rio.read_grid(VV)
    beta = write(tmp_path / "beta_per_rad.tif", np.full(g.shape, -0.2 * 57.2958), g)
    with pytest.raises(InputError, match="not dB per degree.*divide it by 57.3"):
        normalize_raster(VV, tmp_path / "out.tif", LinearDB(beta=beta), ANGLE)
    assert not (tmp_path / "out.tif").exists()


def test_6_angle_raster_of_another_area_is_refused(tmp_path):
    from serac.core.sar.engine import normalize_raster
    from serac.core.sar.normalization import CosineLaw

    g = rio.read_grid(VV)
    elsewhere = rio.RasterGrid(g.crs, Affine(g.res[0], 0, g.bounds[0] - 0.96 * (g.bounds[2] - g.bounds[0]), 0,
                                             -g.res[1], g.bounds[3]), g.width, g.height)
    angle = write(tmp_path / "angle_elsewhere.tif", np.full(elsewhere.shape, 38.0), elsewhere)
    with pytest.raises(InputError, match="no value on 9\\d % of the backscatter pixels.*this very product"):
        normalize_raster(VV, tmp_path / "out.tif", CosineLaw(), angle)


def test_6_radar_geometry_image_of_another_size_is_refused():
    import glob

    from serac.core.sar.annotation import IncidenceAngleModel
    from serac.core.sar.sources import AnnotationAngleSource

    model = IncidenceAngleModel.from_file(glob.glob(os.path.join(SAR, "s1b-*.xml"))[0])
    lines, pixels = model.image_shape
    odd = rio.RasterGrid(None, Affine.identity(), int(pixels / 2.6), int(lines / 2.6))
    with pytest.raises(InputError, match="nor a multilooked copy.*annotation XML of this very product"):
        AnnotationAngleSource(model, odd)
    AnnotationAngleSource(model, rio.RasterGrid(None, Affine.identity(), pixels // 4, lines // 4))  # 4 looks: fine


def test_6_amplitude_given_as_power_warns(tmp_path):
    from serac.core.sar.engine import decide_raster_unit

    r = rio.read_raster(VV)
    amplitude = np.sqrt(10 ** (r.band(1) / 10.0))
    path = tmp_path / "vv_linear.tif"
    rio.write_raster(path, amplitude.astype("float32"), r.grid)
    with pytest.warns(SeracWarning, match="may hold amplitude, not sigma0 power.*square it"):
        decision = decide_raster_unit(path, "linear")
    assert decision.unit == "linear"
    power = tmp_path / "vv_power.tif"
    rio.write_raster(power, (amplitude ** 2).astype("float32"), r.grid)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeracWarning)
        decide_raster_unit(power, "linear")


# -- 7. segmentation models: value range and fixed batch size --------------------------------------------------------

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", "models")
SEG = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "sample_data", "segmentation")
RGB = os.path.join(SEG, "everest_landsat_rgb_heldout.tif")


def test_7_sixteen_bit_data_to_the_eight_bit_model_is_refused(tmp_path):
    from serac.core.errors import ModelError
    from serac.core.segmentation import segment_raster

    r = rio.read_raster(RGB)
    sixteen = tmp_path / "rgb16.tif"
    rio.write_raster(sixteen, (np.nan_to_num(r.data) * 257).astype("uint16"), r.grid, nodata=0)
    with pytest.raises(ModelError, match="outside the 0 to 255 \\(uint8\\).*Translate: rescale"):
        segment_raster(str(sixteen), os.path.join(MODELS, "glacier_landsat_v1.onnx"), tmp_path / "p.tif")
    assert os.listdir(tmp_path) == ["rgb16.tif"]


def test_7_declared_percentile_rescale_stretches_with_a_warning():
    from serac.core.segmentation.model_metadata import ValueRange

    vr = ValueRange("uint8", 0.0, 255.0, "percentile")
    sample = np.random.default_rng(0).uniform(1000, 20000, (3, 5000))
    with pytest.warns(SeracWarning, match="stretched onto 0 to 255"):
        stretch = vr.check(sample, "uint16", "m")
    assert len(stretch) == 3 and 1000 < stretch[0][0] < stretch[0][1] < 20000
    assert ValueRange("uint8", 0.0, 255.0).check(np.full((3, 10), 100.0), "uint8", "m") is None


def test_7_onnx_model_with_fixed_batch_size_one_runs_tile_by_tile(tmp_path):
    import onnx

    from serac.core.segmentation import load_model

    src = os.path.join(MODELS, "glacier_landsat_v1.onnx")
    model = onnx.load(src)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    fixed = tmp_path / "batch1.onnx"
    onnx.save(model, str(fixed))
    batch = np.random.default_rng(2).normal(size=(3, 3, 64, 64)).astype("float32")
    got = load_model(str(fixed), backend="onnxruntime").predict(batch)
    expected = load_model(src, backend="onnxruntime").predict(batch)
    np.testing.assert_allclose(got, expected, atol=1e-5)


# -- 8. evaluation, empty masks, images as DEMs, areas on geographic rasters -------------------------------------------

def _square(x0, y0, size):
    return {"type": "Polygon", "coordinates": [[(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size),
                                                (x0, y0)]]}


def test_8_evaluating_layers_that_do_not_overlap_is_refused():
    from serac.core.errors import NoOverlapError
    from serac.core.segmentation.metrics import compare_outlines

    g = grid()
    with pytest.raises(NoOverlapError, match="do not overlap.*same area"):
        compare_outlines([_square(500100, 8597000, 500)], [_square(502500, 8597000, 500)], g)
    scores = compare_outlines([_square(500100, 8597000, 500)], [_square(500100, 8597000, 500)], g)
    assert scores.iou == pytest.approx(1.0)


def test_8_empty_mask_warns(tmp_path):
    from serac.core.masks import write_glacier_mask

    with pytest.warns(SeracWarning, match="cover no pixel.*0 km"):
        summary = write_glacier_mask(grid(), tmp_path / "m.tif", [_square(400000, 8000000, 500)])
    assert summary.glacier_px == 0 and summary.warning


def test_8_eight_bit_image_as_dem_is_refused_and_multiband_warns(reference, tmp_path):
    ref, g = reference
    image = write(tmp_path / "rgb.tif", np.clip(sample(g) / 4, 0, 255), g, dtype="uint8")
    with pytest.raises(InputError, match="8-bit raster.*not elevations"):
        fit(ref, image)
    two = write(tmp_path / "two.tif", np.stack([sample(g, SHIFT), sample(g)]), g, nodata=-9999.0)
    with pytest.warns(SeracWarning, match="has 2 bands; Serac uses band 1"):
        assert_right_shift(fit(ref, two))


def test_8_geographic_raster_mask_reports_ground_km2():
    from serac.core.masks import glacier_mask
    from serac.core.raster_io import pixel_area_m2

    geo = rio.RasterGrid(CRS.from_epsg(4326), Affine(0.001, 0, 15.0, 0, -0.001, 78.3), 400, 400)
    # a 0.2 x 0.2 degree box at 78.2 deg N: about 4.56 km x 22.3 km
    box = _square(15.1, 78.1, 0.2)
    mask = glacier_mask([box], geo)
    rows = np.arange(geo.height)
    area_km2 = float(np.sum(mask.sum(axis=1) * pixel_area_m2(geo, rows))) / 1e6
    expected = 0.2 * 111.32 * np.cos(np.radians(78.2)) * 0.2 * 111.69  # km per degree, WGS 84 at 78 deg
    assert area_km2 == pytest.approx(expected, rel=0.02)


def test_8_mask_summary_on_geographic_grid_matches_projected(tmp_path):
    from serac.core.masks import write_glacier_mask

    geo = rio.RasterGrid(CRS.from_epsg(4326), Affine(0.001, 0, 15.0, 0, -0.001, 78.3), 400, 400)
    summary = write_glacier_mask(geo, tmp_path / "m.tif", [_square(15.1, 78.1, 0.2)])
    assert summary.glacier_area_km2 == pytest.approx(0.2 * 111.32 * np.cos(np.radians(78.2)) * 0.2 * 111.69,
                                                     rel=0.02)
    assert summary.glacier_area_km2 > 1.0  # not square degrees / 1e6


def test_unwritable_dem_outputs_are_refused_before_the_fit_naming_the_chosen_file(readonly_dir, reference):
    from serac.core.dem import coregister
    from serac.core.dem.output import DemOutput

    ref, g = reference
    with pytest.raises(OutputError, match=r"'[^']*/dh\.tif' cannot be written"):
        coregister(ref, ref, dh_path=readonly_dir / "dh.tif")
    with pytest.raises(OutputError) as info:
        with DemOutput(readonly_dir / "aligned.tif", g, "elevation"):
            pass
    assert "aligned.tif" in str(info.value) and ".serac-" not in str(info.value)
    assert os.listdir(readonly_dir) == []


def test_7_trained_models_declare_the_value_range_of_their_training_data():
    pytest.importorskip("torch")  # serac.models.train
    from serac.core.segmentation.model_metadata import ValueRange
    from serac.models.train import value_range

    image = np.random.default_rng(3).integers(20, 230, (3, 50, 50)).astype("float32")
    declared = value_range(image, np.ones((50, 50), bool), "uint8")
    assert declared["dtype"] == "uint8" and declared["min"] == 0.0 and declared["max"] == 255.0
    with pytest.raises(Exception, match="outside the 0 to 255 \\(uint8\\)"):
        ValueRange(**declared).check(image * 257, "uint16", "tiny")
