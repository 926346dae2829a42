"""Vertical datums of DEM pairs (issue 12, item 4): a DEM on another declared datum is converted with PROJ.

Synthetic pairs near Svalbard (EGM96 undulation about +31 m, varying by a few dm over the grid):
the reference holds EGM96 heights (compound CRS EPSG:32633+5773), the DEM to align the same
terrain moved by SHIFT with ellipsoidal heights built from PROJ's undulation at every pixel
(a 3-D UTM CRS). Converted, the fit finds SHIFT and no datum difference; with the conversion
off it finds the undulation too and says so; with one datum undeclared it warns what it assumed.
"""

import warnings

import numpy as np
import pytest
import rasterio
import rasterio.warp
from affine import Affine
import pyproj
from rasterio.crs import CRS

from serac.core import raster_io as rio
from serac.core.dem import coregister, make_pipeline
from serac.core.dem.datum import convert_heights, datum_of_crs, geoid_undulation
from serac.core.dem.pair_datum import DatumShift, grid_lonlat, match_datums
from serac.core.dem.rate import elevation_change_rate
from serac.core.dem.sources import DemSource
from serac.core.errors import SeracWarning

EGM96 = CRS.from_user_input("EPSG:32633+5773")
EGM2008 = CRS.from_user_input("EPSG:32633+3855")
ELLIPSOIDAL = CRS.from_wkt(pyproj.CRS.from_epsg(32633).to_3d().to_wkt())
PLAIN = CRS.from_epsg(32633)
SHIFT = (7.0, -4.0, 2.5)  # displacement of the DEM to align relative to the reference (m)


def grid(crs, width=200, height=200, res=20.0, x0=500000.0, y0=8600000.0):
    return rio.RasterGrid(crs, Affine(res, 0, x0, 0, -res, y0), width, height)


def terrain(g, shift=(0.0, 0.0, 0.0)):
    rows, cols = np.mgrid[0:g.height, 0:g.width]
    x, y = g.xy(rows, cols)
    x, y = x - shift[0], y - shift[1]
    return (600 + 250 * np.sin(x / 900.0) * np.cos(y / 700.0) + 90 * np.sin((x + 2 * y) / 420.0)
            + 40 * np.cos((3 * x - y) / 260.0)) + shift[2]


def undulation(g):
    """EGM96 N (m) at every pixel centre of ``g`` from PROJ; the test is skipped without the grid."""
    rows, cols = np.mgrid[0:g.height, 0:g.width]
    lon, lat = grid_lonlat(g, rows, cols)
    n, why = geoid_undulation(lon.ravel(), lat.ravel(), "EGM96")
    if n is None:
        pytest.skip(f"no EGM96 grid installed for PROJ ({why})")
    return n.reshape(g.shape)


