"""Blockwise scene inference: outputs, block-size independence, bad inputs, bounded memory."""

import os
import tracemalloc

import numpy as np
import pytest
import rasterio

from serac.core import raster_io as rio
from serac.core.backend import BackendChoice
from serac.core.errors import AllNoDataError, BandCountError, Cancelled, CRSError, ModelError
from serac.core.progress import ConsoleFeedback
from serac.core.segmentation import ModelMetadata, SegmentationModel, load_model, predict_array, segment_raster
from serac.core.segmentation.inference import classify, pixel_size_m
from serac.core.segmentation.tiling import TileGrid

from tests.core.test_segmentation_support import BASE_METADATA, metadata, tiny_model, write_image

pytest.importorskip("torch")  # the tiny test networks are exported from torch


class PerPixelSession:
    """A fake network whose logit is a fixed function of each pixel (no spatial context)."""

    calls = 0

    def __call__(self, batch):
        PerPixelSession.calls += 1
        return batch.mean(axis=1, keepdims=True) * 2.0


def per_pixel_model(**changes):
    meta = ModelMetadata.from_dict(metadata(**changes))
    return SegmentationModel(meta, PerPixelSession(), BackendChoice("numpy", "cpu", "test"))


def test_probabilities_written_with_names_tags_and_class_map(tmp_path):
    src = tmp_path / "img.tif"
    data, grid = write_image(src)
    out, classes = tmp_path / "p.tif", tmp_path / "c.tif"
    run = segment_raster(src, tiny_model(), out, class_path=classes, backend="onnxruntime")
    assert run.backend == "onnxruntime (cpu)" and run.tiles_run == run.tiles_total > 1
    with rasterio.open(out) as ds:
        assert ds.count == 1 and ds.descriptions == ("p_glacier",)
        assert ds.tags()["SERAC_MODEL"] == "tiny_test" and ds.tags()["SERAC_BACKEND"] == "onnxruntime (cpu)"
        p = ds.read(1)
        assert rio.RasterGrid.from_dataset(ds).matches(grid)
    assert np.isfinite(p).all() and 0 <= p.min() and p.max() <= 1
    with rasterio.open(classes) as ds:
        c = ds.read(1)
    np.testing.assert_array_equal(c, (p >= 0.5).astype(np.uint8))
    model = load_model(tiny_model(), "onnxruntime")
    np.testing.assert_allclose(predict_array(model, data.astype(np.float32))[0], p, atol=1e-6)


def test_output_does_not_depend_on_block_size_and_torch_matches(tmp_path):
    src = tmp_path / "img.tif"
    write_image(src, 170, 130)
    a, b, c = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.tif"
    ra = segment_raster(src, tiny_model(), a, backend="onnxruntime", tiles_per_block=1)
    rb = segment_raster(src, tiny_model(), b, backend="onnxruntime", tiles_per_block=50, batch_size=3)
    segment_raster(src, tiny_model(), c, backend="torch-cpu", tiles_per_block=2)
    n_tiles = len(TileGrid((130, 170), 32, 8))
    assert ra.tiles_run == rb.tiles_run == n_tiles  # every tile runs once, even with many blocks
    pa, pb, pc = (rio.read_raster(p).data for p in (a, b, c))
    assert np.abs(pa - pb).max() < 1e-6
    assert np.abs(pa - pc).max() < 1e-5


def test_blended_per_pixel_model_is_exact_across_tiles_and_blocks(tmp_path):
    src = tmp_path / "img.tif"
    data, _ = write_image(src, 97, 71)
    out = tmp_path / "p.tif"
    model = per_pixel_model()
    segment_raster(src, model, out, tiles_per_block=1)
    x = model.metadata.normalization.apply(data.astype(np.float32)).mean(axis=0) * 2
    np.testing.assert_allclose(rio.read_raster(out).data[0], 1 / (1 + np.exp(-x)), atol=1e-5)


def test_nodata_tiles_are_skipped_and_stay_nodata(tmp_path):
    data, grid = write_image(tmp_path / "tmp.tif", 160, 100)
    data[:, :, :80] = 0
    src = tmp_path / "half_nodata.tif"
    rio.write_raster(src, data, grid, nodata=0, dtype="uint8", cog=False)
    run = segment_raster(src, tiny_model(), tmp_path / "p.tif", backend="onnxruntime")
    p = rio.read_raster(tmp_path / "p.tif").data[0]
    assert np.isnan(p[:, :80]).all() and np.isfinite(p[:, 80:]).all()
    assert run.tiles_nodata > 0 and run.tiles_run + run.tiles_nodata == run.tiles_total
    assert run.valid_fraction == pytest.approx(0.5)


def test_metadata_nodata_values_are_honoured(tmp_path):
    data, grid = write_image(tmp_path / "img.tif", 64, 64)
    data[:, 10:20, 10:20] = 7
    src = tmp_path / "with7.tif"
    rio.write_raster(src, data, grid, nodata=None, dtype="uint8", cog=False)
    out = tmp_path / "p.tif"
    segment_raster(src, per_pixel_model(input__nodata={"values": [7], "fill": 0.0}), out)
    p = rio.read_raster(out).data[0]
    assert np.isnan(p[10:20, 10:20]).all() and np.isfinite(p).sum() == 64 * 64 - 100


