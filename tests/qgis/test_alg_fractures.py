"""Crevasse and fracture map through QGIS Processing (processing.run), on a synthetic crevasse field."""

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

pytestmark = pytest.mark.qgis

PX = 15.0


@pytest.fixture
def field(tmp_path):
    from serac.core.fractures.synthetic import crevasse_field
    from serac.core.raster_io import RasterGrid, write_raster

    grid = RasterGrid(CRS.from_epsg(32607), Affine(PX, 0, 480_000, 0, -PX, 6_670_000), 200, 180)
    path = tmp_path / "crevasses.tif"
    write_raster(path, crevasse_field(grid.shape, PX, 120.0, 135.0, seed=4)[None], grid)
    return str(path)


def test_fracture_map_through_processing(run_alg, field, tmp_path):
    from qgis.core import QgsVectorLayer

    from serac.core.raster_io import read_raster

    res = run_alg("fracture_map", {"INPUT": field, "METHOD": 0, "WINDOW_M": 600.0, "MIN_LENGTH_M": 150.0,
                                   "OUTPUT_RESPONSE": str(tmp_path / "response.tif"),
                                   "OUTPUT_LINES": str(tmp_path / "lines.gpkg"),
                                   "OUTPUT_DENSITY": str(tmp_path / "density.tif"),
                                   "OUTPUT_ORIENTATION": str(tmp_path / "orientation.tif")})
    response = read_raster(res["OUTPUT_RESPONSE"]).data
    assert response.shape[0] == 4 and np.nanmedian(response[0]) > 0.2
    assert abs((res["DOMINANT_ORIENTATION_DEG"] - 135.0 + 90) % 180 - 90) < 5.0
    lines = QgsVectorLayer(res["OUTPUT_LINES"], "lines", "ogr")
    assert lines.isValid() and lines.featureCount() == res["N_LINES"] > 0
    names = lines.fields().names()
    for field_name in ("length_m", "orientation_deg", "review_status", "reviewer", "reviewed_at", "review_comment",
                       "geometry_edited", "predicted_size"):
        assert field_name in names
    assert {f["review_status"] for f in lines.getFeatures()} == {"unreviewed"}
    assert read_raster(res["OUTPUT_DENSITY"]).data.shape[0] == 2


def test_model_on_a_15_m_image_is_refused_with_a_message(run_alg, field, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="125 m"):
        run_alg("fracture_map", {"INPUT": field, "METHOD": 1, "OUTPUT_RESPONSE": str(tmp_path / "p.tif"),
                                 "OUTPUT_LINES": "TEMPORARY_OUTPUT"})
