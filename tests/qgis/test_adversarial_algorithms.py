"""Adversarial inputs through processing.run (issue 12): every algorithm on a truncated GeoTIFF and
on a read-only output folder gives a QgsProcessingException naming the file and the fix, never a
traceback, and leaves no half-written output or temporary file. The numbered cases of the issue
run through Processing too (the core side is tests/core/test_adversarial_inputs.py)."""

import os
import re

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from tests.conftest import ROOT, SAMPLE_DATA

pytestmark = pytest.mark.qgis

DEM = SAMPLE_DATA / "dem"
REF_DEM = DEM / "longyearbyen_reference_lzd_aligned.tif"
DEM_1990 = DEM / "longyearbyen_dem_1990.tif"
B4 = SAMPLE_DATA / "everest_landsat" / "LE71400412000304SGS00_B4.tif"
OUTLINES = SAMPLE_DATA / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg"
SEC = SAMPLE_DATA / "velocity" / "everest_B4_SYNTHETIC_flow_20001115.tif"
VV = SAMPLE_DATA / "sar" / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
ANGLE = SAMPLE_DATA / "sar" / "incidence_angle_synthetic_30_45deg.tif"
SEG = SAMPLE_DATA / "segmentation"
RGB = SEG / "everest_landsat_rgb_heldout.tif"
RGI = SEG / "everest_rgi60_heldout.gpkg"
SAR_SIM = SEG / "columbia_sar_simulated_50m.tif"
TS = sorted((SAMPLE_DATA / "timeseries").glob("kaskawulsh_*.tif"))[:4]


def truncated(src, folder, keep=0.5):
    """A copy of ``src`` cut after ``keep`` of its bytes, as an interrupted download leaves it."""
    data = open(src, "rb").read()
    dst = folder / f"cut_{os.path.basename(src)}"
    dst.write_bytes(data[:int(len(data) * keep)])
    return str(dst)


def cases(inputs, out):
    """(algorithm, parameters) of every algorithm, on ``inputs`` {name: path}, writing into folder ``out``."""
    i = {"dem": str(DEM_1990), "b4": str(B4), "sec": str(SEC), "vv": str(VV), "rgb": str(RGB),
         "sar": str(SAR_SIM), "ts": [str(p) for p in TS], **inputs}
    return {
        "dem_coregistration": {"REFERENCE": str(REF_DEM), "DEM": i["dem"], "METHOD": 1,
                               "OUTPUT": str(out / "aligned.tif"), "DH": str(out / "dh.tif"),
                               "REPORT_HTML": str(out / "report.html")},
        "rasterize_outlines": {"INPUT": i["b4"], "OUTLINES": str(OUTLINES), "OUTPUT": str(out / "mask.tif")},
        "mask_raster": {"INPUT": i["b4"], "OUTLINES": str(OUTLINES), "OUTPUT": str(out / "masked.tif")},
        "glacier_velocity": {"REFERENCE": str(B4), "SECONDARY": i["sec"], "SEARCH": 8, "MAX_CHIP": 32,
                             "OUTPUT": str(out / "velocity.tif")},
        "velocity_timeseries": {"INPUT": i["ts"], "OUTPUT": str(out / "ts.tif")},
        "sar_normalization": {"INPUT": i["vv"], "ANGLE": str(ANGLE), "OUTPUT": str(out / "norm.tif")},
        "segmentation_glacier_outlines": {"INPUT": i["rgb"], "OUTPUT_PROBABILITY": str(out / "p.tif"),
                                          "OUTPUT_OUTLINES": str(out / "o.gpkg")},
        "segmentation_calving_front": {"INPUT": i["sar"], "OUTPUT_PROBABILITY": str(out / "p.tif"),
                                       "OUTPUT_ZONES": str(out / "z.tif"), "OUTPUT_FRONTS": str(out / "f.gpkg")},
        "segmentation_train": {"INPUT": i["rgb"], "OUTLINES": str(RGI), "STEPS": 1, "TILE_SIZE": 64,
                               "BATCH_SIZE": 2, "BASE_CHANNELS": 4, "MODEL_NAME": "tiny",
                               "OUTPUT_MODEL": str(out / "tiny.onnx")},
        "segmentation_evaluate": {"PREDICTED": str(RGI), "REFERENCE": str(RGI), "GRID": i["rgb"]},
    }


