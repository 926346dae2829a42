"""Probability -> outline polygons (specks, holes, simplification, attributes) and boundary lines."""

import numpy as np
import pytest

from serac.core.segmentation.vectorize import (boundary_lines, boundary_segments, chain_segments, clean_mask,
                                               geometry_area_m2, outline_features, write_features)

from tests.core.test_segmentation_support import make_grid


def blob_scene():
    """A 100x120 probability field: a big glacier with a 2x2 hole and a 6x6 hole, a 2x2 speck."""
    p = np.full((100, 120), 0.1, np.float32)
    p[10:60, 10:80] = 0.9
    p[20:22, 20:22] = 0.2  # small hole (4 px)
    p[30:36, 40:46] = 0.2  # large hole (36 px)
    p[80:82, 100:102] = 0.8  # speck (4 px)
    p[70:90, 20:40] = 0.7  # second glacier (400 px)
    return p


def test_clean_mask_removes_specks_and_fills_small_holes_only():
    m = blob_scene() >= 0.5
    c = clean_mask(m, min_area_px=10, max_hole_px=10)
    assert not c[80:82, 100:102].any()
    assert c[20:22, 20:22].all()
    assert not c[30:36, 40:46].any()
    assert c[70:90, 20:40].all()


def test_outline_features_attributes_area_and_holes():
    grid = make_grid(120, 100, res=30.0)
    px = 900.0  # m^2
    feats = outline_features(blob_scene(), grid, threshold=0.5, min_area_m2=10 * px, max_hole_m2=10 * px,
                             model_name="m1")
    assert [f["properties"]["id"] for f in feats] == [1, 2]
    big, small = feats
    assert big["properties"]["area_km2"] == pytest.approx((50 * 70 - 36) * px / 1e6)
    assert small["properties"]["area_km2"] == pytest.approx(400 * px / 1e6)
    assert big["properties"]["review_status"] == "unreviewed" and big["properties"]["model"] == "m1"
    assert small["properties"]["mean_probability"] == pytest.approx(0.7, abs=1e-4)
    # the filled 2x2 hole counts 0.2, the rest 0.9
    assert big["properties"]["mean_probability"] == pytest.approx((0.9 * (3500 - 40) + 0.2 * 4) / 3464, abs=1e-3)
    assert len(big["geometry"]["coordinates"]) == 2  # exterior + the one large hole
    assert geometry_area_m2(big["geometry"], grid.crs) == pytest.approx((3500 - 36) * px)


def test_nan_probability_is_never_glacier_and_empty_input_gives_no_feature():
    grid = make_grid(20, 20)
    p = np.full((20, 20), np.nan, np.float32)
    assert outline_features(p, grid) == []
    p[5:10, 5:10] = 0.9
    (f,) = outline_features(p, grid)
    assert f["properties"]["area_km2"] == pytest.approx(25 * 900 / 1e6)


def test_simplification_reduces_vertices_and_keeps_area_close():
    grid = make_grid(200, 200, res=10.0)
    yy, xx = np.mgrid[0:200, 0:200]
    p = ((yy - 100) ** 2 + (xx - 100) ** 2 < 70 ** 2).astype(np.float32)
    (raw,) = outline_features(p, grid)
    (simple,) = outline_features(p, grid, simplify_m=15.0)
    n_raw = len(raw["geometry"]["coordinates"][0])
    n_simple = len(simple["geometry"]["coordinates"][0])
    assert n_simple < n_raw / 3
    assert simple["properties"]["area_km2"] == pytest.approx(raw["properties"]["area_km2"], rel=0.02)
    assert simple["properties"]["area_km2"] == pytest.approx(np.pi * 0.7 ** 2, rel=0.02)


def test_write_geopackage_with_fields(tmp_path):
    from osgeo import ogr

    grid = make_grid(120, 100)
    feats = outline_features(blob_scene(), grid, min_area_m2=9000, model_name="m1")
    path = write_features(tmp_path / "out.gpkg", feats, grid.crs, layer="glacier_outlines")
    ds = ogr.Open(str(path))
    lyr = ds.GetLayer(0)
    assert lyr.GetName() == "glacier_outlines" and lyr.GetFeatureCount() == len(feats)
    names = [lyr.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(lyr.GetLayerDefn().GetFieldCount())]
    assert names == ["id", "area_km2", "mean_probability", "model", "review_status"]
    f = lyr.GetNextFeature()
    assert f.GetField("review_status") == "unreviewed" and f.GetField("id") == 1
    assert lyr.GetSpatialRef().GetAuthorityCode(None) == "32645"


def test_boundary_segments_and_chaining():
    a = np.zeros((5, 5), bool)
    b = np.zeros((5, 5), bool)
    a[:, :2] = True
    b[:, 2:] = True
    segs = boundary_segments(a, b)
    assert len(segs) == 5 and np.all(segs[:, :, 1] == 2)
    (line,) = chain_segments(segs)
    assert len(line) == 6 and {line[0], line[-1]} == {(0, 2), (5, 2)}


def test_boundary_lines_in_map_units():
    grid = make_grid(40, 30, res=30.0)
    a = np.zeros((30, 40), bool)
    a[:, :15] = True
    feats = boundary_lines(a, ~a, grid, model_name="z")
    assert len(feats) == 1
    assert feats[0]["properties"]["length_m"] == pytest.approx(30 * 30.0)
    xs = {x for x, _ in feats[0]["geometry"]["coordinates"]}
    assert xs == {grid.transform.c + 15 * 30.0}
    assert boundary_lines(a, ~a, grid, min_length_m=1000) == []
