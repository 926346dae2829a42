"""Vector input/output outside QGIS on geopandas, shapely 2 and pyogrio (core/vector_io.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from rasterio.crs import CRS
from serac.core.errors import CRSError, InputError
from serac.core.segmentation.vectorize import geometry_area_m2, geometry_length_m, simplify_geometry
from serac.core.vector_io import read_geometries, write_features

from tests.conftest import PLUGIN_PATH, SAMPLE_DATA

UTM45 = CRS.from_epsg(32645)
SQUARE = {"type": "Polygon", "coordinates": [[(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)]]}


def _features():
    return [{"type": "Feature", "geometry": SQUARE,
             "properties": {"id": 1, "area_km2": 1.0, "model": "m", "note": None}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[(2000, 0), (2500, 0), (2500, 500),
                                                                                  (2000, 0)]]},
             "properties": {"id": 2, "area_km2": None, "model": "m", "note": "x"}}]


def test_write_then_read_round_trip(tmp_path):
    path = write_features(tmp_path / "a.gpkg", _features(), UTM45, layer="outlines", geometry_type="MultiPolygon")
    assert os.listdir(tmp_path) == ["a.gpkg"]  # no temporary file left
    geoms = read_geometries(path)
    assert [g["type"] for g in geoms] == ["MultiPolygon", "MultiPolygon"]
    assert geometry_area_m2(geoms[0], UTM45) == pytest.approx(1e6)
    from osgeo import ogr

    ds = ogr.Open(str(path))  # keep the dataset: its layer dies with it
    lyr = ds.GetLayer("outlines")
    defn = lyr.GetLayerDefn()
    kinds = {defn.GetFieldDefn(i).GetName(): defn.GetFieldDefn(i).GetTypeName() for i in range(defn.GetFieldCount())}
    assert kinds == {"id": "Integer64", "area_km2": "Real", "model": "String", "note": "String"}
    second = [f for f in lyr][1]
    assert second.IsFieldNull("area_km2") and second.GetField("note") == "x"


def test_read_reprojects_like_the_raster(tmp_path):
    path = write_features(tmp_path / "b.gpkg", _features()[:1], UTM45)
    (geo,) = read_geometries(path, target_crs=CRS.from_epsg(4326))
    lon, lat = np.array(geo["coordinates"][0]).T
    assert np.all((82.4 < lon) & (lon < 82.6)) and np.all(np.abs(lat) < 0.02)  # 500 km west of 87°E
    # geographic geometries are measured in their local UTM zone (44 here, 1.5 degrees from 45's
    # central meridian: scale differs by about 0.3 %)
    assert geometry_area_m2(geo, CRS.from_epsg(4326)) == pytest.approx(1e6, rel=0.01)
    line = {"type": "LineString", "coordinates": geo["coordinates"][0][:2]}
    assert geometry_length_m(line, CRS.from_epsg(4326)) == pytest.approx(1000, rel=0.01)


def test_real_outlines_in_the_raster_crs():
    geoms = read_geometries(SAMPLE_DATA / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg", UTM45)
    assert len(geoms) > 10 and all(g["type"] in ("Polygon", "MultiPolygon") for g in geoms)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_geometries(tmp_path / "none.gpkg")
    path = write_features(tmp_path / "c.gpkg", _features()[:1], None)
    with pytest.raises(CRSError, match="no CRS"):
        read_geometries(path, target_crs=UTM45)


def test_simplify_keeps_topology():
    zigzag = {"type": "LineString", "coordinates": [(x, (x % 2) * 0.1) for x in range(50)]}
    assert len(simplify_geometry(zigzag, 1.0)["coordinates"]) == 2
    assert simplify_geometry(zigzag, 0) is zigzag


def test_missing_vector_stack_is_explained():
    code = ("import sys; sys.modules['geopandas'] = None\n"
            "from serac.core.errors import DependencyMissing\n"
            "from serac.core.vector_io import read_geometries\n"
            "try:\n    read_geometries('x.gpkg')\nexcept DependencyMissing as e:\n    print('MSG', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(PLUGIN_PATH))).stdout
    assert "MSG The Python package 'geopandas' is needed" in out and "Check dependencies" in out
