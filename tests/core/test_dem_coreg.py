"""DEM co-registration on synthetic terrain with known shifts: Nuth & Kääb, vertical, deramp,
masks, other CRS/resolution, blockwise apply, report and bad input."""

import json
import os

import numpy as np
import pytest
import rasterio
import rasterio.features
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS

from serac.core.dem import (CoregPipeline, Deramp, NuthKaab, StableTerrain, VerticalShift, apply_in_memory,
                            coregister, make_pipeline)
from serac.core.dem.report import report_html
from serac.core.errors import AllNoDataError, Cancelled, InputError, NoOverlapError
from serac.core.progress import ConsoleFeedback
from serac.core.raster_io import RasterGrid, read_raster

UTM = CRS.from_epsg(32633)
SHIFT = (7.0, -4.0, 2.5)  # displacement of the synthetic DEM relative to the reference (m)
EXPECTED = (-7.0, 4.0, -2.5)  # the shift that aligns it back


def terrain(x, y):
    """Smooth hills with slopes in every direction (m); x, y in m."""
    return (600 + 250 * np.sin(x / 900.0) * np.cos(y / 700.0) + 90 * np.sin((x + 2 * y) / 420.0)
            + 40 * np.cos((3 * x - y) / 260.0))


def grid(width=250, height=250, res=20.0, x0=500000.0, y0=8600000.0, crs=UTM):
    return RasterGrid(crs, Affine(res, 0, x0, 0, -res, y0), width, height)


def write_dem(path, values, g, nodata=-9999.0, unit=None):
    values = np.where(np.isfinite(values), values, nodata).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=g.width, height=g.height, count=1, dtype="float32",
                       crs=g.crs, transform=g.transform, nodata=nodata) as ds:
        ds.write(values, 1)
        if unit:
            ds.units = [unit]
    return str(path)


def sample_terrain(g, shift=(0.0, 0.0, 0.0), terrain_crs=UTM, extra=None):
    """``terrain`` moved by ``shift`` (m, in ``terrain_crs``) evaluated at the pixel centres of ``g``."""
    rows, cols = np.mgrid[0:g.height, 0:g.width]
    x, y = g.xy(rows, cols)
    if g.crs != terrain_crs:
        x, y = (np.asarray(v).reshape(rows.shape) for v in
                rasterio.warp.transform(g.crs, terrain_crs, x.ravel(), y.ravel()))
    z = terrain(x - shift[0], y - shift[1]) + shift[2]
    if extra is not None:
        z = z + extra(x, y)
    return z


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("dem")
    g = grid()
    ref = write_dem(d / "ref.tif", sample_terrain(g), g)
    dem = write_dem(d / "dem.tif", sample_terrain(g, SHIFT), g)
    return ref, dem, g


def assert_shift(result, expected=EXPECTED, xy_tol=0.1, z_tol=0.05):
    assert result.shift_x_m == pytest.approx(expected[0], abs=xy_tol)
    assert result.shift_y_m == pytest.approx(expected[1], abs=xy_tol)
    assert result.shift_z_m == pytest.approx(expected[2], abs=z_tol)


def test_nuth_kaab_recovers_known_shift_and_reduces_spread(pair):
    ref, dem, g = pair
    result = make_pipeline("nuth_kaab").fit(ref, dem)
    assert_shift(result)
    assert result.shift_x_px == pytest.approx(EXPECTED[0] / 20.0, abs=0.005)
    assert result.shift_y_px == pytest.approx(EXPECTED[1] / 20.0, abs=0.005)
    info = result.step_info("nuth_kaab")
    assert info["converged"] and 2 <= info["iterations"] <= 10
    assert info["history"][-1]["step_m"] < 0.01
    assert result.stats_before["nmad"] > 1.0
    # what is left is the bilinear interpolation error of the shift on this curvy terrain
    assert result.stats_after["nmad"] < 0.15 * result.stats_before["nmad"]
    assert abs(result.stats_after["median"]) < 0.02
    json.dumps(result.to_dict())  # numbers only


