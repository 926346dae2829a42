"""DEM co-registration to elevation points: ATL06 reader, point tables, known-answer shift, geoid trap, datums."""

import csv

import numpy as np
import pytest
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS

from serac.core import raster_io as rio
from serac.core.dem import StableTerrain
from serac.core.dem.altimetry import PointTable, read_atl06, read_point_table
from serac.core.dem.datum import check_vertical_shift, convert_heights, datum_of_crs, geoid_undulation
from serac.core.dem.points import apply_to_dem, bilinear_at, coregister_to_points
from serac.core.errors import InputError, NoOverlapError

ATL06 = "ATL06_20181014001049_02350102_001_01"


@pytest.fixture(scope="module")
def juneau(shared_data):
    return shared_data / "dem" / "juneau_icefield_atl06"


@pytest.fixture(scope="module")
def hooker(shared_data):
    return shared_data / "dem" / "carst_hooker_icesat"


def test_atl06_reader_keeps_quality_zero_segments_of_all_six_beams(juneau):
    table = read_atl06(juneau / f"{ATL06}.h5")
    with open(juneau / f"{ATL06}_points.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["h_li"] and r["atl06_quality_summary"] == "0"]
    assert len(table) == len(rows) == 877
    beams, counts = np.unique(table.fields["beam"], return_counts=True)
    expected = {b: sum(r["beam"] == b for r in rows) for b in beams}
    assert dict(zip(beams, counts)) == expected and len(beams) == 6
    assert table.datum == "ellipsoid" and table.crs.to_epsg() == 4326
    order = np.lexsort((table.y, table.x))
    h_csv = np.array(sorted(((float(r["longitude"]), float(r["latitude"]), float(r["h_li"])) for r in rows),
                            key=lambda t: (t[0], t[1])))
    np.testing.assert_allclose(table.h[order], h_csv[:, 2], atol=2e-3)
    everything = read_atl06(juneau / f"{ATL06}.h5", quality_filter=False)
    assert len(everything) == 2885  # every valid h_li, fill values dropped


def test_point_table_from_csv_and_shapefile(juneau, hooker):
    table = read_point_table(juneau / f"{ATL06}_points.csv", "h_li", datum="ellipsoid")
    assert len(table) == 2885 and table.crs.to_epsg() == 4326  # rows with an empty h_li are skipped
    every = read_atl06(juneau / f"{ATL06}.h5", quality_filter=False)
    np.testing.assert_allclose(np.sort(table.h), np.sort(every.h), atol=2e-3)  # the CSV holds the same heights
    glas = read_point_table(hooker / "ICESAT_GLAS_subset.shp", "H_ell", keep_fields=("H_orto",))
    assert len(glas) == 269 and glas.crs.to_epsg() == 32640 and glas.datum is None
    assert np.median(glas.h - glas.fields["H_orto"]) == pytest.approx(12.23, abs=0.05)
    with pytest.raises(InputError, match="no field 'height'"):
        read_point_table(hooker / "ICESAT_GLAS_subset.shp", "height")


def test_bilinear_sampling_is_nodata_aware():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    a[3, 4] = np.nan
    v = bilinear_at(a, [0.5, 2.5, -0.1, 1.0], [0.5, 3.5, 0.0, 4.0])
    assert v[0] == pytest.approx(3.0) and np.isnan(v[1]) and np.isnan(v[2]) and np.isnan(v[3])


def _transplanted_atl06(juneau, grid, seed=0, noise_m=0.0):
    """Real ATL06 segment positions (all six beams) folded into 16 km pieces laid side by side on ``grid``."""
    t = read_atl06(juneau / f"{ATL06}.h5", quality_filter=False)
    x, y = (np.asarray(v) for v in rasterio.warp.transform(CRS.from_epsg(4326), CRS.from_epsg(32608), t.x, t.y))
    piece = np.floor((y - y.min()) / 16000.0)
    left, bottom, right, top = grid.bounds
    px = x - x.mean() + (piece - piece.max() / 2) * 2000.0 + (left + right) / 2
    py = (y - y.min()) - piece * 16000.0 - 8000.0 + (bottom + top) / 2
    return px, py


def test_known_shift_recovered_at_real_atl06_positions(juneau, shared_data, tmp_path):
    """A real DEM moved by a known shift, sampled at real ATL06 segment positions with 0.3 m noise."""
    dem = rio.read_raster(shared_data / "dem" / "longyearbyen_partial" / "DEM_1995.tif")
    g, z = dem.grid, dem.band(1).astype(np.float64)
    px, py = _transplanted_atl06(juneau, g)
    cols, rows = ~g.transform * (px, py)
    h = bilinear_at(z, np.asarray(rows) - 0.5, np.asarray(cols) - 0.5)
    h += np.random.default_rng(1).normal(0.0, 0.3, h.shape)
    ok = np.isfinite(h)
    assert ok.sum() > 2800
    points = PointTable(px[ok], py[ok], h[ok], g.crs)
    shift = (12.3, -7.9, 3.1)  # m: the DEM to align is the real one moved by this
    moved = rio.RasterGrid(g.crs, Affine.translation(shift[0], shift[1]) * g.transform, g.width, g.height)
    rio.write_raster(tmp_path / "dem.tif", (z + shift[2]).astype(np.float32)[None], moved)
    result = coregister_to_points(tmp_path / "dem.tif", points)
    assert abs(result.shift_x_m + shift[0]) < 0.1 * 20 and abs(result.shift_y_m + shift[1]) < 0.1 * 20
    assert abs(result.shift_x_px + shift[0] / 20) < 0.1 and abs(result.shift_y_px + shift[1] / 20) < 0.1
    assert result.shift_z_m == pytest.approx(-shift[2], abs=0.05)
    assert result.stats_before["nmad"] > 2.0 and result.stats_after["nmad"] < 0.5
    assert abs(result.stats_after["median"]) < 0.01 and not result.warnings
    # glaciers masked as unstable: fewer points used, same answer
    mask = shared_data / "dem" / "longyearbyen_partial" / "glacier_mask_1990_derived.tif"
    masked = coregister_to_points(tmp_path / "dem.tif", points, stable=StableTerrain(mask_path=mask))
    assert masked.counts["stable_on_dem"] < 0.95 * masked.counts["on_dem"]
    assert not masked.stable[np.isnan(masked.dh_before)].any()
    assert abs(masked.shift_x_m + shift[0]) < 2 and masked.shift_z_m == pytest.approx(-shift[2], abs=0.05)
    # the aligned DEM written with the DEM-pair apply agrees with the points
    apply_to_dem(result, tmp_path / "dem.tif", tmp_path / "aligned.tif", cog=False)
    aligned = rio.read_raster(tmp_path / "aligned.tif")
    c2, r2 = ~aligned.grid.transform * (points.x, points.y)
    dh = bilinear_at(aligned.band(1), np.asarray(r2) - 0.5, np.asarray(c2) - 0.5) - points.h
    assert abs(np.nanmedian(dh)) < 0.05 and np.isfinite(dh).sum() > 2500


def test_hooker_geoid_trap_is_caught(hooker):
    dem = hooker / "HookerFJL_13APR19WV01DEM3_10m.tif"
    orto = read_point_table(hooker / "ICESAT_GLAS_subset.shp", "H_orto", keep_fields=("H_ell",))
    trap = coregister_to_points(dem, orto, method="vertical", alternative_heights="H_ell")
    assert trap.counts["stable_on_dem"] == 58
    assert trap.shift_z_m == pytest.approx(-12.25, abs=0.3)
    assert trap.datum["flagged"] and "geoid undulation" in trap.warnings[0]
    assert "DEM looks ellipsoidal" in trap.warnings[0]
    assert trap.datum["undulations_m"]["H_ell - elevation of the points"] == pytest.approx(12.23, abs=0.05)
    ell = read_point_table(hooker / "ICESAT_GLAS_subset.shp", "H_ell")
    right = coregister_to_points(dem, ell, method="vertical")
    assert abs(right.shift_z_m) < 0.2 and not right.warnings and not right.datum["flagged"]
    # with both datums declared the points are converted with PROJ's EGM96 grid and the trap disappears
    declared = coregister_to_points(dem, orto, method="vertical", points_datum="EGM96", dem_datum="ellipsoid")
    assert abs(declared.shift_z_m) < 1.0 and "converted EGM96 -> ellipsoid" in declared.datum["notes"][0]
    # too few sloping points for a horizontal shift: a clear error, not a wrong answer
    with pytest.raises(InputError, match="cannot constrain a horizontal shift"):
        coregister_to_points(dem, ell)


def test_datums_detected_and_converted_with_proj_grids():
    assert datum_of_crs(CRS.from_user_input("EPSG:4326+5773")) == "EGM96"
    assert datum_of_crs(CRS.from_user_input("EPSG:32640+3855")) == "EGM2008"
    assert datum_of_crs(CRS.from_epsg(4979)) == "ellipsoid" and datum_of_crs(CRS.from_epsg(32640)) is None
    n, what = geoid_undulation([53.0], [80.4], "EGM96")
    assert 12 < n[0] < 14 and "EGM96" in what
    n08, why = geoid_undulation([53.0], [80.4], "EGM2008")
    assert n08 is None and "us_nga_egm08_25" in why  # not installed here: never PROJ's zero 'ballpark'
    conv = convert_heights([53.0], [80.4], [100.0], "EGM96", "ellipsoid")
    assert conv.converted and conv.heights[0] == pytest.approx(100.0 + n[0])
    missing = convert_heights([53.0], [80.4], [100.0], "EGM2008", "ellipsoid")
    assert not missing.converted and missing.heights[0] == 100.0 and "not installed" in missing.note
    # a large shift far from any undulation, datums undeclared: a warning without a false geoid claim
    check = check_vertical_shift(-40.0, [53.0], [80.4])
    assert not check.flagged and "not both declared" in check.warnings[0]
    assert not check_vertical_shift(-0.5, [53.0], [80.4]).warnings


def test_points_off_the_dem_raise_no_overlap(hooker):
    far = PointTable(np.array([10.0, 11.0]), np.array([45.0, 46.0]), np.array([100.0, 200.0]), CRS.from_epsg(4326))
    with pytest.raises(NoOverlapError, match="No point falls on the DEM"):
        coregister_to_points(hooker / "HookerFJL_13APR19WV01DEM3_30m.tif", far)


def test_point_table_from_3d_geopackage_points(tmp_path):
    from osgeo import ogr, osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32640)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "gnss.gpkg"))
    layer = ds.CreateLayer("gnss", srs, ogr.wkbPoint25D)
    for x, y, z in ((420000.0, 8910000.0, 55.5), (421000.0, 8911000.0, 66.25)):
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT Z ({x} {y} {z})"))
        layer.CreateFeature(f)
    ds = None
    table = read_point_table(tmp_path / "gnss.gpkg", datum="EGM2008")
    assert table.h.tolist() == [55.5, 66.25] and table.crs.to_epsg() == 32640 and table.datum == "EGM2008"
    lon, lat = table.lonlat()
    assert 50 < lon[0] < 56 and 80 < lat[0] < 81
    with pytest.raises(InputError, match="Unknown vertical datum"):
        read_point_table(tmp_path / "gnss.gpkg", datum="NAVD88")


