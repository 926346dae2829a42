"""Deep-learning segmentation algorithms through QGIS Processing, on the bundled real / realistic samples.

* glacier outlines with the shipped model on the held-out block of the real Landsat 7 Everest scene,
  scored against RGI 6.0 with the evaluation algorithm;
* calving front with the shipped zone model on the simulated SAR scene over Columbia Glacier's
  real geometry, scored with the CaFFe mean distance error;
* training / fine-tuning (a few steps), and clear errors for bad input.
"""

import json
import os

import numpy as np
import pytest

from serac.core.review_fields import FIELD_SPEC
from tests.conftest import ROOT, SAMPLE_DATA

pytestmark = pytest.mark.qgis

SEG = SAMPLE_DATA / "segmentation"
RGB = SEG / "everest_landsat_rgb_heldout.tif"
RGI = SEG / "everest_rgi60_heldout.gpkg"
SAR = SEG / "columbia_sar_simulated_50m.tif"
FRONT_REF = SEG / "columbia_front_reference.gpkg"
REVIEW_NAMES = [name for name, _ in FIELD_SPEC]
GLACIER_MODEL = ROOT / "models" / "glacier_landsat_v1.onnx"


def _layer(path, layer=None):
    from qgis.core import QgsVectorLayer

    uri = str(path) if layer is None else f"{path}|layername={layer}"
    lyr = QgsVectorLayer(uri, "l", "ogr")
    assert lyr.isValid(), uri
    return lyr


def test_glacier_outlines_on_the_held_out_landsat_block(run_alg, tmp_path):
    from serac.core.raster_io import read_raster

    prob, outlines = tmp_path / "prob.tif", tmp_path / "outlines.gpkg"
    res = run_alg("segmentation_glacier_outlines", {
        "INPUT": str(RGB), "BACKEND": 1, "MIN_AREA_KM2": 0.05, "MAX_HOLE_KM2": 0.05, "SIMPLIFY_M": 15.0,
        "OUTPUT_PROBABILITY": str(prob), "OUTPUT_OUTLINES": str(outlines)})
    assert res["BACKEND_USED"] == "onnxruntime (cpu)" and res["MPX_PER_S"] > 0
    p = read_raster(prob)
    assert p.band_names == ["p_glacier"] and np.nanmin(p.data) >= 0 and np.nanmax(p.data) <= 1
    lyr = _layer(res["OUTPUT_OUTLINES"])
    assert lyr.featureCount() == res["N_OUTLINES"] > 0
    assert [f.name() for f in lyr.fields()][-10:] == ["id", "area_km2", "mean_probability", "model", *REVIEW_NAMES]
    feats = list(lyr.getFeatures())
    assert {f["review_status"] for f in feats} == {"unreviewed"}
    assert {f["model"] for f in feats} == {"glacier_rgb_v2"}  # the default model since issue 16
    assert min(f["area_km2"] for f in feats) >= 0.05 * 0.9  # specks removed (simplification changes area a bit)
    assert all(f["mean_probability"] >= 0.5 for f in feats)
    assert res["TOTAL_AREA_KM2"] == pytest.approx(sum(f["area_km2"] for f in feats), rel=1e-6)

    ev = run_alg("segmentation_evaluate", {"PREDICTED": res["OUTPUT_OUTLINES"], "REFERENCE": str(RGI),
                                           "GRID": str(RGB)})
    assert ev["KIND"] == "polygons"
    card = json.load(open(ROOT / "models" / "glacier_rgb_v2.json"))["training"]["metrics"]["held_out"]
    # the algorithm's outlines (specks/holes removed, simplified) score close to the model card's pixel IoU
    assert ev["IOU"] == pytest.approx(card["iou"], abs=0.05)
    assert 0 < ev["PRECISION"] <= 1 and 0 < ev["RECALL"] <= 1