def test_sign_convention_is_the_shift_applied_to_the_dem(pair, tmp_path):
    ref, dem, g = pair
    result = coregister(ref, dem, tmp_path / "aligned.tif", tmp_path / "dh.tif")
    aligned = read_raster(tmp_path / "aligned.tif").band(1)
    truth = sample_terrain(g)
    inner = (slice(3, -3), slice(3, -3))
    # aligned(p) = dem(p - shift) + shift_z: moving the displaced DEM back gives the reference
    # (up to the bilinear interpolation error); the wrong sign would double the misfit
    before = np.median(np.abs(read_raster(dem).band(1) - truth)[inner])
    assert before > 2.0
    assert np.nanmedian(np.abs(aligned[inner] - truth[inner])) < 0.1 * before
    dh = read_raster(tmp_path / "dh.tif").band(1)
    np.testing.assert_allclose(dh[inner], (aligned - truth)[inner], atol=1e-3)
    assert result.dh_map_summary["count"] > 2000 and abs(result.dh_map_summary["median"]) < 0.05
    assert 200 < result.aligned_summary["p01"] < result.aligned_summary["p99"] < 1000


def test_single_iteration_is_not_converged_but_moves_towards_the_answer(pair):
    ref, dem, _ = pair
    result = CoregPipeline([NuthKaab(max_iterations=1, tolerance_m=1e-6)]).fit(ref, dem)
    assert result.step_info("nuth_kaab")["converged"] is False
    assert abs(result.shift_x_m - EXPECTED[0]) < abs(EXPECTED[0])


def test_vertical_shift_only(tmp_path):
    g = grid(120, 100)
    ref = write_dem(tmp_path / "ref.tif", sample_terrain(g), g)
    dem = write_dem(tmp_path / "dem.tif", sample_terrain(g) + 3.2, g)
    for statistic in ("median", "mean"):
        result = CoregPipeline([VerticalShift(statistic)]).fit(ref, dem)
        assert (result.shift_x_m, result.shift_y_m) == (0.0, 0.0)
        assert result.shift_z_m == pytest.approx(-3.2, abs=1e-3)
        assert result.stats_after["nmad"] < 1e-3


@pytest.mark.parametrize("order", [1, 2, 3])
def test_deramp_removes_polynomial_trend(tmp_path, order):
    g = grid(150, 120)

    def trend(x, y):
        u, v = (x - 501500.0) / 1500.0, (y - 8598800.0) / 1500.0
        return 1.5 * u - 0.8 * v + (0.6 * u * v if order >= 2 else 0) + (0.4 * u ** 3 if order == 3 else 0)

    ref = write_dem(tmp_path / "ref.tif", sample_terrain(g), g)
    dem = write_dem(tmp_path / "dem.tif", sample_terrain(g, extra=trend), g)
    result = make_pipeline("vertical", deramp_order=order).fit(ref, dem)
    assert result.stats_before["nmad"] > 0.5
    assert result.stats_after["nmad"] < 0.02
    assert result.to_dict()["ramps"][0]["order"] == order


def test_deramp_is_robust_to_outliers(tmp_path):
    g = grid(150, 120)
    noise = np.zeros(g.shape)
    noise[::7, ::5] = 80.0  # 3 % blunders
    ref = write_dem(tmp_path / "ref.tif", sample_terrain(g), g)
    dem = write_dem(tmp_path / "dem.tif", sample_terrain(g, extra=lambda x, y: 1e-3 * (x - 501500)) + noise, g)
    result = CoregPipeline([Deramp(1)]).fit(ref, dem)
    coef = result.transform.ramps[0].coefficients
    assert coef[1] == pytest.approx(-1e-3 * result.transform.ramps[0].scale, rel=0.02)


