"""The glacier velocity algorithm in a real QgsApplication, on the bundled Everest demo pair."""

import json

import numpy as np
import pytest
from scipy import ndimage

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

REF = SAMPLE_DATA / "everest_landsat" / "LE71400412000304SGS00_B4.tif"  # 2000-10-30 from the name
SEC = SAMPLE_DATA / "velocity" / "everest_B4_SYNTHETIC_flow_20001115.tif"
TRUTH = SAMPLE_DATA / "velocity" / "everest_SYNTHETIC_displacement_px.tif"
OUTLINES = SAMPLE_DATA / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg"
PX_PER_YEAR = 30.0 * 365.25 / 16  # m/yr per px of offset over the 16 days
FAST = {"SEARCH": 8, "MAX_CHIP": 32}


def test_velocity_through_processing_matches_core_and_truth(run_alg, tmp_path):
    from qgis.core import QgsVectorLayer

    from serac.core.raster_io import read_raster
    from serac.core.vector_io import read_geometries
    from serac.core.velocity import CorrelationParams, glacier_velocity

    out = tmp_path / "velocity.tif"
    arrows = tmp_path / "arrows.gpkg"
    res = run_alg("glacier_velocity", {"REFERENCE": str(REF), "SECONDARY": str(SEC), "OUTLINES": str(OUTLINES),
                                       "BACKEND": 1, "ARROW_STEP": 3, "OUTPUT": str(out), "ARROWS": str(arrows),
                                       **FAST})
    grid = read_raster(REF).grid
    core = glacier_velocity(REF, SEC, params=CorrelationParams(search=8, max_chip=32),
                            outlines=read_geometries(OUTLINES, grid.crs), backend="numpy")
    # same core, same answer through QGIS (outlines read by QGIS instead of OGR)
    assert res["VALID_FRACTION"] == pytest.approx(core.summary["valid_fraction"])
    assert res["STABLE_MEDIAN_VX"] == pytest.approx(core.summary["stable_median_vx"], abs=1e-3)
    assert res["INTERVAL_DAYS"] == 16 and res["VALID_FRACTION"] > 0.8
    # the demo pair has a known misregistration (dx -0.15, dy +0.25 px), removed on stable ground
    assert res["STABLE_MEDIAN_VX"] == pytest.approx(-0.15 * PX_PER_YEAR, abs=0.03 * PX_PER_YEAR)
    assert res["STABLE_MEDIAN_VY"] == pytest.approx(-0.25 * PX_PER_YEAR, abs=0.03 * PX_PER_YEAR)
    assert 0 < res["STABLE_NMAD_VX"] < 0.1 * PX_PER_YEAR
    product = read_raster(out)
    assert product.band_names == ["vx", "vy", "speed", "ncc", "peak_ratio", "chip_px", "status"]
    assert product.tags["REFERENCE_DATE"] == "2000-10-30" and product.tags["SECONDARY_DATE"] == "2000-11-15"
    np.testing.assert_allclose(product.band(1), core.vx, equal_nan=True, atol=1e-3)
    # flow against the known displacement averaged over each 32 px chip (misregistration removed)
    truth = ndimage.uniform_filter(read_raster(TRUTH).band(1) / 1000.0, 32)
    rows, cols = (np.arange(n) * 12 + 6 for n in product.grid.shape)
    true_dx = truth[np.ix_(rows, cols)] + 0.15
    valid = product.band(7) == 1
    err = product.band(1)[valid] / PX_PER_YEAR - true_dx[valid]
    assert abs(np.median(err)) < 0.01 and np.percentile(np.abs(err), 75) < 0.1
    layer = QgsVectorLayer(str(arrows), "arrows", "ogr")
    assert layer.isValid() and layer.featureCount() == int(valid[::3, ::3].sum())
    names = [f.name() for f in layer.fields()]
    assert {"speed", "direction", "vx", "vy", "ncc"} <= set(names)
    feature = next(layer.getFeatures())
    assert 0 <= feature["direction"] < 360
    assert json.loads(res["REPORT"])["chip_sizes_px"] == [32]


def test_styles_load(tmp_path):
    from qgis.core import QgsRasterLayer, QgsSymbolLayer, QgsVectorLayer

    from serac.processing_provider.styles import style_path

    for name in ("velocity_speed_linear", "velocity_speed_log"):
        layer = QgsRasterLayer(str(SEC), "v")
        message, ok = layer.loadNamedStyle(style_path(name))
        assert ok, message
        assert layer.renderer().type() == "singlebandpseudocolor" and layer.renderer().band() == 3
    layer = QgsVectorLayer("Point?crs=EPSG:32645&field=speed:double&field=direction:double", "a", "memory")
    message, ok = layer.loadNamedStyle(style_path("velocity_arrows"))
    assert ok, message
    props = layer.renderer().symbol().symbolLayer(0).dataDefinedProperties()
    angle = getattr(QgsSymbolLayer.Property, "Angle", None) or QgsSymbolLayer.Property.PropertyAngle  # QGIS 3.38+
    size = getattr(QgsSymbolLayer.Property, "Size", None) or QgsSymbolLayer.Property.PropertySize
    assert props.property(angle).expressionString() == '"direction"'
    assert '"speed"' in props.property(size).expressionString()


def test_bad_input_gives_clear_message_and_no_output(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    out = tmp_path / "velocity.tif"
    with pytest.raises(QgsProcessingException, match="two different dates"):
        run_alg("glacier_velocity", {"REFERENCE": str(REF), "SECONDARY": str(SEC), "REFERENCE_DATE": "2000-11-15",
                                     "OUTPUT": str(out), "ARROWS": str(tmp_path / "a.gpkg"), **FAST})
    with pytest.raises(QgsProcessingException, match="needs 2080 x 2080 px"):
        run_alg("glacier_velocity", {"REFERENCE": str(REF), "SECONDARY": str(SEC), "CHIP": 1024, "SEARCH": 528,
                                     "MAX_CHIP": 1024, "OUTPUT": str(out), "ARROWS": str(tmp_path / "a.gpkg")})
    with pytest.raises(QgsProcessingException, match="prior velocity"):
        run_alg("glacier_velocity", {"REFERENCE": str(REF), "SECONDARY": str(SEC), "PRIOR_VX": str(SEC),
                                     "OUTPUT": str(out), "ARROWS": str(tmp_path / "a.gpkg"), **FAST})
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
