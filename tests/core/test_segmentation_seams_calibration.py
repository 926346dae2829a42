"""Issue 16: tiled inference equals whole-image inference; temperature scaling fitted on held-out data."""

import dataclasses

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.errors import ModelError
from serac.core.segmentation import load_model, predict_array
from serac.core.segmentation.calibration import expected_calibration_error, fit_temperature
from serac.core.segmentation.inference import _prepare
from serac.core.segmentation.model_metadata import ModelMetadata
from serac.core.segmentation.runtime import activate
from serac.core.segmentation.tiling import TileGrid
from serac.core.vector_io import read_geometries

from tests.conftest import ROOT, SAMPLE_DATA

GLACIER = ROOT / "models" / "glacier_landsat_v1.onnx"
SEG = SAMPLE_DATA / "segmentation"


def _whole_image(model, raw):
    """Whole-image probabilities: the scene padded (bottom/right, nodata fill) to the size multiple."""
    m = model.metadata.size_multiple
    x, valid = _prepare(model.metadata, raw)
    rows, cols = -(-x.shape[1] // m) * m, -(-x.shape[2] // m) * m
    padded = np.full((x.shape[0], rows, cols), model.metadata.nodata_fill, np.float32)
    padded[:, :x.shape[1], :x.shape[2]] = x
    return model.predict(padded[None])[0, :, :x.shape[1], :x.shape[2]]


def test_tiled_equals_whole_image_on_the_bundled_everest_sample():
    """Real bundled Landsat RGB (655 x 200 px): tile seams across rows, max difference < 0.02 away from the border."""
    model = load_model(GLACIER, backend="onnxruntime")
    raw = rio.read_raster(SEG / "everest_landsat_rgb_heldout.tif").data
    whole = _whole_image(model, raw)
    tiled = predict_array(model, raw)
    border = model.metadata.context_px
    inner = (slice(border, -border), slice(border, -border))
    assert len(TileGrid(raw.shape[1:], 256, model.metadata.overlap, 8).row_starts) >= 3  # seams to cross
    assert np.abs(tiled[0][inner] - whole[0][inner]).max() < 0.02
    # the old default (32 px overlap, no margin discarded) is what the issue measured: seams of > 0.1
    old = dataclasses.replace(model.metadata, overlap=32, context_px=0)
    model.metadata = old
    seamy = predict_array(model, raw)
    assert np.abs(seamy[0][inner] - whole[0][inner]).max() > 0.1


def test_tiled_equals_whole_image_on_the_full_everest_scene(shared_data):
    model = load_model(GLACIER, backend="onnxruntime")
    raw = rio.read_raster(shared_data / "optical" / "everest_landsat" / "LE71400412000304SGS00_RGB.tif").data
    whole = _whole_image(model, raw)
    tiled = predict_array(model, raw)
    b = model.metadata.context_px
    assert np.abs(tiled[0][b:-b, b:-b] - whole[0][b:-b, b:-b]).max() < 0.02


def test_overlap_below_the_context_warns(tmp_path):
    from serac.core.segmentation import segment_raster

    from serac.core.progress import ConsoleFeedback

    feedback = ConsoleFeedback(verbose=False)

    run = segment_raster(SEG / "everest_landsat_rgb_heldout.tif", GLACIER, tmp_path / "p.tif", overlap=32,
                         backend="onnxruntime", feedback=feedback)
    assert run.extra["overlap_px"] == 32 and any("seams" in m for m in feedback.messages)


def test_temperature_is_validated_and_defaults_to_one():
    d = ModelMetadata.from_json(open(GLACIER.with_suffix(".json")).read()).to_dict()
    d["output"].pop("temperature")
    assert ModelMetadata.from_dict(d).temperature == 1.0
    for bad in (0, -1.0, float("inf"), "1.2", True):
        d["output"]["temperature"] = bad
        with pytest.raises(ModelError, match="temperature"):
            ModelMetadata.from_dict(d)


def test_calibration_on_held_out_data_lowers_the_ece():
    """The shipped temperature was fitted on the top half of the held-out block; the bundled sample is that block:
    its bottom half (never used for fitting) must be better calibrated with it than without."""
    model = load_model(GLACIER, backend="onnxruntime")
    t = model.metadata.temperature
    assert t != 1.0 and model.metadata.training["metrics"]["calibration"]["fitted_on"].startswith("held-out")
    raw = rio.read_raster(SEG / "everest_landsat_rgb_heldout.tif")
    ref = rio.rasterize_geometries(read_geometries(SEG / "everest_rgi60_heldout.gpkg", raw.grid.crs), raw.grid)
    calibrated = predict_array(model, raw.data)[0]
    model.metadata = dataclasses.replace(model.metadata, temperature=1.0)
    raw_p = predict_array(model, raw.data)[0]
    rows = slice(328, None)
    labels = (ref[rows] == 1).astype(int).ravel()
    before = expected_calibration_error(raw_p[rows].reshape(1, -1), labels)
    after = expected_calibration_error(calibrated[rows].reshape(1, -1), labels)
    assert after < before
    # class decisions do not change with the temperature
    assert np.array_equal(calibrated >= 0.5, raw_p >= 0.5)


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20000).astype(np.float32)
    labels = (rng.random(20000) < activate(true_logits[None, None], "sigmoid")[0, 0]).astype(int)
    t = fit_temperature(3.0 * true_logits[None], labels, "sigmoid")  # over-confident by 3
    assert t == pytest.approx(3.0, rel=0.1)
    logits3 = rng.normal(0, 2, (3, 5000)).astype(np.float32)
    p = activate(logits3[None], "softmax")[0]
    labels3 = np.array([rng.choice(3, p=p[:, i] / p[:, i].sum()) for i in range(5000)])
    assert fit_temperature(2.0 * logits3, labels3, "softmax") == pytest.approx(2.0, rel=0.15)


