"""The shipped models on real data: held-out IoU on the Everest Landsat scene, ONNX vs torch, fronts."""

import json

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.segmentation import load_model, predict_array, read_metadata, segment_raster
from serac.core.segmentation.metrics import segmentation_scores
from serac.core.segmentation.vectorize import outlines_from_raster
from serac.core.vector_io import read_geometries

from tests.conftest import ROOT, SAMPLE_DATA

GLACIER = ROOT / "models" / "glacier_landsat_v1.onnx"
CALVING = ROOT / "models" / "calving_zones_synthetic_v1.onnx"
FRACTURES = ROOT / "models" / "fractures_moa_v2.onnx"
SEG = SAMPLE_DATA / "segmentation"


def test_shipped_models_carry_valid_metadata_mirrored_in_json():
    for path in (GLACIER, CALVING, FRACTURES):
        meta = read_metadata(path)
        with open(path.with_suffix(".json")) as f:
            assert json.load(f) == json.loads(meta.to_json())
        assert meta.training["metrics"] and meta.training["limits"]
        assert path.stat().st_size < 6e6
    glacier = read_metadata(GLACIER)
    assert glacier.band_names == ["red", "green", "blue"] and glacier.pixel_size_m == pytest.approx(30.0)


def test_held_out_iou_on_the_real_everest_scene(shared_data):
    """The model never saw the left 25 % of the scene; it must beat 'all glacier' and the card must be right."""
    scene = shared_data / "optical" / "everest_landsat"
    image = rio.read_raster(scene / "LE71400412000304SGS00_RGB.tif")
    mask = rio.read_raster(shared_data / "outlines" / "masks" / "everest_LE71400412000304_rgi60_mask.tif")
    assert mask.grid.matches(image.grid)  # the labels are on the image grid
    model = load_model(GLACIER, backend="onnxruntime")
    p = predict_array(model, image.data)[0]
    held_out = np.zeros(image.grid.shape, bool)
    held_out[:, :200] = True
    ref = mask.data[0] == 1
    s = segmentation_scores(p >= model.metadata.threshold, ref, held_out & np.isfinite(mask.data[0]))
    card = model.metadata.training["metrics"]["held_out"]
    assert s.iou == pytest.approx(card["iou"], abs=1e-3)
    assert s.precision == pytest.approx(card["precision"], abs=1e-3)
    all_glacier_iou = ref[held_out].mean()
    assert s.iou > all_glacier_iou + 0.1


def test_onnx_and_torch_agree_on_a_real_tile(shared_data):
    pytest.importorskip("torch")
    image = rio.read_raster(shared_data / "optical" / "everest_landsat" / "LE71400412000304SGS00_RGB.tif",
                            window=(300, 200, 300, 260)).data
    a = predict_array(load_model(GLACIER, backend="onnxruntime"), image)
    b = predict_array(load_model(GLACIER, backend="torch-cpu"), image)
    assert np.abs(a - b).max() < 1e-4


def test_outlines_from_the_bundled_held_out_sample(tmp_path):
    run = segment_raster(SEG / "everest_landsat_rgb_heldout.tif", GLACIER, tmp_path / "p.tif",
                         backend="onnxruntime")
    assert run.tiles_run > 0 and run.valid_fraction == 1.0
    feats = outlines_from_raster(tmp_path / "p.tif", min_area_m2=0.05e6, max_hole_m2=0.05e6)
    assert feats and all(f["properties"]["area_km2"] >= 0.05 for f in feats)
    grid = rio.read_grid(tmp_path / "p.tif")
    ref = rio.rasterize_geometries(read_geometries(SEG / "everest_rgi60_heldout.gpkg", grid.crs), grid) == 1
    pred = rio.rasterize_geometries([f["geometry"] for f in feats], grid) == 1
    assert segmentation_scores(pred, ref).iou > 0.55


def test_calving_front_pipeline_on_the_simulated_columbia_scene(tmp_path):
    from serac.core.segmentation.fronts import front_features
    from serac.core.segmentation.metrics import compare_fronts

    model = load_model(CALVING, backend="onnxruntime")
    run = segment_raster(SEG / "columbia_sar_simulated_50m.tif", model, tmp_path / "p.tif",
                         class_path=tmp_path / "zones.tif")
    zones = rio.read_raster(tmp_path / "zones.tif")
    meta = model.metadata
    feats, front = front_features(zones.data[0].astype(np.uint8), zones.grid, meta.class_index("glacier"),
                                  meta.class_index("ocean"), 50.0, model_name=meta.name)
    assert run.tiles_run > 0 and feats and front.any()
    ref = read_geometries(SEG / "columbia_front_reference.gpkg", zones.grid.crs)
    err = compare_fronts([f["geometry"] for f in feats], ref, zones.grid)
    assert err.n_evaluated == 1 and err.mde_m < 1500  # card: about 170 m; a broken pipeline gives km
    # the blockwise zones reproduce the model card's per-class IoU on this scene (never seen in training)
    card = meta.training["metrics"]["columbia_geometry_simulated"]["iou"]
    truth = rio.read_raster(SEG / "columbia_zones_reference.tif").data[0]
    for name, iou in card.items():
        i = meta.class_index(name)
        assert segmentation_scores(zones.data[0] == i, truth == i).iou == pytest.approx(iou, abs=0.01)