TRUNCATED_INPUT = {"dem_coregistration": ("dem", DEM_1990), "rasterize_outlines": ("b4", B4),
                   "mask_raster": ("b4", B4), "glacier_velocity": ("sec", SEC), "velocity_timeseries": ("ts", TS[1]),
                   "sar_normalization": ("vv", VV), "segmentation_glacier_outlines": ("rgb", RGB),
                   "segmentation_calving_front": ("sar", SAR_SIM), "segmentation_train": ("rgb", RGB)}


def leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(".") or "serac-tmp" in n or n.endswith(".tmp"))


@pytest.mark.parametrize("alg", sorted(TRUNCATED_INPUT))
def test_truncated_geotiff_names_the_file_and_the_fix(run_alg, tmp_path, alg):
    if alg == "segmentation_train":
        pytest.importorskip("torch")  # optional: not installed where pip offers only the CUDA build
    from qgis.core import QgsProcessingException

    key, src = TRUNCATED_INPUT[alg]
    cut = truncated(src, tmp_path)
    value = [str(p) for p in TS[:1]] + [cut] + [str(p) for p in TS[2:]] if key == "ts" else cut
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(QgsProcessingException) as info:
        run_alg(alg, cases({key: value}, out)[alg])
    text = str(info.value)
    assert "Traceback" not in text
    assert os.path.basename(cut) in text and re.search(r"truncated|damaged|corrupt", text), text
    assert "download or export the file again" in text or "not a raster" in text or "Fix" in text, text
    assert os.listdir(out) == []  # nothing half-written


def test_evaluate_only_needs_the_grid_of_a_truncated_raster(run_alg, tmp_path):
    """'Evaluate outlines' reads only the georeferencing of its GRID raster: a truncated file still works
    or fails cleanly."""
    from qgis.core import QgsProcessingException

    cut = truncated(RGB, tmp_path)
    try:
        res = run_alg("segmentation_evaluate", cases({"rgb": cut}, tmp_path)["segmentation_evaluate"])
        assert res["IOU"] == pytest.approx(1.0)
    except QgsProcessingException as exc:
        assert os.path.basename(cut) in str(exc)


WRITERS = sorted(set(TRUNCATED_INPUT))


@pytest.mark.parametrize("alg", WRITERS)
def test_read_only_output_folder_names_the_file_and_the_fix(run_alg, readonly_dir, alg):
    if alg == "segmentation_train":
        pytest.importorskip("torch")  # optional: not installed where pip offers only the CUDA build
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException) as info:
        run_alg(alg, cases({}, readonly_dir)[alg])
    text = str(info.value)
    assert "cannot be written" in text and str(readonly_dir) in text, text
    assert "choose an output folder you can write to" in text
    assert os.listdir(readonly_dir) == []


# -- numbered cases of the issue through Processing -----------------------------------------------------------

UTM = CRS.from_epsg(32633)


def _terrain(g, shift=(0.0, 0.0, 0.0)):
    rows, cols = np.mgrid[0:g[3], 0:g[2]]
    x = g[0] + (cols + 0.5) * 20.0 - shift[0]
    y = g[1] - (rows + 0.5) * 20.0 - shift[1]
    return (600 + 250 * np.sin(x / 900.0) * np.cos(y / 700.0) + 90 * np.sin((x + 2 * y) / 420.0)
            + 40 * np.cos((3 * x - y) / 260.0)) + shift[2]


def _write(path, values, g, dtype="float32", nodata=None, scale=None, offset=None):
    with rasterio.open(path, "w", driver="GTiff", width=g[2], height=g[3], count=1, dtype=dtype, crs=UTM,
                       transform=Affine(20.0, 0, g[0], 0, -20.0, g[1]), nodata=nodata) as ds:
        ds.write(np.asarray(values).astype(dtype), 1)
        if scale is not None:
            ds.scales, ds.offsets = [scale], [offset]
    return str(path)


REF_G = (500000.0, 8600000.0, 200, 200)
SHIFT = (7.0, -4.0, 2.5)


@pytest.fixture
def ref_dem(tmp_path):
    return _write(tmp_path / "ref.tif", _terrain(REF_G), REF_G, nodata=-9999.0)


