"""Core raster I/O: reading with nodata, reprojection, atomic writing, blocks, rasterizing."""

import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from serac.core import raster_io as rio
from serac.core.errors import AllNoDataError, BandCountError, Cancelled, CRSError, InputError, NoOverlapError


def make_grid(width=300, height=200, res=10.0, x0=500000.0, y0=7000000.0, epsg=32633):
    return rio.RasterGrid(CRS.from_epsg(epsg), Affine(res, 0, x0, 0, -res, y0), width, height)


def test_write_read_roundtrip_keeps_values_names_tags_and_nan(tmp_path):
    grid = make_grid()
    data = np.random.default_rng(0).normal(size=(2, *grid.shape)).astype("float32")
    data[0, 5:10, 5:10] = np.nan
    path = tmp_path / "out.tif"
    rio.write_raster(path, data, grid, band_names=["vx", "vy"], tags={"DATE1": "2020-01-01"})
    r = rio.read_raster(path)
    assert r.band_names == ["vx", "vy"]
    assert r.tags["DATE1"] == "2020-01-01"
    np.testing.assert_array_equal(np.isnan(r.data), np.isnan(data))
    np.testing.assert_allclose(r.data[np.isfinite(r.data)], data[np.isfinite(data)])
    assert r.grid.matches(grid)
    with rasterio.open(path) as ds:
        assert ds.profile["compress"] == "deflate"
        if rio.has_cog_driver():
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_nodata_value_becomes_nan(tmp_path):
    grid = make_grid(50, 40)
    data = np.full(grid.shape, 7.0, dtype="float32")
    data[0, 0] = -9999
    path = tmp_path / "nd.tif"
    rio.write_raster(path, data, grid, nodata=-9999, cog=False)
    r = rio.read_raster(path)
    assert np.isnan(r.data[0, 0, 0]) and r.data[0, 1, 1] == 7.0 and r.source_nodata == -9999


def test_writer_removes_everything_when_cancelled(tmp_path):
    grid = make_grid(600, 600)
    path = tmp_path / "cancelled.tif"
    with pytest.raises(Cancelled):
        with rio.RasterWriter(path, grid) as writer:
            for inner, _ in rio.iter_blocks(grid.shape, 256):
                writer.write(np.ones((inner.height, inner.width), "float32"), inner)
                raise Cancelled()
    assert os.listdir(tmp_path) == []


def test_writer_does_not_touch_existing_output_on_failure(tmp_path):
    grid = make_grid(40, 40)
    path = tmp_path / "keep.tif"
    rio.write_raster(path, np.zeros(grid.shape, "float32"), grid)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with rio.RasterWriter(path, grid) as writer:
            writer.write(np.ones(grid.shape, "float32"))
            raise RuntimeError("boom")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.tif"]


def test_iter_blocks_tiles_exactly_and_outer_windows_clip():
    shape = (1000, 700)
    covered = np.zeros(shape, int)
    for inner, outer in rio.iter_blocks(shape, 256, overlap=16):
        covered[inner.row_off:inner.row_off + inner.height, inner.col_off:inner.col_off + inner.width] += 1
        assert outer.row_off <= inner.row_off and outer.col_off <= inner.col_off
        assert outer.row_off + outer.height <= shape[0] and outer.col_off + outer.width <= shape[1]
        assert inner.row_off - outer.row_off in (0, 16)
    assert (covered == 1).all()
    assert rio.block_count(shape, 256) == 4 * 3


