"""Crevasse and fracture map (issue 17): filter bank, lines, density, the job, bad inputs."""

import math
import os

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from serac.core.errors import InputError, ModelError
from serac.core.fractures.density import block_density
from serac.core.fractures.filterbank import filter_block, make_bank
from serac.core.fractures.lines import chain_properties, thin, trace_chains
from serac.core.fractures.synthetic import crevasse_field
from serac.core.jobs import run_job
from serac.core.jobs.base import RecordingFeedback
from serac.core.raster_io import RasterGrid, read_raster, write_raster
from serac.core.segmentation.metrics import roc_auc

PX = 15.0


def axial_mean(degrees):
    return math.degrees(0.5 * np.angle(np.mean(np.exp(2j * np.radians(degrees))))) % 180.0


def axial_difference(a, b):
    return abs((a - b + 90.0) % 180.0 - 90.0)


@pytest.mark.parametrize("orientation, spacing", [(30.0, 150.0), (112.0, 90.0), (0.0, 200.0)])
def test_filter_bank_recovers_spacing_and_orientation(orientation, spacing):
    image = crevasse_field((320, 320), PX, spacing, orientation, seed=1)
    bank, notes = make_bank(40.0, 400.0, PX)
    assert notes == []
    response, direction, wavelength, _ = filter_block(image, bank)
    inner = (slice(80, 240), slice(80, 240))
    assert axial_difference(axial_mean(direction[inner]), orientation) < 3.0
    assert np.median(wavelength[inner]) * PX == pytest.approx(spacing, rel=0.10)
    assert np.median(response[inner]) > 0.2  # above the default threshold


def test_filter_bank_response_of_noise_is_low():
    noise = np.random.default_rng(3).normal(size=(256, 256)).astype(np.float32)
    bank, _ = make_bank(40.0, 400.0, PX)
    response, _, _, _ = filter_block(noise, bank)
    assert np.percentile(response, 99) < 0.2


def test_filter_bank_nodata_stays_nodata():
    image = crevasse_field((128, 128), PX, 90.0, 45.0)
    image[:20] = np.nan
    response, direction, wavelength, _ = filter_block(image, make_bank(40.0, 400.0, PX)[0])
    assert np.isnan(response[:20]).all() and np.isfinite(response[20:]).all()


def test_wavelengths_are_converted_with_the_pixel_size():
    bank, notes = make_bank(250.0, 1500.0, 125.0)  # 2-12 px at 125 m: the part below 2.5 px is dropped
    assert bank.wavelengths_px[0] == pytest.approx(2.5) and bank.wavelengths_px[-1] == pytest.approx(12.0)
    assert notes and "312" in notes[0]
    with pytest.raises(InputError, match="cannot be resolved"):
        make_bank(40.0, 200.0, 125.0)  # at most 1.6 px


def test_thin_trace_and_measure_a_thick_line():
    mask = np.zeros((60, 120), bool)
    mask[28:32, 10:110] = True  # 4 px thick, 100 px long, east-west
    chains = trace_chains(thin(mask))
    assert len(chains) == 1
    chain = chain_properties(*chains[0], pixel_size_m=10.0)
    assert chain.length_m == pytest.approx(1000.0, rel=0.06)
    assert axial_difference(chain.orientation_deg, 90.0) < 1.0


def test_density_of_parallel_lines():
    """Lines every 10 px at 10 m: 100 m spacing -> 10 km of line per km²."""
    above = np.zeros((100, 100), bool)
    above[5::10, :] = True
    chains = [chain_properties(r, c, 10.0) for r, c in trace_chains(thin(above))]
    density, orientation = block_density(chains, above, np.ones_like(above), 50, 10.0)
    assert density.shape == (2, 2, 2)
    assert np.allclose(density[0], 10.0, rtol=0.05)
    assert np.allclose(orientation[0], 90.0, atol=0.5) and np.allclose(orientation[1], 1.0)


def test_roc_auc_known_answers():
    ref = np.array([0, 0, 1, 1], bool)
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), ref) == 1.0
    assert roc_auc(np.array([0.9, 0.8, 0.2, 0.1]), ref) == 0.0
    assert roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), ref) == 0.5


@pytest.fixture
def field_raster(tmp_path):
    grid = RasterGrid(CRS.from_epsg(32607), Affine(PX, 0, 480_000, 0, -PX, 6_670_000), 300, 260)
    path = tmp_path / "crevasses_15m.tif"
    write_raster(path, crevasse_field(grid.shape, PX, 120.0, 60.0, seed=2)[None], grid)
    return str(path), grid


