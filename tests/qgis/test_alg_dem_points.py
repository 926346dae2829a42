"""DEM to altimetry points, elevation change uncertainty per glacier and dh/dt through processing.run (real QGIS)."""

import json

import numpy as np
import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

DEM_DATA = SAMPLE_DATA / "dem"
DEM = DEM_DATA / "longyearbyen_dem_1990.tif"
REF = DEM_DATA / "longyearbyen_reference_lzd_aligned.tif"
POINTS = DEM_DATA / "longyearbyen_points_SYNTHETIC.gpkg"
OUTLINES = DEM_DATA / "longyearbyen_glacier_outlines_1990.gpkg"
MASK = DEM_DATA / "longyearbyen_glacier_mask_1990.tif"


def _recording_feedback():
    from qgis.core import QgsProcessingFeedback

    class Recording(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.warnings = []

        def pushWarning(self, text):  # noqa: N802 (QGIS API)
            self.warnings.append(text)
            super().pushWarning(text)

    return Recording()


def test_points_coregistration_finds_the_lzd_shift(run_alg, tmp_path):
    from qgis.core import QgsVectorLayer

    res = run_alg("dem_points_coregistration", {
        "DEM": str(DEM), "POINTS": str(POINTS), "ELEVATION_FIELD": "h_orto", "UNSTABLE_MASK": str(MASK),
        "DERAMP_ORDER": 1, "OUTPUT": str(tmp_path / "aligned.tif"), "DH_POINTS": str(tmp_path / "dh_points.gpkg"),
        "REPORT_HTML": str(tmp_path / "report.html")})
    assert 10.5 < res["SHIFT_X_M"] < 11.3 and 1.2 < res["SHIFT_Y_M"] < 2.2 and -1.2 < res["SHIFT_Z_M"] < -0.5
    assert res["SHIFT_X_PX"] == pytest.approx(res["SHIFT_X_M"] / 20.0, rel=1e-3)
    assert res["NMAD_BEFORE_M"] > 3.0 and res["NMAD_AFTER_M"] < 0.3 and res["GEOID_TRAP"] == 0
    assert res["COUNT_AFTER"] == res["COUNT_BEFORE"] > 1000
    layer = QgsVectorLayer(res["DH_POINTS"], "dh", "ogr")
    assert layer.featureCount() == res["POINTS_ON_DEM"]
    values = [f["dh_after_m"] for f in layer.getFeatures() if f["stable"] == 1]
    assert abs(np.median(values)) < 0.05
    assert json.loads(res["REPORT"])["method"] == "nuth_kaab+deramp1"
    assert "<svg" in open(res["REPORT_HTML"], encoding="utf-8").read()


def test_geoid_trap_reaches_the_user(run_alg, tmp_path):
    feedback = _recording_feedback()
    res = run_alg("dem_points_coregistration", {
        "DEM": str(DEM), "POINTS": str(POINTS), "ELEVATION_FIELD": "h_ell", "METHOD": 1,
        "OUTPUT": str(tmp_path / "aligned.tif"), "DH_POINTS": str(tmp_path / "dh_points.gpkg")}, feedback=feedback)
    assert res["SHIFT_Z_M"] == pytest.approx(31.2, abs=1.0)
    undulations = json.loads(res["REPORT"])["datum"]["undulations_m"]
    if undulations:  # PROJ's EGM96 grid is installed
        assert res["GEOID_TRAP"] == 1
        assert any("geoid undulation" in w for w in feedback.warnings) and "geoid undulation" in res["DATUM"]
        declared = run_alg("dem_points_coregistration", {
            "DEM": str(DEM), "POINTS": str(POINTS), "ELEVATION_FIELD": "h_ell", "METHOD": 1, "POINTS_DATUM": 1,
            "DEM_DATUM": 2, "OUTPUT": str(tmp_path / "aligned2.tif")})
        orthometric = run_alg("dem_points_coregistration", {
            "DEM": str(DEM), "POINTS": str(POINTS), "ELEVATION_FIELD": "h_orto", "METHOD": 1,
            "OUTPUT": str(tmp_path / "aligned3.tif")})
        assert declared["GEOID_TRAP"] == 0 and declared["SHIFT_Z_M"] == pytest.approx(orthometric["SHIFT_Z_M"],
                                                                                        abs=0.02)
        assert "converted ellipsoid -> EGM96" in declared["DATUM"]
    else:
        assert any("not both declared" in w for w in feedback.warnings)


def test_hooker_icesat_geoid_trap(run_alg, shared_data, tmp_path):
    """Real data: WorldView DEM (ellipsoidal) vs ICESat GLAS orthometric heights: a 12.3 m shift, flagged."""
    hooker = shared_data / "dem" / "carst_hooker_icesat"
    feedback = _recording_feedback()
    res = run_alg("dem_points_coregistration", {
        "DEM": str(hooker / "HookerFJL_13APR19WV01DEM3_10m.tif"), "POINTS": str(hooker / "ICESAT_GLAS_subset.shp"),
        "ELEVATION_FIELD": "H_orto", "METHOD": 1, "OUTPUT": str(tmp_path / "aligned.tif")}, feedback=feedback)
    assert res["SHIFT_Z_M"] == pytest.approx(-12.27, abs=0.05) and res["COUNT_AFTER"] == 58
    assert res["GEOID_TRAP"] == 1 or any("not both declared" in w for w in feedback.warnings)


def test_atl06_granule_as_points(run_alg, shared_data, tmp_path):
    """An ICESat-2 granule read through processing.run: heights on the ellipsoid, the quality-0 segments used."""
    from serac.core.dem.altimetry import read_atl06
    from serac.core.raster_io import RasterGrid, write_raster

    granule = shared_data / "dem" / "juneau_icefield_atl06" / "ATL06_20181014001049_02350102_001_01.h5"
    from affine import Affine
    from rasterio.crs import CRS

    grid = RasterGrid(CRS.from_epsg(4326), Affine(0.01, 0, -134.5, 0, -0.01, 59.6), 70, 180)
    flat = tmp_path / "flat_1000m.tif"
    write_raster(flat, np.full((1, grid.height, grid.width), 1000.0, dtype=np.float32), grid)
    res = run_alg("dem_points_coregistration", {"DEM": str(flat), "ATL06": str(granule), "METHOD": 1,
                                                "OUTPUT": str(tmp_path / "aligned.tif")})
    points = read_atl06(granule)
    assert res["POINTS_ON_DEM"] == len(points) == 877
    assert res["SHIFT_Z_M"] == pytest.approx(np.median(points.h) - 1000.0, abs=1e-3)
    assert "points: ellipsoid" in res["DATUM"]


def test_bad_points_input_is_a_clear_error(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="reference points .an ATL06 granule or a point layer. is missing"):
        run_alg("dem_points_coregistration", {"DEM": str(DEM), "OUTPUT": str(tmp_path / "a.tif")})
    with pytest.raises(QgsProcessingException, match="has no field 'missing' .fields: h_orto, h_ell."):
        run_alg("dem_points_coregistration", {"DEM": str(DEM), "POINTS": str(POINTS), "ELEVATION_FIELD": "missing",
                                              "OUTPUT": str(tmp_path / "b.tif")})
    assert not (tmp_path / "a.tif").exists() and not (tmp_path / "b.tif").exists()


def test_uncertainty_per_glacier(run_alg, tmp_path, glacier_thinning):
    from qgis.core import QgsVectorLayer

    res = run_alg("dem_change_uncertainty", {
        "REFERENCE": str(DEM), "DEM": glacier_thinning["dem"], "OUTLINES": str(OUTLINES), "YEARS": 10.0,
        "OUTPUT": str(tmp_path / "glaciers.gpkg"), "ERROR_MAP": str(tmp_path / "sigma.tif")})
    assert res["N_GLACIERS"] == 18 and res["MEAN_DH_M"] == pytest.approx(-6.0, abs=0.2)
    layer = QgsVectorLayer(res["OUTPUT"], "glaciers", "ogr")
    assert layer.featureCount() == 18
    big = max(layer.getFeatures(), key=lambda f: f["area_km2"])
    assert big["mean_dh_m"] == pytest.approx(-6.0, abs=0.3) and 0 < big["sigma_mean_dh_m"] < 0.5
    assert big["dhdt_m_yr"] == pytest.approx(big["mean_dh_m"] / 10.0)
    report = json.loads(res["REPORT"])
    assert report["heteroscedasticity"] and report["model"]["sill"] > 0


def test_rate_with_dates_parameter(run_alg, tmp_path):
    from serac.core.raster_io import read_raster, write_raster

    dem = read_raster(DEM)
    paths = []
    for k, years in enumerate((0.0, 2.0, 5.0)):
        path = tmp_path / f"dem_{k}.tif"
        write_raster(path, (dem.band(1) - 0.8 * years).astype(np.float32)[None], dem.grid)
        paths.append(str(path))
    res = run_alg("dem_change_rate", {"DEMS": paths, "DATES": "2010-01-01; 2012-01-01; 2015-01-01",
                                      "OUTPUT": str(tmp_path / "rate.tif"), "ERROR": str(tmp_path / "err.tif")})
    assert res["N_DEMS"] == 3 and res["MEDIAN_RATE_M_YR"] == pytest.approx(-0.8, abs=0.01)
    with pytest.raises(Exception, match="2 dates were given for 3 DEMs"):
        run_alg("dem_change_rate", {"DEMS": paths, "DATES": "2010-01-01; 2012-01-01",
                                    "OUTPUT": str(tmp_path / "rate2.tif")})


def test_outputs_loaded_with_their_styles(serac_provider, tmp_path, glacier_thinning):
    import processing
    from qgis.core import QgsProject

    project = QgsProject.instance()
    project.removeAllMapLayers()
    processing.runAndLoadResults("serac:dem_points_coregistration", {
        "DEM": str(DEM), "POINTS": str(POINTS), "ELEVATION_FIELD": "h_orto", "METHOD": 1,
        "OUTPUT": str(tmp_path / "aligned.tif"), "DH_POINTS": str(tmp_path / "dh_points.gpkg")})
    (points,) = project.mapLayersByName("dh at the points (m)")
    renderer = points.renderer()
    assert renderer.type() == "graduatedSymbol" and renderer.classAttribute() == "dh_after_m"
    ranges = renderer.ranges()
    inner = [r.upperValue() for r in ranges[:-1]]
    assert inner[0] == pytest.approx(-inner[-1]) and ranges[len(ranges) // 2].lowerValue() < 0 < \
        ranges[len(ranges) // 2].upperValue()
    assert ranges[0].lowerValue() < -1e20 and ranges[-1].upperValue() > 1e20  # no point left undrawn
    (aligned,) = project.mapLayersByName("Aligned DEM")
    assert aligned.renderer().type() == "singlebandpseudocolor"
    processing.runAndLoadResults("serac:dem_change_uncertainty", {
        "REFERENCE": str(DEM), "DEM": glacier_thinning["dem"], "OUTLINES": str(OUTLINES),
        "OUTPUT": str(tmp_path / "glaciers.gpkg"), "ERROR_MAP": str(tmp_path / "sigma.tif")})
    (sigma,) = project.mapLayersByName("dh error, 1 sigma (m)")
    assert sigma.renderer().type() == "singlebandpseudocolor" and sigma.renderer().classificationMin() == 0.0
    assert 0 < sigma.renderer().classificationMax() < 10
    project.removeAllMapLayers()
