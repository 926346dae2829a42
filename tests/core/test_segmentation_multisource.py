"""Multi-source models (issue 16 item 6): optical + DEM + derived slope, declared per band in the metadata,
read onto the first raster's grid, stacked, run on ONNX Runtime and torch, trained from several rasters."""

import copy

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.dem.terrain import slope_aspect
from serac.core.errors import InputError, ModelError
from serac.core.segmentation import load_model, predict_array, segment_raster
from serac.core.segmentation.model_metadata import ModelMetadata

from tests.core.test_segmentation_support import BASE_METADATA, make_grid, write_image

torch = pytest.importorskip("torch")

MULTI = copy.deepcopy(BASE_METADATA)
MULTI["name"] = "tiny_multisource"
MULTI["input"]["bands"] = [{"name": "red", "source": "optical"}, {"name": "green", "source": "optical"},
                           {"name": "blue", "source": "optical"}, {"name": "elevation", "source": "dem", "units": "m"},
                           {"name": "slope", "source": "dem", "derive": "slope", "units": "degrees"}]
MULTI["input"]["normalization"] = {"method": "mean_std", "mean": [120.0, 120.0, 120.0, 5000.0, 20.0],
                                   "std": [60.0, 60.0, 60.0, 500.0, 10.0]}

def _model(tmp_path):
    from serac.models.export_onnx import export_onnx
    from serac.models.unet import UNet

    torch.manual_seed(1)
    path = tmp_path / "multi.onnx"
    export_onnx(UNet(5, 1, base_channels=4, depth=2), MULTI, str(path))
    return str(path)

def _scene(tmp_path):
    """Optical 3 bands at 30 m (120 x 90 px) and a DEM at 60 m on a shifted, larger extent (resampled)."""
    optical, grid = write_image(tmp_path / "optical.tif", 120, 90)
    yy, xx = np.mgrid[0:50, 0:66]
    dem = (5000 + 400 * np.sin(xx / 9.0) * np.cos(yy / 7.0) + 3 * xx).astype(np.float32)
    dem_grid = make_grid(66, 50, 60.0, x0=grid.transform.c - 60.0, y0=grid.transform.f + 60.0)
    rio.write_raster(tmp_path / "dem.tif", dem[None], dem_grid, cog=False)
    return str(tmp_path / "optical.tif"), str(tmp_path / "dem.tif"), optical, grid

def test_metadata_declares_sources_and_the_plan():
    meta = ModelMetadata.from_dict(MULTI)
    assert meta.sources == ["optical", "dem"]
    assert meta.source_plan() == [(0, 1, ""), (0, 2, ""), (0, 3, ""), (1, 1, ""), (1, 1, "slope")]
    assert ModelMetadata.from_dict(meta.to_dict()) == meta
    assert ModelMetadata.from_dict(BASE_METADATA).sources == [""]
    bad = copy.deepcopy(MULTI)
    bad["input"]["bands"][4]["derive"] = "curvature"
    with pytest.raises(ModelError, match="derive"):
        ModelMetadata.from_dict(bad)
    bad = copy.deepcopy(MULTI)
    del bad["input"]["bands"][0]["source"]
    with pytest.raises(ModelError, match="source"):
        ModelMetadata.from_dict(bad)

def test_multisource_onnx_and_torch_agree_and_equal_the_stacked_array(tmp_path):
    model_path = _model(tmp_path)
    optical_path, dem_path, optical, grid = _scene(tmp_path)
    out = {}
    for backend in ("onnxruntime", "torch-cpu"):
        p = tmp_path / f"p_{backend}.tif"
        segment_raster([optical_path, dem_path], load_model(model_path, backend), p, tiles_per_block=1)
        out[backend] = rio.read_raster(p).data[0]
    assert np.isfinite(out["onnxruntime"]).all()
    assert np.abs(out["onnxruntime"] - out["torch-cpu"]).max() < 1e-4
    # the same as stacking by hand: DEM resampled onto the optical grid, slope of the whole resampled DEM
    dem = rio.read_on_grid(dem_path, grid).band(1)
    slope = slope_aspect(np.pad(dem, 1, mode="edge"), 30.0)[0][1:-1, 1:-1]
    stack = np.concatenate([optical.astype(np.float32), dem[None], slope[None]])
    whole = predict_array(load_model(model_path, "onnxruntime"), stack)[0]
    assert np.abs(whole - out["onnxruntime"]).max() < 1e-4

def test_wrong_number_of_sources_is_refused_with_their_names(tmp_path):
    model_path = _model(tmp_path)
    optical_path, _, _, _ = _scene(tmp_path)
    with pytest.raises(InputError, match="optical, dem"):
        segment_raster(optical_path, load_model(model_path, "onnxruntime"), tmp_path / "p.tif")
    assert not (tmp_path / "p.tif").exists()

def test_training_from_several_rasters_writes_a_multisource_model_the_job_runs(tmp_path):
    from serac.core.jobs import run_job
    from serac.models.train import TrainConfig, train

    optical_path, dem_path, _, grid = _scene(tmp_path)
    t = grid.transform
    box = {"type": "Polygon", "coordinates": [[tuple(t * p) for p in ((10, 5), (60, 5), (60, 50), (10, 50),
                                                                       (10, 5))]]}
    result = train(TrainConfig(rasters=[optical_path, dem_path], source_names=["optical", "dem"],
                               slope_source="dem", labels=[box], output=str(tmp_path / "m.onnx"), name="ms",
                               holdout="right:0.3", gap_px=4, tile_size=32, inference_tile=32, inference_overlap=8,
                               base_channels=4, depth=2, steps=2, batch_size=2, threads=1, device="cpu"))
    meta = load_model(result.onnx_path, "onnxruntime").metadata
    assert meta.sources == ["optical", "dem"] and meta.n_bands == 5
    assert meta.bands[-1].derive == "slope" and meta.band_names[:3] == ["optical_1", "optical_2", "optical_3"]
    res = run_job("segmentation_glacier_outlines",
                  inputs={"input": optical_path, "extra_inputs": [dem_path], "model": result.onnx_path},
                  outputs={"output_probability": str(tmp_path / "p.tif")}, settings={"min_area_km2": 0.0})
    assert res.numbers["n_outlines"] >= 0 and rio.read_raster(tmp_path / "p.tif").data.shape == (1, 90, 120)
    with pytest.raises(InputError, match="2 input raster"):
        run_job("segmentation_glacier_outlines", inputs={"input": optical_path, "model": result.onnx_path},
                outputs={"output_probability": str(tmp_path / "q.tif")})

def test_single_source_model_refuses_further_inputs(tmp_path):
    from serac.core.jobs import run_job
    from tests.core.test_segmentation_support import tiny_model

    optical_path, dem_path, _, _ = _scene(tmp_path)
    with pytest.raises(ModelError, match="one input raster"):
        run_job("segmentation_glacier_outlines",
                inputs={"input": optical_path, "extra_inputs": [dem_path], "model": tiny_model()},
                outputs={"output_probability": str(tmp_path / "p.tif")})
