"""Georeferenced velocity pipeline: m/yr, GeoTIFF output, stable ground, reprojection, bad input."""

import datetime as dt
import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from serac.core.errors import AllNoDataError, Cancelled, InputError, NoOverlapError
from serac.core.masks import glacier_mask
from serac.core.progress import ConsoleFeedback
from serac.core.raster_io import RasterGrid, read_raster, write_raster
from serac.core.vector_io import read_geometries
from serac.core.velocity import BANDS, CorrelationParams, filtering, glacier_velocity
from serac.core.velocity.velocity import stable_points
from serac.core.velocity.synthetic import add_noise, fourier_shift, warp

DAYS = 16
YEARS = DAYS / 365.25
FAST = CorrelationParams(chip=32, search=6, max_chip=32)


@pytest.fixture(scope="module")
def scene(shared_data):
    path = shared_data / "optical" / "everest_landsat" / "LE71400412000304SGS00_B4_cropped.tif"
    r = read_raster(path)
    outlines = read_geometries(shared_data / "optical" / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg",
                               r.grid.crs)
    return r.band(1).astype(np.float64), r.grid, outlines


def write_pair(folder, ref, sec, grid, sec_grid=None):
    a, b = folder / "ref_20001030.tif", folder / "sec_20001115.tif"
    write_raster(a, ref.astype("float32"), grid)
    write_raster(b, sec.astype("float32"), sec_grid or grid)
    return a, b


def leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(".") or n.startswith("vel"))


def test_velocity_from_a_known_shift_and_the_written_product(scene, tmp_path):
    img, grid, _ = scene
    ref, sec = write_pair(tmp_path, img, fourier_shift(img, -0.5, 1.2), grid)
    out = tmp_path / "vel.tif"
    # a uniform shift is what a misregistration looks like: measure it, do not correct it
    res = glacier_velocity(ref, sec, out, params=FAST, backend="numpy", offset_correction="none")
    v = res.valid
    assert res.summary["interval_days"] == DAYS and res.summary["valid_fraction"] > 0.7
    # 1.2 px east and 0.5 px north of 30 m pixels in 16 days
    assert np.median(res.vx[v]) == pytest.approx(1.2 * 30 / YEARS, rel=0.01)
    assert np.median(res.vy[v]) == pytest.approx(0.5 * 30 / YEARS, rel=0.01)
    pts = res.points(step=2)
    assert np.median(pts["direction"]) == pytest.approx(np.degrees(np.arctan2(1.2, 0.5)), abs=0.5)
    assert len(pts["x"]) == (v[::2, ::2]).sum()
    with rasterio.open(out) as ds:
        assert ds.count == len(BANDS) and ds.descriptions == BANDS
        assert ds.crs == grid.crs and ds.res == (12 * 30.0, 12 * 30.0)
        tags = ds.tags()
        assert tags["REFERENCE_DATE"] == "2000-10-30" and tags["SECONDARY_DATE"] == "2000-11-15"
        assert tags["SEARCH_PX"] == "6" and tags["UNITS"] == "m/yr"
        speed, status = ds.read(3), ds.read(7)
    np.testing.assert_array_equal(np.isfinite(speed), status == filtering.VALID)
    # output pixels are centred on the correlation points
    x, y = res.grid.xy(0, 0)
    assert (x - grid.transform.c) == pytest.approx(6 * 30.0) and (grid.transform.f - y) == pytest.approx(6 * 30.0)


def test_stable_ground_removes_misregistration_and_gives_the_error(shared_data, tmp_path):
    folder = shared_data / "optical" / "everest_landsat"
    r = read_raster(folder / "LE71400412000304SGS00_B4.tif")  # the full 800 x 655 px scene
    img, grid = r.band(1).astype(np.float64), r.grid
    outlines = read_geometries(folder / "15_rgi60_glacier_outlines.gpkg", grid.crs)
    ice = glacier_mask(outlines, grid).astype(float)
    dx = 0.4 + 2.0 * ice  # 0.4 px misregistration everywhere, 2 px of flow on the glaciers
    sec = add_noise(warp(img, 0.0, dx), 1.0, seed=3)
    ref, sec = write_pair(tmp_path, add_noise(img, 1.0, seed=4), sec, grid)
    res = glacier_velocity(ref, sec, params=FAST, outlines=outlines, backend="numpy")
    s = res.summary
    px_per_year = 30 / YEARS
    assert s["stable_count"] > 50
    assert s["stable_median_vx"] == pytest.approx(0.4 * px_per_year, abs=0.03 * px_per_year)
    assert 0 < s["stable_nmad_vx"] < 0.05 * px_per_year
    stable = res.valid & stable_points(outlines, res.grid, FAST, res.chip)
    assert stable.sum() == s["stable_count"]
    assert abs(np.median(res.vx[stable])) < 0.01 * px_per_year
    glacier = res.valid & (glacier_mask(outlines, res.grid) == 1)
    glacier_core = glacier & (np.abs(res.vx - 2 * px_per_year) < px_per_year)
    assert glacier_core.sum() > 0.5 * glacier.sum()


