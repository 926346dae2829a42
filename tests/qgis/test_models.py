"""The example Processing models in resources/models load and run with processing.run."""

import numpy as np
import pytest
from affine import Affine

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

DEM = SAMPLE_DATA / "dem"


def test_every_model_file_loads_with_known_algorithms(serac_provider):
    from qgis.core import QgsApplication

    from serac.processing_provider.provider import load_example_models

    models = load_example_models()
    assert models, "no example models found"
    registry = QgsApplication.processingRegistry()
    for model in models:
        assert model.group() == "Example workflows" and model.shortHelpString()
        for child in model.childAlgorithms().values():
            assert registry.algorithmById(child.algorithmId()) is not None, child.algorithmId()
        assert serac_provider.algorithm(model.name()) is not None


@pytest.fixture
def thinned_pair(tmp_path):
    """Reference = real 1990 DEM crop; second DEM = same terrain offset by (+20, -10) m with 12 m thinning on glaciers."""
    from serac.core.masks import glacier_mask
    from serac.core.raster_io import read_raster, write_raster
    from serac.core.vector_io import read_geometries

    ref = read_raster(DEM / "longyearbyen_dem_1990.tif")
    outlines = DEM / "longyearbyen_glacier_outlines_1990.gpkg"
    mask = glacier_mask(read_geometries(outlines, ref.grid.crs), ref.grid).astype(bool)
    later = ref.band(1).copy()
    later[mask] -= 12.0
    t = ref.grid.transform
    shifted_grid = type(ref.grid)(ref.grid.crs, Affine(t.a, t.b, t.c + 20.0, t.d, t.e, t.f - 10.0),
                                  ref.grid.width, ref.grid.height)
    later_path = tmp_path / "later.tif"
    write_raster(later_path, later, shifted_grid)
    return DEM / "longyearbyen_dem_1990.tif", later_path, outlines


def test_dem_change_per_glacier_model(serac_provider, thinned_pair, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsVectorLayer

    reference, later, outlines = thinned_pair
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    out = str(tmp_path / "glacier_change.gpkg")
    results = processing.run("serac:DEM change per glacier",
                             {"reference_dem": str(reference), "dem": str(later), "glacier_outlines": str(outlines),
                              "volume_change:glacier_change": out, "coregister:dh": str(tmp_path / "dh.tif"),
                              "coregister:aligned_dem": str(tmp_path / "aligned.tif")},
                             context=context, feedback=QgsProcessingFeedback())
    layer = QgsVectorLayer(results["volume_change:glacier_change"], "change", "ogr")
    assert layer.isValid() and layer.featureCount() == 18
    big = [f for f in layer.getFeatures() if f["dh_count"] and f["dh_count"] > 200]
    assert len(big) >= 5
    for f in big:  # glaciers well inside the crop: 12 m of thinning recovered, offset removed
        assert f["dh_median"] == pytest.approx(-12.0, abs=0.5)
        assert f["volume_change_m3"] == pytest.approx(f["dh_mean"] * f.geometry().area(), rel=1e-6)
    total = sum(f["volume_change_m3"] for f in big)
    assert total < 0
