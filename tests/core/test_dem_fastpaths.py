"""DEM co-registration fast paths give the same answer as the straightforward ones:
direct reads instead of the GDAL warp, the bracketing median, subset draws, the output writer."""

import os

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from serac.core import raster_io as rio
from serac.core.dem import StableTerrain, make_pipeline

from serac.core.dem.gridread import BandReader, pixel_offset
from serac.core.dem.output import DemOutput
from serac.core.dem.sample import Patch, _Draws
from serac.core.dem.select import median
from serac.core.errors import NoOverlapError

UTM = CRS.from_epsg(32633)


def _grid(x0=500000.0, y0=8600000.0, width=120, height=90, res=20.0, crs=UTM):
    return rio.RasterGrid(crs, Affine(res, 0, x0, 0, -res, y0), width, height)


def _write(path, values, g, dtype="float32", nodata=-9999.0):
    with rasterio.open(path, "w", driver="GTiff", width=g.width, height=g.height, count=1, dtype=dtype,
                       crs=g.crs, transform=g.transform, nodata=nodata, tiled=True, blockxsize=64,
                       blockysize=64) as ds:
        ds.write(values.astype(dtype), 1)
    return str(path)


@pytest.fixture(scope="module")
def big_dem(tmp_path_factory):
    """A DEM on a grid 30 px larger on every side than ``_grid()``, with nodata holes."""
    g = _grid(x0=500000.0 - 600.0, y0=8600000.0 + 600.0, width=180, height=150)
    rng = np.random.default_rng(3)
    z = rng.normal(size=g.shape).cumsum(axis=0).cumsum(axis=1).astype(np.float32)
    z[rng.random(g.shape) < 0.05] = -9999.0
    return _write(tmp_path_factory.mktemp("fast") / "big.tif", z, g), g


def test_pixel_offset_detects_whole_pixel_alignment_only():
    g = _grid()
    assert pixel_offset(g, g) == (0, 0)
    assert pixel_offset(_grid(x0=500000.0 - 600.0, y0=8600000.0 + 400.0), g) == (20, 30)  # 20 rows, 30 cols
    assert pixel_offset(_grid(x0=500000.0 + 5.0), g) is None  # a quarter pixel
    assert pixel_offset(_grid(res=10.0), g) is None
    assert pixel_offset(_grid(crs=CRS.from_epsg(32632)), g) is None  # another UTM zone moves the points
    assert pixel_offset(_grid(crs=CRS.from_epsg(25833)), g) == (0, 0)  # ETRS89 = WGS 84 for PROJ here


def test_direct_read_equals_the_warp(big_dem):
    path, _ = big_dem
    reader = BandReader(path)
    for target in (_grid(), _grid(x0=500000.0 - 1200.0, y0=8600000.0 + 900.0, width=200, height=200)):
        assert reader.offset(target) is not None  # the fast path is taken
        corner = Window(target.width - 60, target.height - 45, 60, 45)  # beyond the file for the larger target
        for window in (None, Window(0, 0, 50, 40), corner):
            warped = rio.read_on_grid(path, target, bands=1, window=window).band(1)
            np.testing.assert_array_equal(reader.read(target, window), warped)
    far = _grid(x0=400000.0)
    assert reader.offset(far) == (30, -4970)
    with pytest.raises(NoOverlapError):
        reader.read(far)


def test_mask_flags_equal_the_float_read(tmp_path):
    g = _grid()
    rng = np.random.default_rng(4)
    values = rng.integers(0, 3, g.shape).astype(np.uint8)
    values[:5] = 255
    mask = _write(tmp_path / "mask.tif", values, _grid(crs=CRS.from_epsg(25833)), dtype="uint8", nodata=255)
    expected = rio.read_on_grid(mask, g, bands=1, resampling="nearest").band(1)
    expected = np.isfinite(expected) & (expected != 0)
    reader = BandReader(mask)
    assert reader.offset(g) == (0, 0)
    np.testing.assert_array_equal(reader.nonzero(g), expected)
    np.testing.assert_array_equal(reader.nonzero(g, Window(10, 0, 30, 20)), expected[0:20, 10:40])
    assert not expected[:5].any()


