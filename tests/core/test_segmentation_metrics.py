"""IoU / precision / recall, CaFFe mean distance error and front extraction from zones."""

import numpy as np
import pytest

from serac.core.segmentation.fronts import clean_zones, front_features, front_mask
from serac.core.segmentation.metrics import (compare_fronts, compare_outlines, front_distances,
                                             mean_distance_error, segmentation_scores)

from tests.core.test_segmentation_support import make_grid

GLACIER, OCEAN, ROCK = 0, 1, 2


def test_segmentation_scores_known_counts():
    pred = np.zeros((10, 10), bool)
    ref = np.zeros((10, 10), bool)
    pred[:, :6] = True  # 60 px
    ref[:, 2:8] = True  # 60 px, 40 overlap
    s = segmentation_scores(pred, ref)
    assert (s.tp, s.fp, s.fn, s.tn) == (40, 20, 20, 20)
    assert s.iou == pytest.approx(0.5) and s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    valid = np.ones((10, 10), bool)
    valid[:, :2] = False
    assert segmentation_scores(pred, ref, valid).precision == pytest.approx(1.0)


def test_compare_outlines_rasterises_polygons():
    grid = make_grid(100, 100, res=10.0)
    x0, y0 = grid.transform.c, grid.transform.f

    def box(c0, c1, r0, r1):
        return {"type": "Polygon", "coordinates": [[(x0 + 10 * c0, y0 - 10 * r0), (x0 + 10 * c1, y0 - 10 * r0),
                                                    (x0 + 10 * c1, y0 - 10 * r1), (x0 + 10 * c0, y0 - 10 * r1),
                                                    (x0 + 10 * c0, y0 - 10 * r0)]]}

    s = compare_outlines([box(0, 50, 0, 100)], [box(25, 75, 0, 100)], grid)
    assert s.iou == pytest.approx(1 / 3) and s.precision == pytest.approx(0.5)


def test_mde_of_a_shifted_front_is_the_shift_in_metres():
    a = np.zeros((50, 50), bool)
    b = np.zeros((50, 50), bool)
    a[:, 20] = True
    b[:, 23] = True
    d1, d2 = front_distances(a, b, 30.0)
    assert np.allclose(d1, 90.0) and np.allclose(d2, 90.0)
    err = mean_distance_error([(a, b, 30.0)])
    assert err.mde_m == pytest.approx(90.0) and err.n_evaluated == 1


def test_mde_pools_both_directions_and_images_and_counts_missing_fronts():
    ref = np.zeros((40, 40), bool)
    ref[:, 10] = True
    short = np.zeros((40, 40), bool)
    short[:10, 10] = True  # prediction covers a quarter of the reference front
    # pred->ref: 10 distances of 0; ref->pred: rows 10..39 at distances 1..30 px
    expected_px = np.arange(1, 31).sum() / (10 + 40)
    empty = np.zeros((40, 40), bool)
    err = mean_distance_error([(short, ref, 1.0), (ref, ref, 2.0), (empty, ref, 1.0), (ref, empty, 1.0)])
    assert err.n_images == 4 and err.n_evaluated == 2
    assert err.n_no_prediction == 1 and err.n_no_reference == 1
    assert err.per_image_m[0] == pytest.approx(expected_px) and err.per_image_m[1] == 0.0
    assert err.mde_m == pytest.approx(np.arange(1, 31).sum() / (50 + 80))
    assert err.mean_of_image_means_m == pytest.approx(expected_px / 2)


def test_mde_is_nan_when_no_image_has_a_prediction():
    ref = np.zeros((10, 10), bool)
    ref[5] = True
    err = mean_distance_error([(np.zeros_like(ref), ref, 10.0)])
    assert np.isnan(err.mde_m) and err.n_no_prediction == 1


def fjord_zones():
    """Rock on the sides, glacier from the top down to row 30, ocean below; a lake and an ice floe."""
    z = np.full((60, 50), ROCK, np.uint8)
    z[:30, 10:40] = GLACIER
    z[30:, 10:40] = OCEAN
    z[45:48, 20:23] = GLACIER  # iceberg in the ocean -> becomes ocean
    z[5:8, 2:5] = OCEAN  # isolated "ocean" on land -> becomes glacier
    return z


def test_clean_zones_follows_caffe():
    z = clean_zones(fjord_zones(), OCEAN, GLACIER)
    assert (z[45:48, 20:23] == OCEAN).all()
    assert (z[5:8, 2:5] == GLACIER).all()


def test_front_is_ocean_next_to_glacier_and_short_pieces_are_dropped():
    z = clean_zones(fjord_zones(), OCEAN, GLACIER)
    f = front_mask(z, GLACIER, OCEAN, pixel_size_m=30.0, min_length_m=0)
    assert f[30, 10:40].all() and f.sum() == 30
    # 30 px * 30 m = 900 m > 750 m: kept; at 20 m pixels 600 m <= 750 m: dropped
    assert front_mask(z, GLACIER, OCEAN, 30.0).sum() == 30
    assert front_mask(z, GLACIER, OCEAN, 20.0).sum() == 0


def test_front_features_and_line_mde():
    grid = make_grid(50, 60, res=30.0)
    feats, mask = front_features(fjord_zones(), grid, GLACIER, OCEAN, pixel_size_m=30.0, model_name="z")
    assert len(feats) == 1 and feats[0]["properties"]["length_m"] == pytest.approx(900.0)
    shifted = [{"type": "LineString", "coordinates": [(x, y - 60.0) for x, y in feats[0]["geometry"]["coordinates"]]}]
    err = compare_fronts([feats[0]["geometry"]], shifted, grid)
    assert err.mde_m == pytest.approx(60.0, abs=1.0)


def test_evaluation_grid_covers_the_geometries():
    from rasterio.crs import CRS

    from serac.core.errors import InputError
    from serac.core.segmentation.metrics import evaluation_grid, geometry_bounds

    geoms = [{"type": "LineString", "coordinates": [(1000, 2000), (1600, 2300)]},
             {"type": "Polygon", "coordinates": [[(900, 1900), (950, 1900), (950, 1950), (900, 1900)]]}]
    assert geometry_bounds(geoms) == (900, 1900, 1600, 2300)
    grid = evaluation_grid(geoms, CRS.from_epsg(32633), 10.0)
    left, bottom, right, top = grid.bounds
    assert left <= 880 and bottom <= 1880 and right >= 1620 and top >= 2320 and grid.res == (10.0, 10.0)
    with pytest.raises(InputError, match="projected CRS"):
        evaluation_grid(geoms, CRS.from_epsg(4326), 10.0)
    with pytest.raises(InputError, match="no geometry"):
        geometry_bounds([])
