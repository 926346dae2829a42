"""The two-scene true-colour glacier model (glacier_rgb_v2): its declared input, data it was not made for
refused, the model card's per-scene figures reproduced from the shipped file."""

import json

import numpy as np
import pytest
from affine import Affine

from serac.core import raster_io as rio
from serac.core.errors import ModelError
from serac.core.segmentation import load_model, predict_array, read_metadata, segment_raster
from serac.core.segmentation.metrics import segmentation_scores
from serac.core.segmentation.model_metadata import ValueRange

from tests.conftest import ROOT, SAMPLE_DATA

V2 = ROOT / "models" / "glacier_rgb_v2.onnx"
RGB = SAMPLE_DATA / "segmentation" / "everest_landsat_rgb_heldout.tif"


def test_metadata_declares_8_bit_true_colour_at_30_m():
    meta = read_metadata(V2)
    with open(V2.with_suffix(".json")) as f:
        assert json.load(f) == json.loads(meta.to_json())
    assert meta.band_names == ["red", "green", "blue"] and meta.nodata_values == (0.0,)
    assert meta.value_range == ValueRange("uint8", 0.0, 255.0, None)
    assert meta.pixel_size_range() == pytest.approx((20.0, 45.0))
    assert meta.context_px > 0 and meta.overlap >= 2 * meta.context_px
    metrics = meta.training["metrics"]
    assert set(metrics["per_scene"]) == {"landsat7_2000", "sentinel2_2020"}
    calibration = metrics["calibration"]
    assert meta.temperature == calibration["temperature"]
    cross = calibration["ece_cross_fitted"].values()  # the temperature kept is the one that held out of sample
    fitted_helps = sum(e["after"] for e in cross) < sum(e["before"] for e in cross)
    assert (meta.temperature == calibration["temperature_top_halves"]) if fitted_helps else meta.temperature == 1.0


def test_sentinel2_at_10_m_is_refused_naming_the_resampling(tmp_path):
    r = rio.read_raster(RGB)
    grid = rio.RasterGrid(r.grid.crs, r.grid.transform * Affine.scale(1 / 3), r.grid.width, r.grid.height)
    ten = tmp_path / "rgb_10m.tif"
    rio.write_raster(ten, np.nan_to_num(r.data).astype("uint8"), grid, nodata=0)
    with pytest.raises(ModelError, match=r"pixel size \(10 m\).*accepted 20-45 m.*resample"):
        segment_raster(str(ten), str(V2), tmp_path / "p.tif")


@pytest.mark.parametrize("kind", ["uint16", "reflectance"])
def test_other_scalings_are_refused(tmp_path, kind):
    r = rio.read_raster(RGB)
    data = np.nan_to_num(r.data)
    scaled = (data * 257).astype("uint16") if kind == "uint16" else (data / 255 * 0.8).astype("float32")
    path = tmp_path / f"{kind}.tif"
    rio.write_raster(path, scaled, r.grid, nodata=0)
    with pytest.raises(ModelError, match="look like reflectance" if kind == "reflectance" else "outside the 0 to 255"):
        segment_raster(str(path), str(V2), tmp_path / "p.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # nothing half-written


def test_float_8_bit_values_are_still_accepted():
    """Resampling (e.g. averaging to 30 m) turns 8-bit DN into float values 0-255: still the model's data."""
    vr = ValueRange("uint8", 0.0, 255.0)
    assert vr.check(np.random.default_rng(0).uniform(20, 250, (3, 1000)), "float32", "m") is None
    with pytest.raises(ModelError, match="look like reflectance"):
        vr.check(np.random.default_rng(0).uniform(0.02, 0.9, (3, 1000)), "float32", "m")
    assert ValueRange("float32", 0.0, 1.0).check(np.full((3, 10), 0.5), "float32", "m") is None


def test_card_figures_on_both_held_out_blocks(shared_data):
    """The shipped file reproduces the per-scene held-out IoU of its metadata (and card) on the real scenes."""
    from serac.models.glacier_rgb_scenes import load_scenes

    model = load_model(V2, backend="onnxruntime")
    per_scene = model.metadata.training["metrics"]["per_scene"]
    for s in load_scenes():
        p = predict_array(model, s.image)[0]
        ok = s.test & (s.labels != 255) & np.isfinite(p)
        iou = segmentation_scores(p >= 0.5, s.labels == 1, ok).iou
        assert iou == pytest.approx(per_scene[s.name]["model"]["held_out"]["iou"], abs=2e-3)