def test_calving_front_on_simulated_columbia_scene(run_alg, tmp_path):
    from serac.core.raster_io import read_raster

    res = run_alg("segmentation_calving_front", {
        "INPUT": str(SAR), "BACKEND": 0, "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
        "OUTPUT_ZONES": str(tmp_path / "zones.tif"), "OUTPUT_FRONTS": str(tmp_path / "fronts.gpkg")})
    zones = read_raster(res["OUTPUT_ZONES"]).data[0]
    assert set(np.unique(zones[np.isfinite(zones)])) <= {0, 1, 2}
    assert read_raster(res["OUTPUT_PROBABILITY"]).band_names == ["p_glacier", "p_ocean", "p_rock"]
    lyr = _layer(res["OUTPUT_FRONTS"])
    assert lyr.featureCount() == res["N_FRONTS"] > 0
    feats = list(lyr.getFeatures())
    assert {f["review_status"] for f in feats} == {"unreviewed"} and {f["model"] for f in feats} == {
        "calving_zones_synthetic_v11"}
    assert res["FRONT_LENGTH_KM"] == pytest.approx(sum(f["length_m"] for f in feats) / 1000, rel=1e-6)
    assert res["FRONT_LENGTH_KM"] > 0.75  # front pieces up to 750 m are dropped (CaFFe)
    ev = run_alg("segmentation_evaluate", {"PREDICTED": res["OUTPUT_FRONTS"], "REFERENCE": str(FRONT_REF),
                                           "GRID": str(SAR)})
    assert ev["KIND"] == "lines"
    report = json.loads(ev["REPORT"])
    assert report["n_no_prediction"] == 0
    assert 0 <= ev["MDE_M"] < 1500  # the model card gives the figure; this guards against a broken pipeline


def test_train_and_fine_tune_a_few_steps(run_alg, tmp_path):
    pytest.importorskip("torch")
    from serac.core.segmentation import load_model

    out = tmp_path / "tiny.onnx"
    res = run_alg("segmentation_train", {
        "INPUT": str(RGB), "OUTLINES": str(RGI), "HOLDOUT_SIDE": 3, "HOLDOUT_FRACTION": 0.3, "STEPS": 3,
        "TILE_SIZE": 64, "BATCH_SIZE": 2, "BASE_CHANNELS": 4, "MODEL_NAME": "tiny", "OUTPUT_MODEL": str(out)})
    assert os.path.exists(res["OUTPUT_MODEL"]) and os.path.exists(res["TRAINING_LOG"])
    assert 0 <= res["IOU"] <= 1 and res["DEVICE_USED"] in ("cpu", "cuda")
    model = load_model(res["OUTPUT_MODEL"], backend="onnxruntime")
    assert model.metadata.name == "tiny" and model.metadata.pixel_size_m == pytest.approx(30.0)
    assert "held_out" in model.metadata.training["metrics"]

    tuned = tmp_path / "tuned.onnx"
    res2 = run_alg("segmentation_train", {
        "INPUT": str(RGB), "OUTLINES": str(RGI), "INIT_MODEL": str(GLACIER_MODEL), "STEPS": 2, "TILE_SIZE": 64,
        "BATCH_SIZE": 2, "MODEL_NAME": "tuned", "OUTPUT_MODEL": str(tuned)})
    meta = load_model(res2["OUTPUT_MODEL"], backend="onnxruntime").metadata
    assert meta.training["base_model"].startswith("glacier_landsat_v1")
    assert meta.architecture == load_model(str(GLACIER_MODEL), backend="onnxruntime").metadata.architecture


def test_bad_inputs_give_clear_errors(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    from serac.core.raster_io import read_raster, write_raster

    one_band = tmp_path / "one_band.tif"
    r = read_raster(RGB, bands=1)
    write_raster(one_band, r.data, r.grid)
    with pytest.raises(QgsProcessingException, match="expects 3 band"):
        run_alg("segmentation_glacier_outlines", {"INPUT": str(one_band), "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
                                                  "OUTPUT_OUTLINES": str(tmp_path / "o.gpkg")})
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(GLACIER_MODEL.read_bytes()[:5000])
    with pytest.raises(QgsProcessingException, match="not a valid ONNX model"):
        run_alg("segmentation_glacier_outlines", {"INPUT": str(RGB), "MODEL": str(corrupt),
                                                  "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
                                                  "OUTPUT_OUTLINES": str(tmp_path / "o.gpkg")})
    with pytest.raises(QgsProcessingException, match="pixel size"):
        run_alg("segmentation_calving_front", {"INPUT": str(RGB), "BANDS": "1",
                                               "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
                                               "OUTPUT_ZONES": str(tmp_path / "z.tif"),
                                               "OUTPUT_FRONTS": str(tmp_path / "f.gpkg")})
    assert not (tmp_path / "p.tif").exists()