def test_longyearbyen_direct_read_gives_the_warped_answer(shared_data, monkeypatch):
    """The 1995 DEM and the mask are in EPSG:25833, the reference in EPSG:32633: same pixels, read directly."""
    d = shared_data / "dem" / "longyearbyen_partial"
    ref, dem, mask = (d / "aligned_elev_LZD_xdem_workflow.tif", d / "DEM_1995.tif",
                      d / "glacier_mask_1990_derived.tif")
    assert BandReader(dem).offset(rio.read_grid(ref)) == (0, 0)
    fast = make_pipeline("nuth_kaab").fit(ref, dem, StableTerrain(mask_path=mask))
    monkeypatch.setattr(rio, "pixel_offset", lambda *args, **kwargs: None)  # always warp
    warped = make_pipeline("nuth_kaab").fit(ref, dem, StableTerrain(mask_path=mask))
    for a, b in [(fast.shift_x_m, warped.shift_x_m), (fast.shift_y_m, warped.shift_y_m),
                 (fast.shift_z_m, warped.shift_z_m)]:
        assert a == pytest.approx(b, abs=1e-6)
    assert fast.counts == warped.counts
    assert fast.stats_after == warped.stats_after


@pytest.mark.parametrize("n", [7, 50_000, 50_001, 123_456, 400_001])
def test_median_equals_numpy(n):
    rng = np.random.default_rng(n)
    cases = [rng.normal(size=n), np.sort(rng.normal(size=n)), rng.integers(0, 4, n).astype(np.float64),
             rng.standard_cauchy(n).astype(np.float32), np.full(n, 2.5),
             np.concatenate([np.sort(rng.normal(size=n // 2))[::-1], rng.normal(size=n - n // 2) + 9])]
    for values in cases:
        copy = values.copy()
        got, expected = median(values), np.median(values)
        assert got == expected and type(got) == type(expected)
        np.testing.assert_array_equal(values, copy)  # not modified


@pytest.mark.parametrize("density", [0.9, 0.02])
def test_subset_draws_equal_fresh_draws(density):
    rng = np.random.default_rng(5)
    usable = rng.random((300, 400)) < density
    patch = Patch(None, None, None, None, usable)
    first = _Draws([patch], np.random.default_rng(1))
    fresh = _Draws([patch], np.random.default_rng(1))
    for p in (0.5, 0.01, 0.2, 0.5, 0.7, 1.3):
        got = first(p)[0]
        expected = fresh(p)[0] if p > 1 else np.flatnonzero(fresh.keys[0] < p)
        np.testing.assert_array_equal(got, expected)
        assert np.all(usable.ravel()[got])
    assert first(1.0)[0].size == usable.sum()


@pytest.mark.parametrize("cog", [True, False])
def test_output_writes_blocks_and_leaves_nothing_on_error(tmp_path, cog):
    g = _grid(width=300, height=260)
    values = np.arange(g.width * g.height, dtype=np.float32).reshape(g.shape) / 7.0
    values[3, 4] = np.nan
    with DemOutput(tmp_path / "out.tif", g, "dh", {"UNITS": "m"}, cog=cog) as out:
        for inner, _ in rio.iter_blocks(g.shape, 128):
            out.write(values[inner.row_off:inner.row_off + inner.height, inner.col_off:inner.col_off + inner.width],
                      inner)
    back = rio.read_raster(tmp_path / "out.tif")
    np.testing.assert_array_equal(back.band(1), values)
    assert back.band_names == ["dh"] and back.tags["UNITS"] == "m"
    assert np.isnan(back.source_nodata)  # NaN, as in every float output (issue 15; it was -9999)
    with rasterio.open(tmp_path / "out.tif") as ds:
        assert ds.profile["compress"] == "deflate" and ds.profile["blockxsize"] == 256
        assert (len(ds.overviews(1)) > 0) == (cog and rio.has_cog_driver())
    with pytest.raises(RuntimeError):
        with DemOutput(tmp_path / "failed.tif", g, "dh", cog=cog) as out:
            out.write(values)
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["out.tif"]