def test_read_on_grid_reprojects_and_windows_agree(tmp_path):
    src_grid = make_grid(200, 200, res=10.0)
    rows, cols = np.mgrid[0:200, 0:200]
    x, y = src_grid.xy(rows, cols)
    plane = (0.01 * (x - x.min()) + 0.02 * (y - y.min())).astype("float32")
    path = tmp_path / "plane.tif"
    rio.write_raster(path, plane, src_grid)
    # a coarser grid inside the source, in another CRS (ETRS89 / UTM 33N)
    left, bottom, right, top = src_grid.bounds
    target = rio.RasterGrid.from_bounds(CRS.from_epsg(25833), left + 200, bottom + 200, right - 200, top - 200, 20.0)
    full = rio.read_on_grid(path, target).band(1)
    tx, ty = target.xy(*np.mgrid[0:target.height, 0:target.width])
    expected = 0.01 * (tx - x.min()) + 0.02 * (ty - y.min())
    assert np.nanmax(np.abs(full - expected)) < 0.05  # m-scale plane, bilinear, ~cm datum shift
    win = rio.read_on_grid(path, target, window=(10, 5, 30, 20)).band(1)
    np.testing.assert_allclose(win, full[5:25, 10:40], atol=1e-4)


def test_read_on_grid_without_overlap_raises(tmp_path):
    path = tmp_path / "a.tif"
    rio.write_raster(path, np.ones((50, 50), "float32"), make_grid(50, 50))
    far = make_grid(50, 50, x0=900000.0)
    with pytest.raises(NoOverlapError, match="do not overlap"):
        rio.read_on_grid(path, far)


def test_missing_crs_and_band_errors(tmp_path):
    grid = rio.RasterGrid(None, Affine(1, 0, 0, 0, -1, 0), 10, 10)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        rio.require_crs(grid)
    path = tmp_path / "one.tif"
    rio.write_raster(path, np.ones((10, 10), "float32"), make_grid(10, 10))
    with pytest.raises(BandCountError, match="has 1 band"):
        rio.require_band_count(path, 3)
    with pytest.raises(BandCountError, match="Band 2"):
        rio.read_raster(path, bands=2)
    with pytest.raises(AllNoDataError):
        rio.require_valid(np.full((3, 3), np.nan))


def test_rasterize_and_metric_grid_on_real_data(shared_data):
    dem = shared_data / "dem" / "longyearbyen_partial"
    from serac.core.vector_io import read_geometries

    grid = rio.read_grid(dem / "DEM_1995.tif")
    geoms = read_geometries(dem / "glacier_outlines_1990_derived.gpkg", grid.crs)
    mask = rio.rasterize_geometries(geoms, grid)
    derived = rio.read_raster(dem / "glacier_mask_1990_derived.tif").band(1)
    # polygonized from that mask, so rasterizing back must agree almost everywhere
    assert np.mean(mask == (derived == 1)) > 0.995
    srtm = rio.read_grid(shared_data / "dem" / "demcompare_srtm" / "srtm_ref.tif")
    metric = rio.metric_grid_for(srtm)
    assert srtm.is_geographic and not metric.is_geographic
    assert 60 < metric.res[0] < 100  # 3 arcsec at mid latitudes, in m


def test_one_nodata_convention_for_every_output(tmp_path):
    """NaN in float outputs, the integer nodata given (or none) in integer ones; NaN written stays NaN."""
    grid = make_grid(300, 260)
    values = np.arange(grid.width * grid.height, dtype="float32").reshape(grid.shape)
    values[5, 7] = np.nan
    with rio.RasterWriter(tmp_path / "f.tif", grid, cog=False) as writer:
        for inner, _ in rio.iter_blocks(grid.shape, 100):
            r, c = int(inner.row_off), int(inner.col_off)
            writer.write(values[r:r + int(inner.height), c:c + int(inner.width)], inner)
    rio.write_raster(tmp_path / "class.tif", np.zeros(grid.shape, "uint8"), grid, nodata=255)
    rio.write_raster(tmp_path / "mask.tif", np.zeros(grid.shape, "uint8"), grid)  # the float default: no tag
    with rasterio.open(tmp_path / "f.tif") as ds:
        assert np.isnan(ds.nodata) and ds.profile["tiled"] and ds.profile["compress"] == "deflate"
        np.testing.assert_array_equal(ds.read(1), values)
    with rasterio.open(tmp_path / "class.tif") as ds:
        assert ds.nodata == 255
    with rasterio.open(tmp_path / "mask.tif") as ds:
        assert ds.nodata is None
    assert sorted(os.listdir(tmp_path)) == ["class.tif", "f.tif", "mask.tif"]  # no temporary left


