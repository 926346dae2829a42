"""SAR incidence-angle normalization through QGIS Processing, on the bundled real Sentinel-1 sample."""

import json

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

SAR = SAMPLE_DATA / "sar"
VV = SAR / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
ANGLE = SAR / "incidence_angle_synthetic_30_45deg.tif"
ANNOTATION = next(SAR.glob("s1b-iw-grd-vv-*.xml"))
ALG = "sar_normalization"
METHOD = {"cosine": 0, "linear": 1, "pair": 2, "timeseries": 3}


@pytest.fixture(scope="module")
def scene():
    from serac.core.raster_io import read_raster

    truth = read_raster(VV)
    return truth.data[0], truth.grid, read_raster(ANGLE).data[0]


def _write(path, data, grid):
    from serac.core.raster_io import write_raster

    write_raster(path, data, grid)
    return str(path)


def test_known_linear_effect_is_removed(run_alg, scene, tmp_path):
    from serac.core.raster_io import read_raster
    from serac.core.sar import synthetic

    truth, grid, theta = scene
    observed = _write(tmp_path / "observed_db.tif", synthetic.add_linear_effect(truth, theta, -0.15), grid)
    out = tmp_path / "norm.tif"
    res = run_alg(ALG, {"INPUT": observed, "ANGLE": str(ANGLE), "METHOD": METHOD["linear"], "BETA": -0.15,
                        "OUTPUT": str(out)})
    norm = read_raster(out).data[0]
    assert np.nanmax(np.abs(norm - truth)) < 1e-4
    assert res["SLOPE_BEFORE"] - res["SLOPE_AFTER"] == pytest.approx(-0.15, abs=0.005)
    assert res["INPUT_UNIT"].startswith("dB (metadata")
    assert json.loads(res["REPORT"])["method"] == "linear"


def test_cosine_law_matches_the_core_and_angle_from_annotation(run_alg, tmp_path):
    """A constant -10 dB scene in the Alps, angles from the real IW annotation."""
    from serac.core.raster_io import RasterGrid, read_raster
    from serac.core.sar.normalization import CosineLaw

    grid = RasterGrid(CRS.from_epsg(32632), Affine(500.0, 0, 600_000, 0, -500.0, 5_180_000), 120, 80)
    flat = _write(tmp_path / "flat_db.tif", np.full(grid.shape, -10.0, np.float32), grid)
    out, angle_out = tmp_path / "norm.tif", tmp_path / "angle.tif"
    res = run_alg(ALG, {"INPUT": flat, "ANNOTATION": str(ANNOTATION), "METHOD": METHOD["cosine"], "COSINE_N": 2.0,
                        "THETA_REF": 40.0, "UNIT": 1, "OUTPUT": str(out), "ANGLE_OUTPUT": str(angle_out)})
    angle = read_raster(angle_out).data[0]
    assert res["ANGLE_OUTPUT"] == str(angle_out)
    assert 30.4 <= np.nanmin(angle) < np.nanmax(angle) <= 46.3
    expected = CosineLaw(2.0, 40.0).apply(np.full(grid.shape, -10.0, np.float32), angle)
    np.testing.assert_allclose(read_raster(out).data[0], expected, atol=1e-5)