def _coreg(run_alg, ref, dem, out, feedback=None):
    return run_alg("dem_coregistration", {"REFERENCE": ref, "DEM": dem, "OUTPUT": str(out / "a.tif"),
                                          "DH": str(out / "dh.tif"), "REPORT_HTML": str(out / "r.html")},
                   feedback=feedback)


def _assert_shift(res):
    assert res["SHIFT_X_M"] == pytest.approx(-SHIFT[0], abs=0.3)
    assert res["SHIFT_Y_M"] == pytest.approx(-SHIFT[1], abs=0.3)
    assert res["SHIFT_Z_M"] == pytest.approx(-SHIFT[2], abs=0.1)


class Recorder:
    """A QgsProcessingFeedback that keeps the warnings it is given."""

    def __new__(cls):
        from qgis.core import QgsProcessingFeedback

        class _Feedback(QgsProcessingFeedback):
            def __init__(self):
                super().__init__()
                self.warnings = []

            def pushWarning(self, text):  # noqa: N802
                self.warnings.append(text)
                super().pushWarning(text)

        return _Feedback()


def test_1_untagged_partial_dem_through_processing(run_alg, ref_dem, tmp_path):
    g = (500000.0 + 120.0 + 20.0 / 3, 8600000.0, 194, 200)  # 97 % of the reference, a third of a px off
    dem = _write(tmp_path / "dem.tif", _terrain(g, SHIFT), g)
    res = _coreg(run_alg, ref_dem, dem, tmp_path)
    _assert_shift(res)
    from serac.core.raster_io import read_raster

    dh = read_raster(res["DH"]).band(1)
    assert np.isnan(dh[:, :5]).all() and np.nanmin(dh) > -50.0  # no -600 m dh outside the footprint


def test_2_untagged_voids_through_processing_warn_in_the_log(run_alg, ref_dem, tmp_path):
    z = _terrain(REF_G, SHIFT)
    z[40:70, 50:90] = -9999.0
    dem = _write(tmp_path / "voids.tif", z, REF_G)
    feedback = Recorder()
    res = _coreg(run_alg, ref_dem, dem, tmp_path, feedback)
    _assert_shift(res)
    assert any("holds -9999, a void value" in w for w in feedback.warnings), feedback.warnings


def test_3_scale_offset_through_processing(run_alg, ref_dem, tmp_path):
    stored = np.round((_terrain(REF_G, SHIFT) + 500.0) / 0.5)
    dem = _write(tmp_path / "scaled.tif", stored, REF_G, dtype="int16", nodata=-32768, scale=0.5, offset=-500.0)
    _assert_shift(_coreg(run_alg, ref_dem, dem, tmp_path))


def test_8_geographic_raster_mask_reports_ground_km2(run_alg, tmp_path):
    from serac.core.raster_io import read_grid

    g = read_grid(B4)
    geo = tmp_path / "b4_geographic.tif"
    with rasterio.open(B4) as src:
        from rasterio.warp import calculate_default_transform, reproject

        transform, width, height = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height,
                                                               *src.bounds)
        with rasterio.open(geo, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
                           crs="EPSG:4326", transform=transform, nodata=-9999.0) as dst:
            reproject(rasterio.band(src, 1), rasterio.band(dst, 1))
    projected = run_alg("rasterize_outlines", {"INPUT": str(B4), "OUTLINES": str(OUTLINES),
                                               "OUTPUT": str(tmp_path / "m1.tif")})
    geographic = run_alg("rasterize_outlines", {"INPUT": str(geo), "OUTLINES": str(OUTLINES),
                                                "OUTPUT": str(tmp_path / "m2.tif")})
    key = next(k for k in projected if "KM2" in k)
    assert projected[key] > 1.0 and g.crs.is_projected
    assert geographic[key] == pytest.approx(projected[key], rel=0.03)  # km², not square degrees / 1e6


def test_4_geoid_sized_vertical_shift_warns_in_the_log(run_alg, ref_dem, tmp_path):
    from serac.core.dem.datum import _centre_lonlat, geoid_undulation
    from serac.core.raster_io import read_grid

    n, _ = geoid_undulation(*_centre_lonlat(read_grid(ref_dem)))
    if n is None:
        pytest.skip("no EGM96 grid installed for PROJ")
    n = float(n)
    dem = _write(tmp_path / "ellipsoidal.tif", _terrain(REF_G) + n, REF_G, nodata=-9999.0)
    feedback = Recorder()
    res = _coreg(run_alg, ref_dem, dem, tmp_path, feedback)
    assert res["SHIFT_Z_M"] == pytest.approx(-n, abs=0.05)
    assert any("close to the local geoid undulation" in w for w in feedback.warnings), feedback.warnings


