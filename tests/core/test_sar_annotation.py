"""Incidence angle from real Sentinel-1 annotation XML (EW over NW Greenland, IW over the Alps)."""

import glob
import os

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from serac.core import raster_io as rio
from serac.core.errors import InputError
from serac.core.sar.annotation import (GeolocationGrid, IncidenceAngleModel, read_annotation,
                                       read_geolocation_csv)
from serac.core.sar.sources import AnnotationAngleSource, ConstantSource

PRODUCTS = {
    "EW": ("S1A_EW_SLC*", "*ew1-slc-hh*", (18, 21), (19856, 8185), (19.3, 28.8)),
    "IW": ("S1B_IW_GRDH*", "*iw-grd-vv*", (10, 21), (16685, 25788), (30.4, 46.3)),
}


def _files(shared_data, key):
    safe, name, *_ = PRODUCTS[key]
    folder = glob.glob(str(shared_data / "sar" / "s1_annotation" / safe))[0]
    xml = glob.glob(os.path.join(folder, name + ".xml"))[0]
    return xml, xml[:-4] + "_geolocation_grid.csv"


@pytest.fixture(scope="module", params=sorted(PRODUCTS))
def product(request, shared_data):
    xml, csv = _files(shared_data, request.param)
    return request.param, read_annotation(xml), csv


def test_annotation_is_parsed(product):
    key, ann, _ = product
    _, _, lattice_shape, image_shape, (lo, hi) = PRODUCTS[key]
    assert ann.geolocation.shape == lattice_shape
    assert (ann.number_of_lines, ann.number_of_samples) == image_shape
    assert ann.mode == key and ann.pass_direction == "Descending"
    inc = ann.geolocation.incidence
    assert lo <= inc.min() < inc.max() <= hi


def test_csv_grid_is_the_same_lattice(product):
    _, ann, csv = product
    grid = read_geolocation_csv(csv)
    np.testing.assert_array_equal(grid.lines, ann.geolocation.lines)
    np.testing.assert_allclose(grid.incidence, ann.geolocation.incidence, atol=1e-9)


def test_image_grid_reproduces_the_annotation_points(product):
    _, ann, _ = product
    g = ann.geolocation
    model = IncidenceAngleModel.from_annotation(ann)
    on_image = model.on_image(g.lines, g.pixels[0], dtype=np.float64)
    assert np.max(np.abs(on_image - g.incidence)) < 0.01  # requirement: 0.01 deg
    assert np.max(np.abs(on_image - g.incidence)) < 1e-6  # in fact exact (interpolating spline)


def test_held_out_points_are_predicted_to_hundredths_of_a_degree(product):
    """Predict every other lattice column from the rest: a measure of accuracy between nodes."""
    _, ann, _ = product
    g = ann.geolocation
    lines, pixels, fields = g.points()
    held = np.zeros(g.shape, bool)
    held[:, 1::2] = True
    errors = {}
    for height_aware in (True, False):
        model = IncidenceAngleModel(g.subset(slice(None), slice(0, None, 2)), (ann.number_of_lines,
                                    ann.number_of_samples), height_aware=height_aware)
        m = held.ravel()
        pred = model.at_points(lines[m], pixels[m], heights=fields["height"][m])
        errors[height_aware] = np.max(np.abs(pred - fields["incidenceAngle"][m]))
    assert errors[True] < 0.01
    assert errors[False] > 5 * errors[True]  # the node heights matter: ~0.1 deg without the height term


def test_map_coordinates_reproduce_the_annotation_points(product):
    _, ann, _ = product
    model = IncidenceAngleModel.from_annotation(ann)
    lines, pixels, f = ann.geolocation.points()
    line, pixel = model.lonlat_to_image(f["longitude"], f["latitude"])
    assert np.max(np.abs(line - lines)) < 0.01 and np.max(np.abs(pixel - pixels)) < 0.01
    inc = model.at_lonlat(f["longitude"], f["latitude"], heights=f["height"])
    assert np.max(np.abs(inc - f["incidenceAngle"])) < 0.01