def test_all_nodata_input_fails_and_writes_nothing(tmp_path):
    _, grid = write_image(tmp_path / "tmp.tif", 40, 40)
    src = tmp_path / "empty.tif"
    rio.write_raster(src, np.zeros((3, 40, 40), np.uint8), grid, nodata=0, dtype="uint8", cog=False)
    with pytest.raises(AllNoDataError):
        segment_raster(src, tiny_model(), tmp_path / "p.tif", backend="onnxruntime")
    assert not (tmp_path / "p.tif").exists()


def test_wrong_band_count_is_a_clear_error(tmp_path):
    src = tmp_path / "one_band.tif"
    write_image(src, bands=1)
    with pytest.raises(BandCountError, match="expects 3 band.*input has 1"):
        segment_raster(src, tiny_model(), tmp_path / "p.tif", backend="onnxruntime")
    src4 = tmp_path / "four.tif"
    write_image(src4, bands=4)
    segment_raster(src4, tiny_model(), tmp_path / "p.tif", bands=[1, 2, 3], backend="onnxruntime")
    assert (tmp_path / "p.tif").exists()


def test_bands_from_several_rasters_are_stacked(tmp_path):
    data, _ = write_image(tmp_path / "rgb.tif")
    write_image(tmp_path / "one.tif", bands=1, seed=5)
    sources = [(str(tmp_path / "rgb.tif"), [1, 2]), (str(tmp_path / "one.tif"), None)]
    run = segment_raster(sources, tiny_model(), tmp_path / "p.tif", backend="onnxruntime")
    assert run.tiles_run > 0


def test_raster_without_crs_is_refused(tmp_path):
    src = tmp_path / "nocrs.tif"
    write_image(src, crs=False)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        segment_raster(src, tiny_model(), tmp_path / "p.tif", backend="onnxruntime")


def test_pixel_size_far_from_the_model_is_refused(tmp_path):
    src = tmp_path / "fine.tif"
    write_image(src, res=5.0)
    with pytest.raises(ModelError, match="pixel size \\(5 m\\)"):
        segment_raster(src, tiny_model(), tmp_path / "p.tif", backend="onnxruntime")
    segment_raster(src, tiny_model(), tmp_path / "p.tif", backend="onnxruntime", check_pixel_size=False)


def test_cancellation_stops_between_batches_and_leaves_no_file(tmp_path):
    src = tmp_path / "img.tif"
    write_image(src, 200, 160)
    out = tmp_path / "p.tif"
    feedback = ConsoleFeedback(verbose=False, cancel_after=2)
    with pytest.raises(Cancelled):
        segment_raster(src, tiny_model(), out, backend="onnxruntime", batch_size=2, feedback=feedback)
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if "serac-tmp" in f]


def test_memory_is_bounded_by_the_block_not_the_raster(tmp_path):
    """Peak Python-heap memory (numpy arrays) with small blocks stays far below the raster's size."""
    width = height = 1024
    grid = rio.RasterGrid.from_bounds("EPSG:32645", 478000, 3108140 - 30 * height, 478000 + 30 * width,
                                      3108140, 30.0)
    src = tmp_path / "big.tif"
    with rio.RasterWriter(src, grid, count=3, dtype="uint8", nodata=None, cog=False) as w:
        for inner, _ in rio.iter_blocks(grid.shape, 256):
            w.write(np.full((3, int(inner.height), int(inner.width)), 120, np.uint8), inner)
    model = per_pixel_model(tiling__tile_size=64, tiling__overlap=16)
    full_float32 = 4 * 4 * width * height  # input bands + probability, as float32
    tracemalloc.start()
    segment_raster(src, model, tmp_path / "p.tif", tiles_per_block=2, batch_size=4)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < full_float32 / 8, f"peak {peak / 1e6:.1f} MB"


def test_pixel_size_in_metres_for_projected_and_geographic_grids():
    from affine import Affine
    from rasterio.crs import CRS

    utm = rio.RasterGrid(CRS.from_epsg(32645), Affine(30, 0, 0, 0, -30, 0), 10, 10)
    assert pixel_size_m(utm) == pytest.approx(30.0)
    geo = rio.RasterGrid(CRS.from_epsg(4326), Affine(0.00027, 0, 86.9, 0, -0.00027, 28.0), 10, 10)
    assert pixel_size_m(geo) == pytest.approx(28.1, abs=0.5)


def test_classify_softmax_and_nodata():
    meta = ModelMetadata.from_dict(metadata(output__activation="softmax",
                                            output__classes=["glacier", "ocean", "rock"],
                                            output__positive_class="glacier"))
    p = np.zeros((3, 2, 2), np.float32)
    p[1, 0, 0] = p[2, 0, 1] = p[0, 1, 0] = 1
    p[:, 1, 1] = np.nan
    np.testing.assert_array_equal(classify(p, meta), [[1, 2], [0, 255]])
    assert BASE_METADATA["output"]["threshold"] == 0.5
