"""SAR time-series models (issue 16 item 7): a temporal axis in the metadata, dated rasters or a dated stack
sorted oldest first and checked, a 5-D network (3D convolution + temporal pooling) on ONNX Runtime and torch."""

import copy
import shutil

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.errors import BandCountError, InputError, ModelError
from serac.core.segmentation import load_model, predict_array, segment_raster
from serac.core.segmentation.model_metadata import ModelMetadata

from tests.core.test_segmentation_support import BASE_METADATA, make_grid

torch = pytest.importorskip("torch")

DATES = ["2021-06-01", "2021-06-13", "2021-06-25", "2021-07-07"]
TEMPORAL = copy.deepcopy(BASE_METADATA)
TEMPORAL.update(name="tiny_temporal", time={"dates": 4, "order": "oldest_first", "spacing_days": 12,
                                            "spacing_tolerance_days": 1})
TEMPORAL["input"]["bands"] = [{"name": "sigma0_vv", "units": "dB", "sensor": "Sentinel-1"}]
TEMPORAL["input"]["normalization"] = {"method": "offset_scale", "offset": [-12.0], "scale": [5.0]}


def temporal_model(path, meta=TEMPORAL, seed=2):
    from serac.models.export_onnx import export_onnx
    from serac.models.unet import TemporalUNet

    torch.manual_seed(seed)
    export_onnx(TemporalUNet(1, meta["time"]["dates"], 1, temporal_channels=4, base_channels=4, depth=2), meta,
                str(path))
    return str(path)