def test_map_grid_source_over_the_alps(shared_data):
    """IW product on a 2 km UTM 32N grid larger than the footprint: angles inside, NaN outside;
    on a 50 m grid the coarse evaluation (nodes every 400 m) is within 0.001 deg of the exact
    per-pixel inversion."""
    xml, _ = _files(shared_data, "IW")
    model = IncidenceAngleModel.from_file(xml)
    utm = CRS.from_epsg(32632)
    wide = rio.RasterGrid(utm, Affine(2000.0, 0, 440_000, 0, -2000.0, 5_280_000), 180, 120)
    angle = AnnotationAngleSource(model, wide).read(Window(0, 0, wide.width, wide.height))
    assert 0.2 < np.isfinite(angle).mean() < 0.95
    assert 30.4 <= np.nanmin(angle) and np.nanmax(angle) <= 46.3
    fine = rio.RasterGrid(utm, Affine(50.0, 0, 600_000, 0, -50.0, 5_180_000), 300, 300)
    source = AnnotationAngleSource(model, fine)
    assert source.step == 8
    win = Window(0, 0, fine.width, fine.height)
    angle = source.read(win)
    rows, cols = np.mgrid[0:fine.height:7, 0:fine.width:7]
    exact = model.on_map(*fine.xy(rows, cols), fine.crs)
    assert np.all(np.isfinite(exact))
    assert np.max(np.abs(exact - angle[rows, cols])) < 0.001
    # higher terrain at the same map position sees the sensor at a larger angle; flat-earth estimate
    # d theta / d h = sin(theta) cos(theta) / altitude (693 km for Sentinel-1)
    high = AnnotationAngleSource(model, fine, dem=ConstantSource(2000.0)).read(win)
    low = AnnotationAngleSource(model, fine, dem=ConstantSource(0.0)).read(win)
    theta = np.radians(np.median(low))
    expected = np.degrees(np.sin(theta) * np.cos(theta) * 2000.0 / 693_000.0)
    assert np.median(high - low) == pytest.approx(expected, rel=0.3)
    exact_high = model.on_map(*fine.xy(rows, cols), fine.crs, heights=np.full(rows.shape, 2000.0))
    assert np.max(np.abs(exact_high - high[rows, cols])) < 0.002  # linear-in-height model of the DEM effect


def test_image_grid_source_on_a_multilooked_image(shared_data):
    xml, _ = _files(shared_data, "EW")
    ann = read_annotation(xml)
    model = IncidenceAngleModel.from_annotation(ann)
    looks = 8
    grid = rio.RasterGrid(None, Affine.identity(), ann.number_of_samples // looks, ann.number_of_lines // looks)
    angle = AnnotationAngleSource(model, grid).read(Window(0, 0, grid.width, grid.height))
    assert np.all(np.isfinite(angle))
    # first column ~ near range, last ~ far range of the EW1 sub-swath
    assert angle[:, 0].mean() == pytest.approx(ann.geolocation.incidence[:, 0].mean(), abs=0.05)
    assert angle[:, -1].mean() == pytest.approx(ann.geolocation.incidence[:, -1].mean(), abs=0.05)
    too_big = rio.RasterGrid(None, Affine.identity(), ann.number_of_samples * 2, ann.number_of_lines)
    with pytest.raises(InputError, match="radar geometry"):
        AnnotationAngleSource(model, too_big)


def test_bad_annotation_files(tmp_path):
    (tmp_path / "calibration.xml").write_text("<calibration><calibrationVectorList/></calibration>")
    with pytest.raises(InputError, match="no geolocation grid"):
        read_annotation(tmp_path / "calibration.xml")
    (tmp_path / "broken.xml").write_text("<product><geolocationGrid>")
    with pytest.raises(InputError, match="Cannot read"):
        read_annotation(tmp_path / "broken.xml")
    with pytest.raises(InputError, match="not a complete"):
        GeolocationGrid.from_points([0, 0, 0, 10, 10], [0, 5, 10, 0, 10],
                                    {"incidenceAngle": [30, 31, 32, 30, 32]})


def test_normalizing_a_radar_geometry_image_with_the_annotation(shared_data, tmp_path):
    """A multilooked EW image without CRS (rows = lines / 16, cols = pixels / 16), angle from the XML path."""
    import warnings

    from serac.core.sar.engine import normalize_raster
    from serac.core.sar.normalization import CosineLaw

    xml, _ = _files(shared_data, "EW")
    ann = read_annotation(xml)
    grid = rio.RasterGrid(None, Affine.identity(), ann.number_of_samples // 16, ann.number_of_lines // 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: not georeferenced
        rio.write_raster(tmp_path / "ew_db.tif", np.full(grid.shape, -15.0, np.float32), grid)
        res = normalize_raster(tmp_path / "ew_db.tif", tmp_path / "norm.tif", CosineLaw(1.0, 25.0), xml)
        out = rio.read_raster(tmp_path / "norm.tif").data[0]
    assert res.angle_range[0] == pytest.approx(19.5, abs=0.3) and res.angle_range[1] == pytest.approx(28.6, abs=0.3)
    # cos law with n = 1: near range (small angle) is darkened, far range brightened, 25 deg unchanged
    assert out[:, 0].mean() < -15.0 < out[:, -1].mean()
    assert np.all(np.isfinite(out))