def test_job_maps_a_crevasse_field(field_raster, tmp_path):
    path, grid = field_raster
    left = {"type": "Polygon", "coordinates": [[(480_000, 6_670_000), (480_000 + 150 * PX, 6_670_000),
                                                 (480_000 + 150 * PX, 6_670_000 - 260 * PX),
                                                 (480_000, 6_670_000 - 260 * PX), (480_000, 6_670_000)]]}
    out = {"output_response": str(tmp_path / "r.tif"), "output_lines": str(tmp_path / "lines.gpkg"),
           "output_density": str(tmp_path / "d.tif"), "output_orientation": str(tmp_path / "o.tif")}
    result = run_job("fracture_map", {"input": path, "outlines": [left]}, out,
                     {"window_m": 600.0, "block": 256, "min_length_m": 150.0}, feedback=RecordingFeedback())
    response = read_raster(out["output_response"]).data
    assert np.isnan(response[0][:, 160:]).all()          # outside the outlines: not mapped
    assert np.nanmedian(response[0][:, :150]) > 0.2
    assert axial_difference(result.numbers["dominant_orientation_deg"], 60.0) < 5.0
    assert result.numbers["n_lines"] > 0
    # one line per crevasse: 120 m spacing -> about 1000 / 120 = 8.3 km of line per km²
    assert result.numbers["mean_density"] == pytest.approx(1000.0 / 120.0, rel=0.2)
    props = result.features["output_lines"][0][0]["properties"]
    assert props["review_status"] == "unreviewed" and props["geometry_edited"] == 0
    assert props["predicted_size"] == pytest.approx(props["length_m"] / 1000.0, abs=1e-3)
    orientation = read_raster(out["output_orientation"]).data[0]
    assert axial_difference(axial_mean(orientation[np.isfinite(orientation)]), 60.0) < 8.0
    assert os.path.getsize(out["output_lines"]) > 0


def test_model_refuses_a_pixel_size_far_from_its_training(field_raster, tmp_path):
    path, _ = field_raster
    with pytest.raises(ModelError, match="125 m") as err:
        run_job("fracture_map", {"input": path}, {"output_response": str(tmp_path / "p.tif")}, {"method": "model"})
    assert "filter bank" in err.value.fix
    assert not os.path.exists(tmp_path / "p.tif")


def test_bad_band_and_wavelength_settings(field_raster, tmp_path):
    path, _ = field_raster
    with pytest.raises(InputError, match="Band 3"):
        run_job("fracture_map", {"input": path}, {"output_response": str(tmp_path / "r.tif")}, {"band": 3})
    with pytest.raises(InputError, match="below the shortest"):
        run_job("fracture_map", {"input": path}, {"output_response": str(tmp_path / "r.tif")},
                {"min_wavelength_m": 500.0, "max_wavelength_m": 100.0})


def test_shipped_model_on_a_lai_test_tile_through_the_job(shared_data, tmp_path):
    """The shipped model on a real MOA test tile (given a polar-stereographic grid), through the job."""
    import rasterio

    from serac.core.jobs.fractures import FRACTURE_MODEL
    from serac.core.jobs.segmentation import shipped_model_path
    from serac.core.segmentation.metrics import segmentation_scores
    from serac.core.segmentation.runtime import read_metadata

    meta = read_metadata(shipped_model_path(FRACTURE_MODEL))
    assert meta.task == "fractures" and meta.pixel_size_m == 125.0
    assert (meta.value_range.min, meta.value_range.max) == (1.0, 65535.0)
    tile = shared_data / "seg" / "lai2020_antarctic_fractures" / "data_testset" / "MOA209_125m_mask9x10"
    with rasterio.open(f"{tile}.tif") as ds:
        image = ds.read(1)
    with rasterio.open(f"{tile}_mask.tif") as ds:
        mask = ds.read(1) > 0
    grid = RasterGrid(CRS.from_epsg(3031), Affine(125.0, 0, -1_000_000, 0, -125.0, 1_000_000), 1000, 1000)
    path = tmp_path / "moa.tif"
    write_raster(path, image[None].astype(np.float32), grid, nodata=0.0)
    out = {"output_response": str(tmp_path / "p.tif"), "output_density": str(tmp_path / "d.tif")}
    result = run_job("fracture_map", {"input": str(path)}, out, {"method": "model", "window_m": 5000.0})
    probability = read_raster(out["output_response"]).data[0]
    scores = segmentation_scores(np.nan_to_num(probability) >= meta.threshold, mask)
    assert scores.f1 > 0.6  # 0.80 for fractures_moa_v2 here (benchmarks/results/fractures_validation.json)
    assert result.numbers["n_lines"] > 10 and result.numbers["mean_density"] > 0


def test_shipped_model_threshold_is_the_best_f1_on_the_validation_tiles(shared_data):
    """The default fracture model's metadata declares a threshold chosen on the validation tiles of Lai et al.
    (2020), never on the test tiles: recomputing the best pooled validation F1 gives the stored threshold."""
    from serac.core.jobs.fractures import FRACTURE_MODEL
    from serac.core.jobs.segmentation import shipped_model_path
    from serac.core.segmentation.inference import predict_array
    from serac.core.segmentation.runtime import load_model
    from serac.models.lai2020 import f1_by_threshold, load_split, score

    model = load_model(shipped_model_path(FRACTURE_MODEL), backend="onnxruntime")
    meta = model.metadata
    metrics = meta.training["metrics"]
    assert "validation" in metrics["threshold_source"] and "test" not in metrics["threshold_source"]
    assert metrics["validation"]["threshold"] == meta.threshold
    tiles = load_split("validation", shared_data / "seg" / "lai2020_antarctic_fractures")
    masks = [m for _, _, m in tiles]
    probabilities = [predict_array(model, image[None])[0] for _, image, _ in tiles]
    f1 = score(probabilities, masks, meta.threshold)["f1"]
    assert f1 == pytest.approx(metrics["validation"]["f1"], abs=2e-3)
    assert f1 == pytest.approx(f1_by_threshold(probabilities, masks)[1].max(), abs=2e-3)  # the best one there