def write(path, values, g):
    with rasterio.open(path, "w", driver="GTiff", width=g.width, height=g.height, count=1, dtype="float32",
                       crs=g.crs, transform=g.transform, nodata=-9999.0) as ds:
        ds.write(np.asarray(values, dtype="float32"), 1)
    return str(path)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(reference on EGM96, DEM to align on the ellipsoid, the same DEM labelled with a plain 2-D CRS, N)."""
    folder = tmp_path_factory.mktemp("datums")
    g = grid(EGM96)
    n = undulation(g)
    ref = write(folder / "ref_egm96.tif", terrain(g), g)
    ellipsoidal = terrain(g, SHIFT) + n
    dem = write(folder / "dem_ellipsoidal.tif", ellipsoidal, grid(ELLIPSOIDAL))
    plain = write(folder / "dem_undeclared.tif", ellipsoidal, grid(PLAIN))
    return ref, dem, plain, n


def test_the_written_files_declare_their_datums(pair):
    ref, dem, plain, n = pair
    assert datum_of_crs(rio.read_grid(ref).crs) == "EGM96"
    assert datum_of_crs(rio.read_grid(dem).crs) == "ellipsoid"
    assert datum_of_crs(rio.read_grid(plain).crs) is None
    assert 25.0 < n.mean() < 40.0 and np.ptp(n) > 0.05  # Svalbard: N varies across the grid


def test_datum_shift_on_a_grid_is_the_point_conversion_at_every_pixel(pair):
    """One conversion: the lattice-interpolated grid offset equals the point conversion at each pixel centre."""
    _, dem, _, n = pair
    g = rio.read_grid(dem)
    shift = DatumShift("ellipsoid", "EGM96")
    offset = shift.on(g)
    assert np.abs(offset + n).max() < 0.005  # ellipsoidal -> EGM96: minus N, to 5 mm
    window = rasterio.windows.Window(37, 11, 50, 60)
    np.testing.assert_allclose(shift.on(g, window), offset[11:71, 37:87], atol=0.005)
    rows, cols = np.mgrid[0:g.height:40, 0:g.width:40]
    lon, lat = grid_lonlat(g, rows, cols)
    points = convert_heights(lon.ravel(), lat.ravel(), np.full(lon.size, 100.0), "ellipsoid", "EGM96")
    np.testing.assert_allclose(points.heights - 100.0, offset[::40, ::40].ravel(), atol=0.005)


def test_declared_datums_are_converted_and_the_shift_excludes_them(pair):
    ref, dem, _, n = pair
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeracWarning)  # converted: nothing to warn about
        result = make_pipeline("nuth_kaab").fit(ref, dem)
    assert result.shift_x_m == pytest.approx(-SHIFT[0], abs=0.3)
    assert result.shift_y_m == pytest.approx(-SHIFT[1], abs=0.3)
    assert result.shift_z_m == pytest.approx(-SHIFT[2], abs=0.1)  # not -(2.5 + 31) m
    datum = result.to_dict()["datum"]
    assert datum["converted"] and datum["conversion"] == "ellipsoid -> EGM96"
    assert datum["offset_m"]["mean"] == pytest.approx(-n.mean(), abs=0.02)
    assert datum["offset_m"]["min"] == pytest.approx(-n.max(), abs=0.02)
    assert datum["offset_m"]["max"] == pytest.approx(-n.min(), abs=0.02)
    assert "converted from ellipsoid to EGM96" in datum["notes"][0] and not datum["warnings"]


def test_conversion_off_finds_the_undulation_and_warns(pair):
    ref, dem, _, n = pair
    with pytest.warns(SeracWarning) as record:
        result = make_pipeline("nuth_kaab", convert_datums=False).fit(ref, dem)
    assert result.shift_z_m == pytest.approx(-SHIFT[2] - n.mean(), abs=0.15)
    texts = " ".join(str(w.message) for w in record)
    assert "conversion is turned off" in texts and "Turn 'Convert vertical datums' on" in texts
    assert "close to the local geoid undulation" in texts
    assert not result.vertical_datum.converted


def test_one_datum_undeclared_warns_what_was_assumed_and_the_fix(pair):
    ref, _, plain, n = pair
    with pytest.warns(SeracWarning) as record:
        result = make_pipeline("vertical").fit(ref, plain)
    texts = " ".join(str(w.message) for w in record)
    assert "relative to EGM96" in texts and "an undeclared datum" in texts
    assert "assumed both are on the same datum" in texts and "assign it a compound CRS" in texts
    assert "close to the local geoid undulation" in texts  # the shift check is kept
    assert result.shift_z_m == pytest.approx(-SHIFT[2] - n.mean(), abs=0.5)


def test_undeclared_on_both_sides_converts_nothing_silently():
    g = grid(PLAIN, 20, 20)
    raster = rio.Raster(np.zeros((1, 20, 20), "float32"), g)
    source = DemSource(raster, "DEM")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeracWarning)
        same, pair = match_datums(source, source)
    assert same is source and not pair.converted and not pair.notes and not pair.warnings


def test_missing_geoid_grid_warns_with_the_fix(tmp_path):
    g = grid(EGM2008, 50, 50)
    if geoid_undulation(*grid_lonlat(g, np.array([0]), np.array([0])), "EGM2008")[0] is not None:
        pytest.skip("the EGM2008 grid is installed here")
    ref = DemSource(write(tmp_path / "ref_egm2008.tif", terrain(g), g), "reference DEM")
    dem = DemSource(write(tmp_path / "dem_ell.tif", terrain(g), grid(ELLIPSOIDAL, 50, 50)), "DEM to align")
    with pytest.warns(SeracWarning, match="cannot be converted.*us_nga_egm08_25.*Install the geoid grid"):
        same, pair = match_datums(ref, dem)
    assert same is dem and not pair.converted


def geographic_ellipsoidal(folder, g):
    """The reference's terrain with ellipsoidal heights on a geographic 3-D grid (EPSG:4979) covering ``g``.

    (GeoTIFF keys hold EPSG:4979; a 3-D projected CRS lives only in the .aux.xml sidecar, which the output
    writer does not carry over, so a DEM moved by its geotransform is best tested on EPSG:4979.)"""
    from pyproj import Transformer

    transform, width, height = rasterio.warp.calculate_default_transform(PLAIN, "EPSG:4326", g.width, g.height,
                                                                        *g.bounds)
    geo = rio.RasterGrid(CRS.from_epsg(4979), transform, width, height)
    rows, cols = np.mgrid[0:height, 0:width]
    lon, lat = geo.xy(rows, cols)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True).transform(lon, lat)
    n, _ = geoid_undulation(lon.ravel(), lat.ravel(), "EGM96")
    utm = rio.RasterGrid(PLAIN, Affine(1.0, 0, 0, 0, -1.0, 0), 1, 1)
    values = terrain(utm, (-(x - 0.5), -(y + 0.5), 0.0))  # terrain at (x, y): the 1 px grid moved there
    return write(folder / "dem_ellipsoidal_4979.tif", values + n.reshape(values.shape), geo)


def test_aligned_dem_and_dh_are_on_the_reference_datum(pair, tmp_path):
    ref = pair[0]
    dem = geographic_ellipsoidal(tmp_path, rio.read_grid(ref))
    assert datum_of_crs(rio.read_grid(dem).crs) == "ellipsoid"
    result = coregister(ref, dem, tmp_path / "aligned.tif", tmp_path / "dh.tif", method="vertical")
    assert result.vertical_datum.converted and abs(result.shift_z_m) < 0.1  # not -31 m
    dh = rio.read_raster(tmp_path / "dh.tif").band(1)
    aligned = rio.read_raster(tmp_path / "aligned.tif")
    assert abs(np.nanmedian(dh)) < 0.05 and np.nanpercentile(np.abs(dh), 95) < 5  # no 31 m datum step left
    assert datum_of_crs(aligned.grid.crs) == "EGM96"  # on the reference's grid, CRS and datum
    # moved by its geotransform, the aligned DEM keeps its own CRS and its heights their own datum
    moved = coregister(ref, dem, tmp_path / "moved.tif", tmp_path / "dh_moved.tif", method="vertical",
                       shift_by="geotransform")
    assert moved.shift_z_m == pytest.approx(result.shift_z_m, abs=1e-6)
    own = rio.read_raster(tmp_path / "moved.tif")
    assert datum_of_crs(own.grid.crs) == "ellipsoid"
    assert np.nanmedian(own.band(1) - rio.read_raster(dem).band(1)) == pytest.approx(result.shift_z_m, abs=0.01)
    assert abs(np.nanmedian(rio.read_raster(tmp_path / "dh_moved.tif").band(1))) < 0.05


def test_uncertainty_and_rate_difference_on_one_datum(pair, tmp_path):
    """dh of the uncertainty job (aligned DEM - reference) and dh/dt of a series use the same conversion."""
    from serac.core.jobs.dem_change import _dh_and_reference
    from serac.core.raster_io import read_grid

    ref, _, _, n = pair
    g = read_grid(ref)
    same_place = write(tmp_path / "same_ellipsoidal.tif", terrain(g) + 1.0 + n, grid(ELLIPSOIDAL))
    dh, _, datum = _dh_and_reference({"reference": ref, "dem": same_place}, g)
    assert datum.converted and np.nanmedian(dh) == pytest.approx(1.0, abs=0.01)
    with pytest.warns(SeracWarning, match="conversion is turned off"):
        dh_off, _, _ = _dh_and_reference({"reference": ref, "dem": same_place}, g, convert_datums=False)
    assert np.nanmedian(dh_off) == pytest.approx(1.0 + n.mean(), abs=0.05)
    arrays, summary = elevation_change_rate([ref, same_place], ["2010-01-01", "2012-01-01"], min_count=2)
    assert np.nanmedian(arrays["rate"]) == pytest.approx(0.5, abs=0.01)  # 1 m in 2 years, not 16 m/yr
    assert summary["datums"][0]["conversion"] == "ellipsoid -> EGM96"