def test_dem_datum_read_from_its_compound_crs_and_points_converted(hooker, tmp_path):
    """The Hooker DEM made orthometric (EGM96) and labelled so: ellipsoidal points are converted, no trap."""
    dem = rio.read_raster(hooker / "HookerFJL_13APR19WV01DEM3_30m.tif")
    g = dem.grid
    rows, cols = np.mgrid[0:g.height, 0:g.width]
    x, y = g.xy(rows.ravel(), cols.ravel())
    lon, lat = rasterio.warp.transform(g.crs, CRS.from_epsg(4326), x, y)
    n, _ = geoid_undulation(lon, lat, "EGM96")
    compound = rio.RasterGrid(CRS.from_user_input("EPSG:32640+5773"), g.transform, g.width, g.height)
    rio.write_raster(tmp_path / "dem_egm96.tif", (dem.band(1) - n.reshape(g.shape)).astype(np.float32)[None],
                     compound, nodata=-9999.0)
    ell = read_point_table(hooker / "ICESAT_GLAS_subset.shp", "H_ell", datum="ellipsoid")
    r = coregister_to_points(tmp_path / "dem_egm96.tif", ell, method="vertical")
    assert r.datum["dem_datum"] == "EGM96" and "converted ellipsoid -> EGM96" in r.datum["notes"][0]
    assert abs(r.shift_z_m) < 0.2 and not r.warnings