def test_4_declared_datums_are_converted_through_processing(run_alg, tmp_path):
    """Reference on EGM96 (compound CRS), DEM to align ellipsoidal (3-D CRS): the shift excludes the undulation
    and the numbers say what was converted; with 'Convert vertical datums' off the undulation stays, with a
    warning."""
    import pyproj

    from serac.core.dem.datum import geoid_undulation
    from serac.core.dem.pair_datum import grid_lonlat
    from serac.core.raster_io import RasterGrid, read_raster

    transform = Affine(20.0, 0, REF_G[0], 0, -20.0, REF_G[1])
    egm96 = RasterGrid(CRS.from_user_input("EPSG:32633+5773"), transform, REF_G[2], REF_G[3])
    rows, cols = np.mgrid[0:REF_G[3], 0:REF_G[2]]
    n, why = geoid_undulation(*(v.ravel() for v in grid_lonlat(egm96, rows, cols)), "EGM96")
    if n is None:
        pytest.skip(f"no EGM96 grid installed for PROJ ({why})")
    n = n.reshape(rows.shape)
    paths = {}
    for name, crs, values in (("ref", egm96.crs, _terrain(REF_G)),
                              ("dem", CRS.from_wkt(pyproj.CRS.from_epsg(32633).to_3d().to_wkt()),
                               _terrain(REF_G, SHIFT) + n)):
        paths[name] = str(tmp_path / f"{name}.tif")
        with rasterio.open(paths[name], "w", driver="GTiff", width=REF_G[2], height=REF_G[3], count=1,
                           dtype="float32", crs=crs, transform=transform, nodata=-9999.0) as ds:
            ds.write(values.astype("float32"), 1)
    res = _coreg(run_alg, paths["ref"], paths["dem"], tmp_path)
    _assert_shift(res)
    assert res["DATUM_OFFSET_MEAN_M"] == pytest.approx(-n.mean(), abs=0.02)
    assert res["DATUM_OFFSET_MIN_M"] <= res["DATUM_OFFSET_MEAN_M"] <= res["DATUM_OFFSET_MAX_M"]
    assert "converted from ellipsoid to EGM96" in res["DATUM"]
    assert abs(np.nanmedian(read_raster(res["DH"]).band(1))) < 0.05
    feedback = Recorder()
    off = run_alg("dem_coregistration", {"REFERENCE": paths["ref"], "DEM": paths["dem"], "CONVERT_DATUMS": False,
                                         "OUTPUT": str(tmp_path / "a2.tif")}, feedback=feedback)
    assert off["SHIFT_Z_M"] == pytest.approx(-SHIFT[2] - n.mean(), abs=0.15) and off["DATUM_OFFSET_MEAN_M"] == 0
    assert any("conversion is turned off" in w for w in feedback.warnings), feedback.warnings


def test_5_little_stable_terrain_warns_in_the_log(run_alg, tmp_path):
    g = (500000.0, 8600000.0, 300, 300)
    ref = _write(tmp_path / "ref.tif", _terrain(g), g, nodata=-9999.0)
    mask = np.ones((300, 300), "uint8")
    mask[:30, :30] = 0
    dem = _write(tmp_path / "dem.tif", _terrain(g, SHIFT) + np.where(mask == 1, -30.0, 0.0), g, nodata=-9999.0)
    mask_path = _write(tmp_path / "mask.tif", mask, g, dtype="uint8", nodata=255)
    feedback = Recorder()
    run_alg("dem_coregistration", {"REFERENCE": ref, "DEM": dem, "UNSTABLE_MASK": mask_path,
                                   "OUTPUT": str(tmp_path / "a.tif"), "REPORT_HTML": str(tmp_path / "r.html")},
            feedback=feedback)
    assert any(re.search(r"Only \d+ stable pixels .*expect an error of about", w) for w in feedback.warnings)