def glacier(g):
    """A rectangle covering 64 % of the grid (GeoJSON in the grid CRS)."""
    left, bottom, right, top = g.bounds
    x0, x1, y0, y1 = left + 0.1 * (right - left), left + 0.9 * (right - left), bottom + 0.2 * (top - bottom), top
    return {"type": "Polygon", "coordinates": [[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]}


def test_unstable_outlines_and_mask_raster_are_excluded(tmp_path, pair):
    ref, _, g = pair
    poly = glacier(g)
    inside = rasterio.features.geometry_mask([poly], g.shape, g.transform, invert=True)
    thinning = np.where(inside, -40.0, 0.0)
    dem = write_dem(tmp_path / "dem.tif", sample_terrain(g, SHIFT) + thinning, g)
    unmasked = make_pipeline("nuth_kaab").fit(ref, dem)
    assert abs(unmasked.shift_z_m - EXPECTED[2]) > 5.0
    by_outline = make_pipeline("nuth_kaab").fit(ref, dem, StableTerrain([poly], g.crs))
    assert_shift(by_outline)
    mask = write_dem(tmp_path / "mask.tif", inside.astype("float32"), g, nodata=255)
    by_mask = make_pipeline("nuth_kaab").fit(ref, dem, StableTerrain(mask_path=mask))
    assert_shift(by_mask)
    assert by_mask.counts["stable"] == by_outline.counts["stable"] < 0.4 * by_mask.counts["both_valid"]
    # outlines from a file in another CRS (EPSG:4326)
    geo = rasterio.warp.transform_geom(g.crs, "EPSG:4326", poly)
    assert_shift(make_pipeline("nuth_kaab").fit(ref, dem, StableTerrain([geo], "EPSG:4326")))


def test_other_crs_and_resolution_are_reprojected_onto_the_reference(tmp_path, pair):
    ref, _, g = pair
    laea = CRS.from_epsg(3035)
    left, bottom, right, top = rasterio.warp.transform_bounds(g.crs, laea, *g.bounds)
    g2 = RasterGrid(laea, Affine(30.0, 0, left - 300, 0, -30.0, top + 300), int((right - left) / 30) + 20,
                    int((top - bottom) / 30) + 20)
    dem = write_dem(tmp_path / "dem_laea.tif", sample_terrain(g2, SHIFT), g2)
    result = make_pipeline("nuth_kaab").fit(ref, dem)
    assert_shift(result, xy_tol=0.5, z_tol=0.2)  # two resamplings (30 m -> 20 m, then the shift)
    assert result.stats_after["nmad"] < 0.5 * result.stats_before["nmad"]


def test_geographic_reference_is_worked_in_utm(tmp_path):
    geo = CRS.from_epsg(4326)
    g = RasterGrid(geo, Affine(0.0004, 0, 14.5, 0, -0.0002, 77.6), 150, 160)
    utm = CRS.from_epsg(32633)
    ref = write_dem(tmp_path / "ref.tif", sample_terrain(g, terrain_crs=utm), g)
    dem = write_dem(tmp_path / "dem.tif", sample_terrain(g, SHIFT, terrain_crs=utm), g)
    result = make_pipeline("nuth_kaab").fit(ref, dem)
    assert result.work_grid.crs == utm
    assert_shift(result, xy_tol=0.3, z_tol=0.1)
    # the same shift in px of the geographic reference grid
    (x0,), (y0,) = rasterio.warp.transform(geo, utm, [14.53], [77.584])
    (x1,), (y1,) = rasterio.warp.transform(utm, geo, [x0 + EXPECTED[0]], [y0 + EXPECTED[1]])
    assert result.shift_x_px == pytest.approx((x1 - 14.53) / 0.0004, abs=0.02)
    assert result.shift_y_px == pytest.approx((y1 - 77.584) / 0.0002, abs=0.02)


def test_geographic_reference_with_deramp_written_on_the_reference_grid(tmp_path):
    geo, utm = CRS.from_epsg(4326), CRS.from_epsg(32633)
    g = RasterGrid(geo, Affine(0.0004, 0, 14.5, 0, -0.0002, 77.6), 150, 160)
    tilt = (lambda x, y: 2e-4 * (x - 500000.0))
    ref = write_dem(tmp_path / "ref.tif", sample_terrain(g, terrain_crs=utm), g)
    dem = write_dem(tmp_path / "dem.tif", sample_terrain(g, SHIFT, terrain_crs=utm, extra=tilt), g)
    result = coregister(ref, dem, tmp_path / "a.tif", tmp_path / "d.tif", deramp_order=1)
    dh = read_raster(tmp_path / "d.tif")
    assert dh.grid.matches(g)
    assert np.nanmedian(np.abs(dh.band(1))) < 0.15 < result.stats_before["nmad"]
    assert result.stats_after["nmad"] < 0.25 * result.stats_before["nmad"]
    assert len(result.transform.ramps) == 1


def test_fit_on_blocks_matches_whole_grid(pair):
    ref, dem, _ = pair
    whole = make_pipeline("nuth_kaab").fit(ref, dem)
    pipe = make_pipeline("nuth_kaab")
    blocks = pipe.fit(ref, dem, max_fit_pixels=3 * 80 * 80)
    assert blocks.counts["patches"] > 1 and blocks.counts["pixels"] < 0.5 * 250 * 250
    assert_shift(blocks, (whole.shift_x_m, whole.shift_y_m, whole.shift_z_m), xy_tol=0.15, z_tol=0.05)


def test_blockwise_apply_equals_whole_and_in_memory(pair, tmp_path):
    ref, dem, _ = pair
    pipe = make_pipeline("nuth_kaab", deramp_order=1)
    pipe.fit(ref, dem)
    pipe.apply(ref, dem, tmp_path / "a1.tif", tmp_path / "d1.tif", block_size=64)
    pipe.apply(ref, dem, tmp_path / "a2.tif", tmp_path / "d2.tif", block_size=4096)
    a1, a2 = read_raster(tmp_path / "a1.tif").band(1), read_raster(tmp_path / "a2.tif").band(1)
    np.testing.assert_array_equal(a1, a2)
    aligned, dh = apply_in_memory(pipe.result, ref, dem, block_size=100)
    np.testing.assert_array_equal(aligned, a1)
    np.testing.assert_allclose(dh, read_raster(tmp_path / "d1.tif").band(1), atol=1e-5)


def test_geotransform_mode_moves_the_grid_without_resampling(pair, tmp_path):
    ref, dem, g = pair
    pipe = make_pipeline("nuth_kaab")
    result = pipe.fit(ref, dem)
    pipe.apply(ref, dem, tmp_path / "moved.tif", tmp_path / "dh.tif", shift_by="geotransform")
    moved = read_raster(tmp_path / "moved.tif")
    assert moved.grid.transform.c == pytest.approx(g.transform.c + result.shift_x_m, abs=1e-6)
    assert moved.grid.transform.f == pytest.approx(g.transform.f + result.shift_y_m, abs=1e-6)
    np.testing.assert_allclose(moved.band(1), read_raster(dem).band(1) + result.shift_z_m, atol=1e-4)
    assert abs(np.nanmedian(read_raster(tmp_path / "dh.tif").band(1))) < 0.05


def test_report_has_histogram_and_numbers(pair, tmp_path):
    ref, dem, _ = pair
    result = coregister(ref, dem, report_path=tmp_path / "r.html", deramp_order=1)
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<svg" in text and text.count("<polyline") == 2
    assert f"{result.shift_x_m:.3f}" in text and "Deramp (order 1)" in text
    assert report_html(result).startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("cancel_after", [1, 12])  # while fitting; while writing blocks
def test_cancel_leaves_nothing_written(pair, tmp_path, cancel_after):
    ref, dem, _ = pair
    out = tmp_path / "out"
    feedback = ConsoleFeedback(verbose=False, cancel_after=cancel_after)
    with pytest.raises(Cancelled):
        coregister(ref, dem, out / "a.tif", out / "d.tif", block_size=32, feedback=feedback)
    assert not out.exists() or os.listdir(out) == []


# ---- bad input: clear messages, nothing written ---------------------------------------------------------------

def run_bad(tmp_path, ref, dem, error, match, **kwargs):
    out = tmp_path / "out"
    with pytest.raises(error, match=match) as info:
        coregister(ref, dem, out / "aligned.tif", out / "dh.tif", out / "report.html", **kwargs)
    assert not out.exists() or os.listdir(out) == []
    assert "Fix:" in str(info.value)
    return info.value


def test_no_overlap(pair, tmp_path):
    ref, _, g = pair
    far = grid(x0=700000.0)
    dem = write_dem(tmp_path / "far.tif", sample_terrain(far), far)
    run_bad(tmp_path, ref, dem, NoOverlapError, "do not overlap")


def test_nodata_everywhere(pair, tmp_path):
    ref, _, g = pair
    dem = write_dem(tmp_path / "nodata.tif", np.full(g.shape, np.nan), g)
    run_bad(tmp_path, ref, dem, AllNoDataError, "no valid elevation")
    run_bad(tmp_path, dem, ref, AllNoDataError, "reference DEM .* no valid elevation")


def test_no_stable_terrain_left(pair, tmp_path):
    ref, dem, g = pair
    left, bottom, right, top = g.bounds
    everything = {"type": "Polygon", "coordinates": [[(left, bottom), (right, bottom), (right, top), (left, top),
                                                      (left, bottom)]]}
    run_bad(tmp_path, ref, dem, InputError, "No stable terrain is left", outlines=[everything], outlines_crs=g.crs)


def test_flat_terrain_and_single_aspect(tmp_path):
    g = grid(100, 100)
    rng = np.random.default_rng(0)
    flat = 100 + rng.normal(0, 0.05, g.shape)
    ref = write_dem(tmp_path / "flat_ref.tif", flat, g)
    dem = write_dem(tmp_path / "flat_dem.tif", flat + 1, g)
    run_bad(tmp_path, ref, dem, InputError, "too flat")
    # ... but the vertical shift still works on it
    assert coregister(ref, dem, method="vertical").shift_z_m == pytest.approx(-1.0, abs=1e-3)
    rows, cols = np.mgrid[0:100, 0:100]
    tilted = 100 + 5.0 * cols + 0 * rows  # one slope facing west only
    ref = write_dem(tmp_path / "tilt_ref.tif", tilted, g)
    dem = write_dem(tmp_path / "tilt_dem.tif", tilted + 1, g)
    run_bad(tmp_path, ref, dem, InputError, "too few directions")


def test_mismatched_units(pair, tmp_path):
    ref, _, g = pair
    feet = write_dem(tmp_path / "feet.tif", sample_terrain(g, SHIFT) * 3.28084, g)
    err = run_bad(tmp_path, ref, feet, InputError, "not in the same unit")
    assert "feet" in str(err)
    ref_m = write_dem(tmp_path / "ref_m.tif", sample_terrain(g), g, unit="m")
    dem_ft = write_dem(tmp_path / "dem_ft.tif", sample_terrain(g, SHIFT), g, unit="ft")
    run_bad(tmp_path, ref_m, dem_ft, InputError, "'m' but the DEM to align in 'ft'")


def test_bad_parameters(pair, tmp_path):
    ref, dem, _ = pair
    run_bad(tmp_path, ref, dem, InputError, "Slope limits", slope_limits=(30, 10))
    run_bad(tmp_path, ref, dem, InputError, "Unknown co-registration method", method="icp")
    run_bad(tmp_path, ref, dem, InputError, "Deramp order", deramp_order=5)
    run_bad(tmp_path, ref, dem, InputError, "Maximum iterations", max_iterations=0)