def test_secondary_on_another_crs_is_reprojected(scene, tmp_path):
    img, grid, _ = scene
    moved = fourier_shift(img, 0.0, 1.0).astype("float32")
    dst_crs = "EPSG:32644"  # the neighbouring UTM zone: rotated grid
    transform, w, h = calculate_default_transform(grid.crs, dst_crs, grid.width, grid.height, *grid.bounds,
                                                  resolution=30.0)
    other = np.full((h, w), np.nan, "float32")
    reproject(moved, other, src_transform=grid.transform, src_crs=grid.crs, dst_transform=transform,
              dst_crs=dst_crs, resampling=Resampling.cubic, dst_nodata=np.nan)
    ref, sec = write_pair(tmp_path, img, other, grid, RasterGrid(rasterio.crs.CRS.from_user_input(dst_crs),
                                                                  transform, w, h))
    res = glacier_velocity(ref, sec, params=FAST, backend="numpy", offset_correction="none")
    assert res.valid.mean() > 0.5
    assert np.median(res.vx[res.valid]) == pytest.approx(30 / YEARS, rel=0.05)


def test_prior_velocity_raster_centres_the_search(scene, tmp_path):
    img, grid, _ = scene
    ref, sec = write_pair(tmp_path, img, fourier_shift(img, 0.0, 15.4), grid)
    prior = tmp_path / "prior.tif"
    write_raster(prior, np.stack([np.full(grid.shape, 15 * 30 / YEARS), np.zeros(grid.shape)]).astype("float32"),
                 grid)
    res = glacier_velocity(ref, sec, params=FAST, prior=str(prior), backend="numpy")
    assert res.valid.mean() > 0.5
    assert np.median(res.vx[res.valid]) == pytest.approx(15.4 * 30 / YEARS, rel=0.002)


def test_max_speed_sets_the_search_range(scene, tmp_path):
    img, grid, _ = scene
    ref, sec = write_pair(tmp_path, img, fourier_shift(img, 0.0, 1.0), grid)
    res = glacier_velocity(ref, sec, params=FAST, max_speed=2000.0, backend="numpy")
    assert res.summary["search_px"] == int(np.ceil(2000 * YEARS / 30)) + 2


def test_identical_dates_are_refused_and_nothing_is_written(scene, tmp_path):
    img, grid, _ = scene
    ref, sec = write_pair(tmp_path, img, img, grid)
    with pytest.raises(InputError, match="two different dates"):
        glacier_velocity(ref, sec, tmp_path / "vel.tif", "2000-10-30", dt.date(2000, 10, 30), params=FAST)
    assert leftovers(tmp_path) == []


def test_rasters_that_do_not_overlap_are_refused(scene, tmp_path):
    img, grid, _ = scene
    far = RasterGrid(grid.crs, grid.transform * Affine.translation(10000, 0), grid.width, grid.height)
    ref, sec = write_pair(tmp_path, img, img, grid, far)
    with pytest.raises(NoOverlapError, match="do not overlap"):
        glacier_velocity(ref, sec, tmp_path / "vel.tif", params=FAST)
    assert leftovers(tmp_path) == []


def test_all_nodata_secondary_is_a_clear_error(scene, tmp_path):
    img, grid, _ = scene
    ref, sec = write_pair(tmp_path, img, np.full(img.shape, np.nan), grid)
    with pytest.raises(AllNoDataError, match="No point could be matched"):
        glacier_velocity(ref, sec, tmp_path / "vel.tif", params=FAST)
    assert leftovers(tmp_path) == []


def test_cancelled_run_leaves_no_output(scene, tmp_path):
    img, grid, _ = scene
    ref, sec = write_pair(tmp_path, img, fourier_shift(img, 0.3, 0.3), grid)
    params = CorrelationParams(search=6, max_chip=32, block=6)
    with pytest.raises(Cancelled):
        glacier_velocity(ref, sec, tmp_path / "vel.tif", params=params, feedback=ConsoleFeedback(False, 4))
    assert leftovers(tmp_path) == []


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_images_without_crs_are_refused(tmp_path):
    data = np.random.default_rng(0).normal(size=(80, 80)).astype("float32")
    for name in ("a_20200101.tif", "b_20200201.tif"):
        with rasterio.open(tmp_path / name, "w", driver="GTiff", width=80, height=80, count=1,
                           dtype="float32") as ds:
            ds.write(data, 1)
    with pytest.raises(InputError, match="coordinate reference system"):
        glacier_velocity(tmp_path / "a_20200101.tif", tmp_path / "b_20200201.tif", params=FAST)


def test_missing_band_is_refused_before_any_work(scene, tmp_path):
    img, grid, _ = scene
    ref, sec = write_pair(tmp_path, img, img, grid)
    with pytest.raises(InputError, match="Band 2 of the secondary raster"):
        glacier_velocity(ref, sec, params=FAST, secondary_band=2)