def test_6_sar_values_in_the_wrong_unit_are_refused(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    from serac.core.raster_io import read_grid, write_raster

    with pytest.raises(QgsProcessingException, match="looks like radians.*give it in degrees"):
        run_alg("sar_normalization", {"INPUT": str(VV), "ANGLE": str(ANGLE), "THETA_REF": 0.61,
                                      "OUTPUT": str(tmp_path / "a.tif")})
    g = read_grid(VV)
    beta = tmp_path / "beta_rad.tif"
    write_raster(beta, np.full(g.shape, -0.2 * 57.2958, dtype="float32"), g)
    with pytest.raises(QgsProcessingException, match="not dB per degree.*57.3"):
        run_alg("sar_normalization", {"INPUT": str(VV), "ANGLE": str(ANGLE), "METHOD": 1, "BETA_RASTER": str(beta),
                                      "OUTPUT": str(tmp_path / "b.tif")})
    assert not (tmp_path / "a.tif").exists() and not (tmp_path / "b.tif").exists()


def test_7_sixteen_bit_input_to_the_eight_bit_model_is_refused(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    from serac.core.raster_io import read_raster, write_raster

    r = read_raster(RGB)
    sixteen = tmp_path / "rgb16.tif"
    write_raster(sixteen, (np.nan_to_num(r.data) * 257).astype("uint16"), r.grid, nodata=0)
    with pytest.raises(QgsProcessingException, match="outside the 0 to 255 \\(uint8\\).*rescale"):
        run_alg("segmentation_glacier_outlines", {"INPUT": str(sixteen), "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
                                                  "OUTPUT_OUTLINES": str(tmp_path / "o.gpkg")})
    assert sorted(os.listdir(tmp_path)) == ["rgb16.tif"]


def test_8_evaluating_layers_of_other_areas_and_images_as_dems(run_alg, ref_dem, tmp_path):
    from qgis.core import QgsProcessingException

    far = tmp_path / "far.gpkg"
    _shifted_copy(RGI, far, dx=500_000.0)
    with pytest.raises(QgsProcessingException, match="do not overlap"):
        run_alg("segmentation_evaluate", {"PREDICTED": str(far), "REFERENCE": str(RGI)})
    image = _write(tmp_path / "image.tif", np.clip(_terrain(REF_G) / 4, 0, 255), REF_G, dtype="uint8")
    with pytest.raises(QgsProcessingException, match="8-bit raster.*not elevations"):
        _coreg(run_alg, ref_dem, image, tmp_path)


def test_8_empty_mask_warns_in_the_log(run_alg, tmp_path):
    far = tmp_path / "far.gpkg"
    _shifted_copy(OUTLINES, far, dx=500_000.0)
    feedback = Recorder()
    res = run_alg("rasterize_outlines", {"INPUT": str(B4), "OUTLINES": str(far), "OUTPUT": str(tmp_path / "m.tif")},
                  feedback=feedback)
    assert res["GLACIER_AREA_KM2"] == 0.0
    assert any("cover no pixel" in w for w in feedback.warnings), feedback.warnings


def _shifted_copy(src, dst, dx):
    """A copy of the vector file ``src`` moved ``dx`` (CRS units) east."""
    from osgeo import ogr

    ds = ogr.GetDriverByName("GPKG").CopyDataSource(ogr.Open(str(src)), str(dst))
    layer = ds.GetLayer(0)
    for feature in layer:
        geom = feature.GetGeometryRef()
        for i in range(geom.GetGeometryCount()) if geom.GetGeometryCount() else []:
            part = geom.GetGeometryRef(i)
            for j in range(part.GetGeometryCount()) if part.GetGeometryCount() else [0]:
                ring = part.GetGeometryRef(j) if part.GetGeometryCount() else part
                for k in range(ring.GetPointCount()):
                    x, y = ring.GetX(k), ring.GetY(k)
                    ring.SetPoint_2D(k, x + dx, y)
        feature.SetGeometry(geom)
        layer.SetFeature(feature)
    ds = None


def test_read_only_check_runs_before_the_work(run_alg, readonly_dir):
    """The output check comes first: a long run is not wasted on an output that cannot be written."""
    pytest.importorskip("torch")  # the long run here is training
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="cannot be written"):
        run_alg("segmentation_train", cases({}, readonly_dir)["segmentation_train"] | {"STEPS": 10_000})


def test_root_is_the_plugin_folder():
    assert (ROOT / "metadata.txt").exists()