def test_beta_from_an_asc_desc_pair(run_alg, scene, tmp_path):
    from serac.core.raster_io import read_raster
    from serac.core.sar import synthetic

    truth, grid, _ = scene
    th_a = synthetic.angle_ramp(grid.shape, 33.0, 40.0)
    th_d = synthetic.angle_ramp(grid.shape, 44.0, 37.0)
    rows = np.arange(grid.height, dtype=np.float32)[:, None] / grid.height
    beta = np.broadcast_to(-0.3 + 0.15 * rows, grid.shape).astype(np.float32)  # rises southwards
    asc = _write(tmp_path / "asc_db.tif", synthetic.add_linear_effect(truth, th_a, beta)
                 + synthetic.speckle_db(grid.shape, 18, 1), grid)
    desc = _write(tmp_path / "desc_db.tif", synthetic.add_linear_effect(truth, th_d, beta)
                  + synthetic.speckle_db(grid.shape, 18, 2), grid)
    res = run_alg(ALG, {"INPUT": asc, "ANGLE": _write(tmp_path / "tha.tif", th_a, grid), "METHOD": METHOD["pair"],
                        "PAIR_OTHER": desc, "PAIR_OTHER_ANGLE": _write(tmp_path / "thd.tif", th_d, grid),
                        "OUTPUT": str(tmp_path / "norm.tif"), "BETA_OUTPUT": str(tmp_path / "beta.tif")})
    beta_map = read_raster(tmp_path / "beta.tif").data[0]
    assert np.sqrt(np.mean((beta_map - beta) ** 2)) < 0.01
    assert res["BETA_R2"] > 0.5 and res["BETA_RMSE"] < 0.05
    assert res["BETA_LAT"] < 0 and res["BETA_ELEV"] == 0.0  # rises southwards; no DEM: no elevation term
    assert abs(res["SLOPE_AFTER"] - res["SLOPE_BEFORE"]) > 0.1


def test_beta_per_pixel_from_a_time_series(run_alg, scene, tmp_path):
    from serac.core.raster_io import read_raster
    from serac.core.sar import synthetic

    truth, grid, _ = scene
    images, angles = [], []
    for k, (near, far) in enumerate([(30, 38), (44, 36), (33, 41), (39, 46)]):
        theta = synthetic.angle_ramp(grid.shape, near, far)
        images.append(_write(tmp_path / f"s{k}_db.tif", synthetic.add_linear_effect(truth, theta, -0.2)
                             + synthetic.speckle_db(grid.shape, 18, k), grid))
        angles.append(_write(tmp_path / f"t{k}.tif", theta, grid))
    res = run_alg(ALG, {"INPUT": images[0], "ANGLE": angles[0], "METHOD": METHOD["timeseries"], "STACK": images,
                        "STACK_ANGLES": angles, "OUTPUT": str(tmp_path / "norm.tif"),
                        "BETA_OUTPUT": str(tmp_path / "beta.tif")})
    out = read_raster(tmp_path / "beta.tif")
    assert out.count == 5 and out.band_names[0] == "beta_dB_per_deg"
    assert res["BETA_MEDIAN"] == pytest.approx(-0.2, abs=0.01) and res["BETA_SE_MEDIAN"] > 0


def test_bad_inputs_give_clear_processing_errors(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="No incidence angle"):
        run_alg(ALG, {"INPUT": str(VV), "OUTPUT": str(tmp_path / "a.tif")})
    with pytest.raises(QgsProcessingException, match="only one"):
        run_alg(ALG, {"INPUT": str(VV), "ANGLE": str(ANGLE), "ANNOTATION": str(ANNOTATION),
                      "OUTPUT": str(tmp_path / "b.tif")})
    with pytest.raises(QgsProcessingException, match="other acquisition"):
        run_alg(ALG, {"INPUT": str(VV), "ANGLE": str(ANGLE), "METHOD": METHOD["pair"],
                      "OUTPUT": str(tmp_path / "c.tif")})
    assert list(tmp_path.iterdir()) == []


def test_output_is_loaded_greyscale_with_its_stretch(serac_provider, tmp_path):
    import processing
    from qgis.core import QgsProject

    QgsProject.instance().removeAllMapLayers()
    res = processing.runAndLoadResults(f"serac:{ALG}", {"INPUT": str(VV), "ANGLE": str(ANGLE),
                                                        "OUTPUT": str(tmp_path / "styled.tif")})
    layers = QgsProject.instance().mapLayersByName("Normalized backscatter (dB)")
    assert len(layers) == 1
    renderer = layers[0].renderer()
    assert renderer.type() == "singlebandgray"
    stretch = json.loads(res["REPORT"])["display_range"][0]
    assert renderer.contrastEnhancement().minimumValue() == pytest.approx(stretch[0], abs=1e-3)
    assert renderer.contrastEnhancement().maximumValue() == pytest.approx(stretch[1], abs=1e-3)
    assert -30 < stretch[0] < stretch[1] < 5
    QgsProject.instance().removeAllMapLayers()