def dated_rasters(folder, dates=DATES, width=100, height=70):
    """One single-band dB raster per date (the date in the file name), written newest first; returns
    (paths, stack (dates, rows, cols) oldest first)."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:height, 0:width]
    grid = make_grid(width, height, 30.0)
    stack, paths = [], []
    for i, d in enumerate(dates):
        melt = (xx > 30 + 10 * i) * -6.0  # wet snow spreading up-glacier: darker
        data = (-10 + 3 * np.sin(yy / 6.0) + melt + rng.normal(0, 1, (height, width))).astype(np.float32)
        stack.append(data)
        paths.append(str(folder / f"S1_vv_{d.replace('-', '')}.tif"))
        rio.write_raster(paths[-1], data[None], grid, cog=False)
    return paths[::-1], np.stack(stack)


def test_temporal_axis_is_validated():
    meta = ModelMetadata.from_dict(TEMPORAL)
    assert (meta.n_dates, meta.n_channels, meta.time.spacing_days) == (4, 4, 12.0)
    assert meta.network_shape(2, 32, 32) == (2, 4, 1, 32, 32)
    assert ModelMetadata.from_dict(meta.to_dict()) == meta
    for change, match in (({"dates": 1}, "at least 2"), ({"order": "newest_first"}, "time.order"),
                          ({"spacing_days": -3}, "spacing_days")):
        bad = copy.deepcopy(TEMPORAL)
        bad["time"].update(change)
        with pytest.raises(ModelError, match=match):
            ModelMetadata.from_dict(bad)
    with pytest.raises(ModelError, match="3 given"):
        meta.time.check(np.array(DATES[:3], dtype="datetime64[D]"), meta.name)
    with pytest.raises(ModelError, match="12 days apart"):
        meta.time.check(np.array(["2021-06-01", "2021-06-13", "2021-06-19", "2021-07-07"], "datetime64[D]"), "m")
    with pytest.raises(BandCountError, match="4 dates"):
        meta.check_band_count(3)
    bad = copy.deepcopy(TEMPORAL)
    bad["input"]["bands"][0]["source"] = "sar"
    with pytest.raises(ModelError, match="cannot also name band sources"):
        ModelMetadata.from_dict(bad)


def test_network_dates_must_match_the_metadata(tmp_path):
    from serac.models.export_onnx import embed_metadata

    path = temporal_model(tmp_path / "t.onnx")
    wrong = copy.deepcopy(TEMPORAL)
    wrong["time"]["dates"] = 3
    wrong["architecture"] = load_model(path, "onnxruntime").metadata.architecture
    other = tmp_path / "wrong.onnx"
    shutil.copy(path, other)
    embed_metadata(other, wrong)
    with pytest.raises(ModelError, match="takes 4 dates but the metadata's 'time.dates' is 3"):
        load_model(other, "onnxruntime")


def test_temporal_model_on_onnx_and_torch_through_tiled_inference(tmp_path):
    path = temporal_model(tmp_path / "t.onnx")
    paths, stack = dated_rasters(tmp_path)
    out = {}
    for backend in ("onnxruntime", "torch-cpu"):
        p = tmp_path / f"p_{backend}.tif"
        segment_raster(paths, load_model(path, backend), p, tiles_per_block=1)
        out[backend] = rio.read_raster(p).data[0]
    assert np.isfinite(out["onnxruntime"]).all()
    assert np.abs(out["onnxruntime"] - out["torch-cpu"]).max() < 1e-4
    # the rasters were given newest first: inference sorted them oldest first
    whole = predict_array(load_model(path, "onnxruntime"), stack)[0]
    assert np.abs(whole - out["onnxruntime"]).max() < 1e-4
    assert np.abs(predict_array(load_model(path, "onnxruntime"), stack[::-1].copy())[0] - whole).max() > 1e-3
    # the same dates as bands of one stack, dated by their descriptions
    grid = rio.read_grid(paths[0])
    rio.write_raster(tmp_path / "stack.tif", stack, grid, band_names=[f"VV_{d}" for d in DATES], cog=False)
    segment_raster(str(tmp_path / "stack.tif"), load_model(path, "onnxruntime"), tmp_path / "s.tif")
    assert np.abs(rio.read_raster(tmp_path / "s.tif").data[0] - out["onnxruntime"]).max() < 1e-5


def test_wrong_date_count_is_refused_with_a_message(tmp_path):
    path = temporal_model(tmp_path / "t.onnx")
    paths, _ = dated_rasters(tmp_path)
    with pytest.raises(ModelError, match="time series of 4 dates; 3 given"):
        segment_raster(paths[:3], load_model(path, "onnxruntime"), tmp_path / "p.tif")
    with pytest.raises(InputError, match="band selection does not apply"):
        segment_raster(paths[0], load_model(path, "onnxruntime"), tmp_path / "p.tif", bands=[1])
    assert not (tmp_path / "p.tif").exists()


def test_training_a_time_series_model_and_running_it_through_the_job(tmp_path):
    from serac.core.jobs import run_job
    from serac.models.train import TrainConfig, train

    paths, _ = dated_rasters(tmp_path)
    t = rio.read_grid(paths[0]).transform
    box = {"type": "Polygon", "coordinates": [[tuple(t * p) for p in ((40, 0), (100, 0), (100, 70), (40, 70),
                                                                       (40, 0))]]}
    result = train(TrainConfig(rasters=paths, time={"dates": 4, "spacing_days": 12, "spacing_tolerance_days": 1},
                               band_names=["sigma0_vv"], labels=[box], output=str(tmp_path / "m.onnx"), name="ts",
                               holdout="right:0.3", gap_px=4, tile_size=32, inference_tile=32, inference_overlap=8,
                               temporal_channels=2, base_channels=4, depth=2, steps=2, batch_size=2, threads=1,
                               device="cpu"))
    meta = load_model(result.onnx_path, "onnxruntime").metadata
    assert meta.n_dates == 4 and meta.architecture["name"] == "serac-temporal-unet"
    assert meta.training["dates"] == DATES and result.torch_onnx_max_abs_diff < 1e-4
    res = run_job("segmentation_glacier_outlines",
                  inputs={"input": paths[0], "extra_inputs": paths[1:], "model": result.onnx_path},
                  outputs={"output_probability": str(tmp_path / "p.tif")}, settings={"min_area_km2": 0.0})
    assert rio.read_raster(tmp_path / "p.tif").data.shape == (1, 70, 100) and res.numbers["n_outlines"] >= 0


def test_simulated_s1_time_series_on_real_terrain_and_backscatter(shared_data, tmp_path):
    """End to end on the simulation of models/sar_timeseries.py (real Svalbard DEM and glacier mask, real
    pyroSAR backscatter as the dry base, simulated melt; no real labelled S1 time series exists here)."""
    from serac.core.jobs import run_job
    from serac.models.sar_timeseries import build_scene, train_pair

    paths, labels, dates = build_scene(tmp_path / "scene", shared_data, crop=(300, 544, 64, 96))
    assert len(paths) == 6 and rio.read_raster(labels).data.max() == 1
    temporal, _ = train_pair(paths, labels, str(tmp_path), steps=2, threads=1, tile_size=32, base_channels=4,
                             temporal_channels=2)
    probs = {}
    for backend in ("onnxruntime", "torch-cpu"):
        out = tmp_path / f"p_{backend}.tif"
        run_job("segmentation_glacier_outlines", inputs={"input": paths[-1], "extra_inputs": paths[:-1],
                                                         "model": temporal.onnx_path},
                outputs={"output_probability": str(out)}, settings={"backend": backend, "min_area_km2": 0.0})
        probs[backend] = rio.read_raster(out).data[0]
    assert np.isfinite(probs["onnxruntime"]).all()
    assert np.abs(probs["onnxruntime"] - probs["torch-cpu"]).max() < 1e-4
