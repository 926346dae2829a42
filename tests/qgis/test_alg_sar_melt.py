"""Wet snow and melt detection through QGIS Processing: a stack built from the bundled real Sentinel-1 backscatter
and the bundled real IW annotation geometry, with outlines, styles and a refused bad input."""

import json

import numpy as np
import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

SAR = SAMPLE_DATA / "sar"
VV = SAR / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
ANNOTATION = next(SAR.glob("s1b-iw-grd-vv-*.xml"))
DATES = np.arange(np.datetime64("2020-12-05"), np.datetime64("2021-09-01"), 24)  # 12 dates


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from serac.core.raster_io import read_raster
    from serac.core.sar import synthetic

    return synthetic.write_melt_scene(tmp_path_factory.mktemp("melt_qgis"), read_raster(VV).data[0],
                                      str(ANNOTATION), DATES)


def outline_layer(grid):
    from qgis.core import QgsFeature, QgsGeometry, QgsRectangle, QgsVectorLayer

    layer = QgsVectorLayer(f"Polygon?crs=EPSG:{grid.crs.to_epsg()}", "outlines", "memory")
    left, bottom, right, top = grid.bounds
    mid = (left + right) / 2
    features = []
    for x0, x1 in ((left, mid), (mid, right)):
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromRect(QgsRectangle(x0, bottom, x1, top)))
        features.append(f)
    layer.dataProvider().addFeatures(features)
    return layer


def params(scene, tmp_path, **extra):
    p = {"VV": scene["vv"], "VH": scene["vh"], "ANNOTATION": scene["annotation"], "DEM": scene["dem"],
         "SPECKLE_SIZE": 3, "WET_SNOW": str(tmp_path / "wet.tif"), "MELT_ONSET": str(tmp_path / "onset.tif"),
         "MELT_END": str(tmp_path / "end.tif"), "WET_COUNT": str(tmp_path / "count.tif"),
         "LAYOVER_SHADOW": str(tmp_path / "mask.tif")}
    p.update(extra)
    return p


def test_melt_detection_through_processing(run_alg, scene, tmp_path):
    import rasterio
    from qgis.core import QgsVectorLayer

    res = run_alg("sar_melt", params(scene, tmp_path, OUTLINES=outline_layer(scene["grid"]),
                                     WET_FRACTION=str(tmp_path / "fraction.gpkg")))
    with rasterio.open(res["WET_SNOW"]) as ds:
        classes = ds.read()
        assert ds.count == len(DATES) and ds.descriptions[0] == "wet_2020-12-05"
    truth = scene["wet"]
    valid = classes != 255
    assert np.mean(((classes == 1) == truth)[valid]) > 0.97
    assert res["N_DATES"] == len(DATES) and res["RULE_USED"].startswith("dual-pol")
    assert res["BAND_DATES"].split(",") == [str(d) for d in DATES]
    report = json.loads(res["REPORT"])
    assert report["time_steps"]["wet_snow"][1] == ["2020-12-29", "2021-01-22", 2]
    with rasterio.open(res["LAYOVER_SHADOW"]) as ds:
        assert np.array_equal(ds.read(1), scene["codes"])
    table = QgsVectorLayer(res["WET_FRACTION"], "fraction", "ogr")
    assert table.isValid() and table.featureCount() == 2 * len(DATES)
    first = next(table.getFeatures())
    assert first["outline"] in (1, 2) and 0 <= first["wet_fraction"] <= 1 and len(first["date"]) == 10


def test_mixed_orbits_are_refused_and_nothing_is_written(run_alg, scene, tmp_path):
    from qgis.core import QgsProcessingException

    from serac.core.raster_io import read_raster, write_raster

    r = read_raster(scene["vv"][0])
    other = str(tmp_path / "other_VV_20210420.tif")
    write_raster(other, r.data, r.grid, tags={"RELATIVE_ORBIT": 66})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(QgsProcessingException, match="relative orbits"):
        run_alg("sar_melt", params(scene, out, VV=scene["vv"] + [other]))
    assert list(out.iterdir()) == []


def test_outputs_are_loaded_styled(serac_provider, scene, tmp_path):
    import processing
    from qgis.core import QgsProject

    QgsProject.instance().removeAllMapLayers()
    processing.runAndLoadResults("serac:sar_melt", params(scene, tmp_path))
    # one dated band per acquisition, animated by the Temporal Controller: on QGIS 3.22 one layer per date (same
    # file, the band of that date), from 3.38 one layer with a time range per band
    wet = [layer for layer in QgsProject.instance().mapLayers().values() if layer.name().startswith("Wet snow")]
    assert wet and all(layer.renderer().type() == "singlebandpseudocolor" for layer in wet)
    assert all(layer.temporalProperties().isActive() for layer in wet)
    if len(wet) > 1:
        assert len(wet) == len(DATES)
        starts = {layer.temporalProperties().fixedTemporalRange().begin().toString("yyyy-MM-dd"):
                  layer.renderer().band() for layer in wet}
        assert starts == {str(d): i + 1 for i, d in enumerate(DATES)}
    onset = QgsProject.instance().mapLayersByName("Melt onset (day number)")
    assert onset and onset[0].renderer().type() == "singlebandpseudocolor"
    mask = QgsProject.instance().mapLayersByName("Layover / shadow")
    assert mask and mask[0].renderer().type() == "paletted"
    QgsProject.instance().removeAllMapLayers()


def test_local_incidence_alone(run_alg, scene, tmp_path):
    import rasterio

    res = run_alg("sar_local_incidence", {"DEM": scene["dem"], "ANNOTATION": str(ANNOTATION),
                                          "LOCAL_ANGLE": str(tmp_path / "lia.tif"),
                                          "LAYOVER_SHADOW": str(tmp_path / "ls.tif")})
    with rasterio.open(res["LOCAL_ANGLE"]) as ds:
        assert np.allclose(ds.read(1), scene["theta_loc"], equal_nan=True, atol=1e-4)
    assert 0 < res["LAYOVER_FRACTION"] < 0.1 and res["SHADOW_FRACTION"] == 0
