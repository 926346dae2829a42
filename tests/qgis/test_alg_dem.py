"""The DEM co-registration algorithm in a real QgsApplication, on the bundled Longyearbyen crop."""

import json

import numpy as np
import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

DEM_DATA = SAMPLE_DATA / "dem"
REF = DEM_DATA / "longyearbyen_reference_lzd_aligned.tif"
DEM = DEM_DATA / "longyearbyen_dem_1990.tif"
OUTLINES = DEM_DATA / "longyearbyen_glacier_outlines_1990.gpkg"
MASK = DEM_DATA / "longyearbyen_glacier_mask_1990.tif"


def test_coregistration_through_processing_matches_core(run_alg, tmp_path):
    from serac.core.dem import coregister
    from serac.core.raster_io import read_grid, read_raster

    out = {"OUTPUT": str(tmp_path / "aligned.tif"), "DH": str(tmp_path / "dh.tif"),
           "REPORT_HTML": str(tmp_path / "report.html")}
    res = run_alg("dem_coregistration", {"REFERENCE": str(REF), "DEM": str(DEM), "OUTLINES": str(OUTLINES),
                                         "DERAMP_ORDER": 1, **out})
    core = coregister(REF, DEM, outlines=OUTLINES, deramp_order=1)
    # same core, same answer through QGIS (outlines read by QGIS instead of OGR)
    assert res["SHIFT_X_M"] == pytest.approx(core.shift_x_m, abs=1e-6)
    assert res["SHIFT_Y_M"] == pytest.approx(core.shift_y_m, abs=1e-6)
    assert res["SHIFT_Z_M"] == pytest.approx(core.shift_z_m, abs=1e-6)
    # the LZD transform on this crop: about (+10.85, +1.53, -0.90) m (see resources/sample_data/dem/ATTRIBUTION.md)
    assert 10.5 < res["SHIFT_X_M"] < 11.3 and 1.2 < res["SHIFT_Y_M"] < 2.2
    assert res["SHIFT_X_PX"] == pytest.approx(res["SHIFT_X_M"] / 20.0)
    assert res["NMAD_BEFORE_M"] > 3.0 and res["NMAD_AFTER_M"] < 0.3
    assert res["ITERATIONS"] >= 2
    assert json.loads(res["REPORT"])["method"] == "nuth_kaab+deramp1"
    grid = read_grid(REF)
    dh = read_raster(res["DH"])
    assert dh.grid.matches(grid) and read_raster(res["OUTPUT"]).grid.matches(grid)
    stable = read_raster(MASK).band(1) == 0
    assert abs(np.nanmedian(dh.band(1)[stable])) < 0.05
    assert "<svg" in open(res["REPORT_HTML"], encoding="utf-8").read()


def test_vertical_only_with_mask_raster(run_alg, tmp_path):
    res = run_alg("dem_coregistration", {"REFERENCE": str(REF), "DEM": str(DEM), "UNSTABLE_MASK": str(MASK),
                                         "METHOD": 1, "OUTPUT": str(tmp_path / "a.tif"), "DH": str(tmp_path / "d.tif"),
                                         "REPORT_HTML": str(tmp_path / "r.html")})
    assert res["SHIFT_X_M"] == 0.0 and res["SHIFT_Y_M"] == 0.0 and res["ITERATIONS"] == 0
    assert res["MEDIAN_AFTER_M"] == pytest.approx(0.0, abs=1e-3)


def test_bad_input_gives_clear_message_and_no_output(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    from serac.core.raster_io import read_raster, write_raster

    r = read_raster(DEM)
    feet = tmp_path / "feet.tif"
    write_raster(feet, r.band(1) * 3.28084, r.grid, nodata=-9999.0)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(QgsProcessingException, match="feet vs metres"):
        run_alg("dem_coregistration", {"REFERENCE": str(REF), "DEM": str(feet), "OUTPUT": str(out / "a.tif"),
                                       "DH": str(out / "d.tif"), "REPORT_HTML": str(out / "r.html")})
    assert list(out.iterdir()) == []


def test_outputs_loaded_with_centred_diverging_style(serac_provider, tmp_path):
    import processing
    from qgis.core import QgsProject

    QgsProject.instance().removeAllMapLayers()
    processing.runAndLoadResults("serac:dem_coregistration", {
        "REFERENCE": str(REF), "DEM": str(DEM), "UNSTABLE_MASK": str(MASK), "OUTPUT": str(tmp_path / "a.tif"),
        "DH": str(tmp_path / "d.tif"), "REPORT_HTML": str(tmp_path / "r.html")})
    (dh_layer,) = QgsProject.instance().mapLayersByName("Elevation difference dh (m)")
    renderer = dh_layer.renderer()
    assert renderer.type() == "singlebandpseudocolor"
    assert renderer.classificationMin() == pytest.approx(-renderer.classificationMax())
    items = renderer.shader().rasterShaderFunction().colorRampItemList()
    assert items[len(items) // 2].value == pytest.approx(0.0)
    (dem_layer,) = QgsProject.instance().mapLayersByName("Aligned DEM")
    assert 0 < dem_layer.renderer().classificationMin() < dem_layer.renderer().classificationMax() < 1300
    QgsProject.instance().removeAllMapLayers()
