"""Issue 16 through QGIS Processing: the uncertainty option (raster + mean_uncertainty per outline, review dock
order) and the classical baseline algorithm (synthetic spectra: no real SWIR band is in the shared data)."""

import numpy as np
import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

RGB = SAMPLE_DATA / "segmentation" / "everest_landsat_rgb_heldout.tif"


def test_outlines_with_uncertainty_carry_mean_uncertainty_and_open_most_uncertain_first(run_alg, tmp_path):
    from qgis.core import QgsVectorLayer

    from serac.plugin.review.session import ReviewSession, default_order

    res = run_alg("segmentation_glacier_outlines", {
        "INPUT": str(RGB), "BACKEND": 1, "UNCERTAINTY": True, "MIN_AREA_KM2": 0.05,
        "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"), "OUTPUT_UNCERTAINTY": str(tmp_path / "u.tif"),
        "OUTPUT_OUTLINES": str(tmp_path / "o.gpkg")})
    assert res["OUTPUT_UNCERTAINTY"] == str(tmp_path / "u.tif")
    layer = QgsVectorLayer(res["OUTPUT_OUTLINES"], "o", "ogr")
    names = layer.fields().names()
    assert "mean_uncertainty" in names and default_order(names) == "uncertainty"
    session = ReviewSession(layer, default_order(names))
    values = [layer.getFeature(fid)["mean_uncertainty"] for fid in session.ids]
    assert values == sorted(values, reverse=True) and len(values) > 1
    assert default_order(["id", "mean_probability"]) == "probability"
    del session, layer  # a layer still alive when QGIS exits crashes the interpreter (exit status 139)


def test_classical_baseline_algorithm(run_alg, tmp_path):
    from qgis.core import QgsProcessingException, QgsVectorLayer

    from serac.core import raster_io as rio

    n = 60
    bands = np.empty((3, n, n), np.float32)
    bands[:] = np.array([0.2, 0.17, 0.28], np.float32)[:, None, None]  # rock
    bands[:, 10:40, 10:50] = np.array([0.55, 0.62, 0.06], np.float32)[:, None, None]  # clean ice
    grid = rio.RasterGrid.from_bounds("EPSG:32645", 500000.0, 3100000.0 - 1800, 501800.0, 3100000.0, 30.0)
    with rio.RasterWriter(tmp_path / "ms.tif", grid, count=3, dtype="float32", nodata=float("nan")) as w:
        w.write(bands)
    res = run_alg("glacier_outlines_classical", {
        "INPUT": str(tmp_path / "ms.tif"), "METHOD": 1, "RED_BAND": 1, "GREEN_BAND": 2, "SWIR_BAND": 3,
        "OUTPUT_INDEX": str(tmp_path / "ratio.tif"), "OUTPUT_OUTLINES": str(tmp_path / "o.gpkg")})
    layer = QgsVectorLayer(res["OUTPUT_OUTLINES"], "o", "ogr")
    feats = list(layer.getFeatures())
    assert len(feats) == 1 and feats[0]["area_km2"] == pytest.approx(30 * 40 * 900 / 1e6)
    assert feats[0]["review_status"] == "unreviewed" and feats[0]["mean_index"] > 2
    del feats, layer  # else the traceback pytest.raises keeps holds the layer until after QGIS exits
    with pytest.raises(QgsProcessingException, match="SWIR"):
        run_alg("glacier_outlines_classical", {"INPUT": str(RGB), "OUTPUT_INDEX": str(tmp_path / "x.tif"),
                                               "OUTPUT_OUTLINES": str(tmp_path / "x.gpkg")})