def test_display_range_of_arrays_and_files(tmp_path):
    values = np.linspace(-10.0, 30.0, 401)
    low, high = rio.display_range(values)
    assert low == pytest.approx(np.percentile(values, 2)) and high == pytest.approx(np.percentile(values, 98))
    assert rio.display_range(values, stretch="from zero") == (0.0, high)
    assert rio.display_range(values, stretch="symmetric") == (-high, high)
    assert rio.display_range(np.full(5, np.nan)) is None and rio.display_range(np.ones(5)) is None
    assert rio.display_range(-values[values > 0], stretch="from zero") is None  # nothing above zero
    grid = make_grid(40, 30)
    data = np.stack([np.full(grid.shape, 3.0, "float32"), np.arange(1200, dtype="float32").reshape(grid.shape)])
    rio.write_raster(tmp_path / "two.tif", data, grid)
    assert rio.display_range(tmp_path / "two.tif", 2) == rio.display_range(data[1])
    with pytest.raises(InputError, match="Unknown stretch"):
        rio.display_range(values, stretch="log")


def test_metres_per_pixel_in_feet_and_degrees():
    feet = rio.RasterGrid(CRS.from_epsg(2272), Affine(10.0, 0, 2_600_000.0, 0, -10.0, 250_000.0), 50, 40)
    factor = rio.metres_per_unit(feet.crs)
    assert factor == pytest.approx(1200 / 3937)  # US survey foot
    assert rio.pixel_sizes_m(feet) == pytest.approx((10 * factor, 10 * factor))
    assert rio.pixel_area_m2(feet) == pytest.approx((10 * factor) ** 2)
    metric = rio.metric_grid_for(feet)  # a projected CRS in feet is worked in UTM metres too
    assert rio.is_metric(metric.crs) and metric.crs.to_epsg() == 32618
    assert metric.res[0] == pytest.approx(10 * factor, rel=0.05)
    utm = make_grid()
    assert rio.metres_per_unit(utm.crs) == 1.0 and rio.metric_grid_for(utm) is utm
    geo = rio.RasterGrid(CRS.from_epsg(4326), Affine(0.001, 0, 15.0, 0, -0.001, 78.3), 100, 100)
    assert rio.metres_per_unit(geo.crs) is None
    x, y = rio.pixel_sizes_m(geo)
    assert x == pytest.approx(0.001 * 111_320 * np.cos(np.radians(78.25)), rel=0.01)
    assert y == pytest.approx(111.6, rel=0.01)


@pytest.mark.parametrize("cog", [True, False])
def test_a_crs_geotiff_cannot_hold_is_kept_beside_the_output(tmp_path, cog):
    """A 3-D CRS (heights on the ellipsoid) lives in GDAL's .aux.xml: the atomic writer moves it with the file."""
    import pyproj
    from rasterio.transform import from_origin

    crs = CRS.from_wkt(pyproj.CRS("EPSG:32633").to_3d().to_wkt())
    grid = rio.RasterGrid(crs, from_origin(500000, 8000000, 10, 10), 20, 10)
    path = tmp_path / "dh.tif"
    (tmp_path / "dh.tif.aux.xml").write_text("<PAMDataset/>")  # a stale sidecar of an earlier file
    rio.write_raster(str(path), np.ones((10, 20), np.float32), grid, cog=cog)
    with rasterio.open(path) as ds:
        assert ds.crs is not None and len(pyproj.CRS.from_wkt(ds.crs.to_wkt()).axis_info) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dh.tif", "dh.tif.aux.xml"]
    plain = rio.RasterGrid(CRS.from_epsg(32633), grid.transform, 20, 10)
    rio.write_raster(str(path), np.ones((10, 20), np.float32), plain, cog=cog)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dh.tif"]  # no stale sidecar left with a plain CRS