def test_onnx_and_torch_agree_after_calibration():
    pytest.importorskip("torch")
    raw = rio.read_raster(SEG / "everest_landsat_rgb_heldout.tif", window=(0, 300, 200, 260)).data
    a = load_model(GLACIER, backend="onnxruntime")
    b = load_model(GLACIER, backend="torch-cpu")
    assert a.metadata.temperature == b.metadata.temperature != 1.0
    assert np.abs(predict_array(a, raw) - predict_array(b, raw)).max() < 1e-4


def test_uncertainty_is_written_and_larger_on_held_out_errors(tmp_path):
    """Test-time augmentation spread on the bundled held-out block: higher where the model is wrong."""
    from serac.core.jobs import run_job

    out = {"output_probability": str(tmp_path / "p.tif"), "output_uncertainty": str(tmp_path / "u.tif"),
           "output_outlines": str(tmp_path / "o.gpkg")}
    result = run_job("segmentation_glacier_outlines", {"input": str(SEG / "everest_landsat_rgb_heldout.tif")}, out,
                     {"uncertainty": True, "backend": "onnxruntime"})
    assert result.outputs["output_uncertainty"] == out["output_uncertainty"]
    p = rio.read_raster(out["output_probability"])
    u = rio.read_raster(out["output_uncertainty"]).data[0]
    ref = rio.rasterize_geometries(read_geometries(SEG / "everest_rgi60_heldout.gpkg", p.grid.crs), p.grid) == 1
    wrong = (p.data[0] >= 0.5) != ref
    assert np.isfinite(u).all() and u.min() >= 0 and u.max() <= 0.5
    assert u[wrong].mean() > 1.5 * u[~wrong].mean()  # measured: 0.052 vs 0.027
    feats = result.features["output_outlines"][0]
    assert feats and all(0 <= f["properties"]["mean_uncertainty"] <= 0.5 for f in feats)
    raw = rio.read_raster(SEG / "everest_landsat_rgb_heldout.tif", window=(0, 0, 200, 256)).data
    a, ua = predict_array(load_model(GLACIER, backend="onnxruntime"), raw, with_uncertainty=True)
    assert a.shape == (1, 256, 200) and ua.shape == (256, 200)


def test_uncertainty_off_writes_no_raster_and_no_attribute(tmp_path):
    from serac.core.jobs import run_job

    out = {"output_probability": str(tmp_path / "p.tif"), "output_outlines": str(tmp_path / "o.gpkg")}
    result = run_job("segmentation_glacier_outlines", {"input": str(SEG / "everest_landsat_rgb_heldout.tif")}, out,
                     {"backend": "onnxruntime"})
    assert "output_uncertainty" not in result.outputs
    assert "mean_uncertainty" not in result.features["output_outlines"][0][0]["properties"]


def test_the_calibration_tool_names_a_model_it_cannot_calibrate(capsys):
    """python -m models.calibrate NAME: a model without calibration data, or a file that is not in models/, is a
    usage error naming what is known or where to copy it (it raised a raw KeyError), and nothing is written."""
    pytest.importorskip("torch")  # the tool writes metadata through models.export_onnx
    from serac.models import calibrate

    for name, said in (("nothing_v1", "calving_zones_synthetic_* and glacier_landsat_v1"),
                       ("calving_zones_synthetic_v99", "copy the model into models/")):
        with pytest.raises(SystemExit) as stop:
            calibrate.main([name])
        assert stop.value.code == 2 and said in capsys.readouterr().err
    assert not (ROOT / "models" / "logs" / "calving_zones_synthetic_v99_calibration.json").exists()
