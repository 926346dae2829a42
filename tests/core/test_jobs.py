"""Every capability through the same call, outside QGIS: settings from a JSON file, ``run_job(name, inputs,
outputs, settings_file)``, on the bundled sample data (resources/sample_data) or small synthetic data."""

import json
import math
import os
from dataclasses import FrozenInstanceError, asdict

import numpy as np
import pytest
import rasterio

from serac.core import raster_io as rio
from serac.core.errors import InputError, InvalidSetting
from serac.core.jobs import JOBS, get_job, run_job
from serac.core.jobs.base import RecordingFeedback, thread_limits
from serac.core.threads import current_threads

S = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "sample_data")
SAMPLE = {k: os.path.abspath(os.path.join(S, v)) for k, v in {
    "b4": "everest_landsat/LE71400412000304SGS00_B4.tif",
    "rgi": "everest_landsat/15_rgi60_glacier_outlines.gpkg",
    "b4_moved": "velocity/everest_B4_SYNTHETIC_flow_20001115.tif",
    "sar": "sar/S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif",
    "sar_angle": "sar/incidence_angle_synthetic_30_45deg.tif",
    "sar_annotation": "sar/s1b-iw-grd-vv-20210401t052623-20210401t052648-026269-032297-001.xml",
    "dem_ref": "dem/longyearbyen_reference_lzd_aligned.tif",
    "dem": "dem/longyearbyen_dem_1990.tif",
    "dem_outlines": "dem/longyearbyen_glacier_outlines_1990.gpkg",
    "dem_points": "dem/longyearbyen_points_SYNTHETIC.gpkg",
    "rgb": "segmentation/everest_landsat_rgb_heldout.tif",
    "rgb_rgi": "segmentation/everest_rgi60_heldout.gpkg",
    "columbia": "segmentation/columbia_sar_simulated_50m.tif",
    "columbia_front": "segmentation/columbia_front_reference.gpkg",
}.items()}
TIMESERIES = sorted(os.path.abspath(os.path.join(S, "timeseries", f)) for f in os.listdir(os.path.join(S, "timeseries"))
                    if f.endswith(".tif"))


def settings_file(tmp_path, name, values):
    """Write ``values`` as the job's JSON settings file (as a batch manifest or the command line would)."""
    path = tmp_path / f"{name}.settings.json"
    path.write_text(json.dumps(values))
    return str(path)


def run(tmp_path, name, inputs, outputs, settings=None):
    """Run a job from a JSON settings file; check it wrote its outputs and every declared number."""
    job = get_job(name)
    feedback = RecordingFeedback()
    outputs = {k: str(tmp_path / v) for k, v in outputs.items()}
    result = run_job(name, inputs, outputs, settings_file(tmp_path, name, settings or {}), feedback=feedback,
                     threads=1)
    for key, path in outputs.items():
        assert result.outputs[key] == path and os.path.getsize(path) > 0, key
        if path.endswith(".tif"):  # one nodata convention: NaN in float outputs, an integer (or none) in integer ones
            with rasterio.open(path) as ds:
                float_output = np.dtype(ds.dtypes[0]).kind == "f"
                assert (np.isnan(ds.nodata) if float_output else ds.nodata is None or ds.nodata == int(ds.nodata)), \
                    (key, ds.dtypes[0], ds.nodata)
    assert set(job.numbers) | set(job.texts) <= set(result.numbers)
    json.loads(result.to_json())  # the result is JSON-serialisable
    assert feedback.fraction == pytest.approx(1.0) or feedback.messages
    return result


def finite(result, *names):
    return all(math.isfinite(result.numbers[n]) for n in names)


# -- the registry and the settings ---------------------------------------------------------------------------------
def test_every_job_has_settings_that_round_trip_through_json():
    assert len(JOBS) == 17
    for name in JOBS:
        job = get_job(name)
        assert job.name == name
        defaults = job.settings()
        again = job.settings.from_json(defaults.to_json())
        assert again == defaults
        for spec in job.settings.fields():
            assert spec.label, (name, spec.name)
            if spec.choices:
                assert spec.default in spec.values
        with pytest.raises(FrozenInstanceError):
            setattr(defaults, job.settings.fields()[0].name, None)


def test_settings_are_checked_with_typed_errors():
    sar = get_job("sar_normalization").settings
    with pytest.raises(InputError, match="outside its range"):
        sar(theta_ref=95.0)
    with pytest.raises(InputError, match="not one of its choices"):
        sar(method="magic")
    with pytest.raises(InputError, match="Unknown setting"):
        sar.from_dict({"theta": 35})
    with pytest.raises(InputError, match="not valid JSON"):
        sar.from_json("{bad")
    assert issubclass(InvalidSetting, ValueError) and issubclass(InvalidSetting, InputError)
    assert sar.field_spec("theta_ref").unit == "deg"
    assert get_job("glacier_velocity").settings.field_spec("max_chip").advanced


def test_an_optional_setting_left_unset_takes_its_default():
    """None (a field left empty, a script or an older saved model without it) is the default, as the CLI gives;
    only a field whose default is None (decided automatically) stays None."""
    front = get_job("segmentation_calving_front").settings
    unset = front.from_dict({"bridge_m": None, "edge_km2": None, "short_fraction": None, "drop_bridged_only": None,
                             "uncertainty": None, "overlap": None, "min_ocean_km2": None})
    assert (unset.bridge_m, unset.edge_km2, unset.uncertainty) == (front().bridge_m, front().edge_km2, False)
    assert (unset.short_fraction, unset.drop_bridged_only) == (front().short_fraction, front().drop_bridged_only)
    assert unset.bridge_m == 300.0 and unset.edge_km2 == 1.0
    assert unset.short_fraction == 0.25 and unset.drop_bridged_only is True and unset.min_ocean_km2 == 1.0
    assert unset.overlap is None and front().overlap is None


def test_thread_limits_are_per_call_and_restored():
    from threadpoolctl import threadpool_info

    before = [i["num_threads"] for i in threadpool_info()]
    import rasterio.env

    from serac.core.threads import gdal_threads

    with thread_limits(1):
        assert current_threads() == 1 and gdal_threads() == "1"
        assert all(i["num_threads"] == 1 for i in threadpool_info())
        assert rasterio.env.getenv()["GDAL_NUM_THREADS"] == "1"
    assert current_threads() is None and gdal_threads() == "ALL_CPUS"
    assert [i["num_threads"] for i in threadpool_info()] == before


# -- each capability -----------------------------------------------------------------------------------------------
def test_rasterize_outlines_and_mask_raster(tmp_path):
    res = run(tmp_path, "rasterize_outlines", {"input": SAMPLE["b4"], "outlines": SAMPLE["rgi"]},
              {"output": "mask.tif"}, {"all_touched": False})
    assert 0.3 < res.numbers["glacier_fraction"] < 0.8 and res.numbers["glacier_area_km2"] > 100
    mask = rio.read_raster(res.outputs["output"]).data[0]
    assert mask.mean() == pytest.approx(res.numbers["glacier_fraction"])
    res2 = run(tmp_path, "mask_raster", {"input": SAMPLE["b4"], "outlines": SAMPLE["rgi"]},
               {"output": "masked.tif"}, {"keep": "outside"})
    masked = rio.read_raster(res2.outputs["output"]).data[0]
    assert np.all(np.isnan(masked[mask == 1])) and res2.numbers["glacier_area_km2"] == pytest.approx(
        res.numbers["glacier_area_km2"])


def test_sar_normalization_cosine_and_linear(tmp_path):
    res = run(tmp_path, "sar_normalization", {"input": SAMPLE["sar"], "angle": SAMPLE["sar_angle"]},
              {"output": "cos.tif", "angle_output": "angle.tif"}, {"method": "cosine", "theta_ref": 35.0})
    assert abs(res.numbers["slope_after"]) < abs(res.numbers["slope_before"])
    assert res.report["method"] == "cosine" and "dB" in res.numbers["input_unit"]
    lin = run(tmp_path, "sar_normalization", {"input": SAMPLE["sar"], "angle": SAMPLE["sar_angle"]},
              {"output": "lin.tif"}, {"method": "linear", "beta": -0.2})
    assert math.isfinite(lin.numbers["slope_after"]) and math.isnan(lin.numbers["beta_r2"])


@pytest.fixture(scope="module")
def sar_acquisitions(tmp_path_factory):
    """The sample scene seen at five angle ranges with a known beta (dB/deg) and speckle, plus a DEM."""
    from serac.core.sar import synthetic

    folder = tmp_path_factory.mktemp("sar")
    r = rio.read_raster(SAMPLE["sar"])
    truth, grid = r.data[0], r.grid
    files = {"dem": str(folder / "dem.tif")}
    rio.write_raster(files["dem"], synthetic.smooth_elevation(grid.shape, 0.0, 2000.0, seed=1), grid)
    for k, (near, far) in enumerate([(33, 40), (44, 37), (30, 38), (41, 45), (36, 31)]):
        theta = synthetic.angle_ramp(grid.shape, near, far)
        files[f"db{k}"], files[f"theta{k}"] = str(folder / f"db{k}.tif"), str(folder / f"theta{k}.tif")
        rio.write_raster(files[f"db{k}"], synthetic.add_linear_effect(truth, theta, -0.2)
                         + synthetic.speckle_db(grid.shape, 18, k), grid)
        rio.write_raster(files[f"theta{k}"], theta, grid)
    return files


def test_sar_normalization_beta_from_an_asc_desc_pair(tmp_path, sar_acquisitions):
    f = sar_acquisitions
    res = run(tmp_path, "sar_normalization",
              {"input": f["db0"], "angle": f["theta0"], "pair_other": f["db1"], "pair_other_angle": f["theta1"],
               "dem": f["dem"]}, {"output": "pair.tif", "beta_output": "beta.tif"},
              {"method": "pair", "window": 16, "estimator": "median"})
    assert finite(res, "beta_intercept", "beta_r2", "beta_rmse")
    beta = rio.read_raster(res.outputs["beta_output"]).data[0]
    assert np.nanmedian(beta) == pytest.approx(-0.2, abs=0.03)
    with pytest.raises(InputError, match="other acquisition"):
        run_job("sar_normalization", {"input": f["db0"], "angle": f["theta0"]}, {"output": str(tmp_path / "x.tif")},
                {"method": "pair"})
    with pytest.raises(InputError, match="only one"):
        run_job("sar_normalization", {"input": f["db0"], "angle": f["theta0"], "annotation": f["theta0"]},
                {"output": str(tmp_path / "y.tif")})
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "y.tif").exists()


def test_sar_normalization_beta_per_pixel_from_a_time_series(tmp_path, sar_acquisitions):
    f = sar_acquisitions
    res = run(tmp_path, "sar_normalization",
              {"input": f["db2"], "angle": f["theta2"], "stack": [f[f"db{k}"] for k in range(5)],
               "stack_angles": [f[f"theta{k}"] for k in range(5)]}, {"output": "ts.tif"},
              {"method": "timeseries"})
    assert res.numbers["beta_median"] == pytest.approx(-0.2, abs=0.02) and finite(res, "beta_se_median")
    # the angle effect (-0.2 dB/deg) is removed; what remains is the scene's own correlation with the angle ramp
    assert res.numbers["slope_after"] - res.numbers["slope_before"] == pytest.approx(0.2, abs=0.03)


def test_sar_melt_and_local_incidence(tmp_path):
    """Six dates of the sample scene (three in December-February), the left half 6 dB lower on two spring dates."""
    from affine import Affine
    from rasterio.crs import CRS

    from serac.core.sar import synthetic

    r = rio.read_raster(SAMPLE["sar"])
    paths = []
    for k, date in enumerate(["20201215", "20210108", "20210201", "20210410", "20210504", "20210901"]):
        data = r.data[0] + synthetic.speckle_db(r.grid.shape, 50, seed=k)
        if date in ("20210410", "20210504"):
            data[:, : r.grid.width // 2] -= 6.0
        paths.append(str(tmp_path / f"vv_{date}.tif"))
        rio.write_raster(paths[-1], data, r.grid)
    res = run(tmp_path, "sar_melt", {"vv": paths, "angle": SAMPLE["sar_angle"]},
              {"wet_snow": "wet.tif", "melt_onset": "onset.tif", "melt_end": "end.tif", "wet_count": "n.tif",
               "local_angle": "lia.tif", "layover_shadow": "mask.tif"}, {"rule": "single"})
    assert res.numbers["n_reference_dates"] == 3 and res.numbers["rule_used"].startswith("single-pol")
    count = rio.read_raster(res.outputs["wet_count"]).data[0]
    half = r.grid.width // 2
    assert np.nanmean(count[:, :half] == 2) > 0.95 and np.nanmean(count[:, half:] == 0) > 0.95
    assert res.numbers["band_dates"].split(",")[3] == "2021-04-10"
    grid = rio.RasterGrid(CRS.from_epsg(32632), Affine(30.0, 0, 560_000, 0, -30.0, 5_230_000), 200, 150)
    dem = str(tmp_path / "dem.tif")
    rio.write_raster(dem, synthetic.ridge_dem(grid.shape, 30.0), grid)
    lia = run(tmp_path, "sar_local_incidence", {"dem": dem, "annotation": SAMPLE["sar_annotation"]},
              {"local_angle": "lia_alone.tif", "layover_shadow": "mask_alone.tif"}, {})
    assert 30 < lia.numbers["median_local_angle"] < 50 and 0 < lia.numbers["layover_fraction"] < 0.1


def test_dem_coregistration(tmp_path):
    res = run(tmp_path, "dem_coregistration",
              {"reference": SAMPLE["dem_ref"], "dem": SAMPLE["dem"], "outlines": SAMPLE["dem_outlines"]},
              {"output": "aligned.tif", "dh": "dh.tif", "report_html": "report.html"}, {"deramp_order": 1})
    assert res.report["method"] == "nuth_kaab+deramp1"
    assert res.numbers["nmad_after_m"] < res.numbers["nmad_before_m"] and abs(res.numbers["median_after_m"]) < 0.1
    assert res.report["display_ranges"]["dh"][0] == -res.report["display_ranges"]["dh"][1]


def test_dem_points_coregistration_and_the_geoid_trap(tmp_path):
    """The bundled points: h_orto (the reference sampled) gives the LZD shift; h_ell (+ EGM96 N) the geoid trap."""
    from serac.core.vector_io import read_geometries

    inputs = {"dem": SAMPLE["dem"], "points": SAMPLE["dem_points"], "outlines": SAMPLE["dem_outlines"]}
    outputs = {"output": "aligned.tif", "dh_points": "dh_points.gpkg", "report_html": "report.html"}
    res = run(tmp_path, "dem_points_coregistration", inputs, outputs, {"elevation_field": "h_orto", "deramp_order": 1})
    n = res.numbers
    assert 10.5 < n["shift_x_m"] < 11.3 and 1.2 < n["shift_y_m"] < 2.2 and -1.2 < n["shift_z_m"] < -0.5
    assert n["nmad_before_m"] > 3.0 and n["nmad_after_m"] < 0.3 and n["count_after"] > 1000
    assert n["geoid_trap"] == 0 and "no datum warning" in n["datum"]
    assert len(read_geometries(res.outputs["dh_points"])) == n["points_on_dem"]
    assert "Vertical datums" in open(res.outputs["report_html"], encoding="utf-8").read()
    lo, hi = res.report["display_ranges"]["dh_points"]
    assert lo == -hi > -5
    trap = RecordingFeedback()
    bad = run_job("dem_points_coregistration", inputs, {}, {"elevation_field": "h_ell", "method": "vertical"},
                  feedback=trap)
    assert bad.numbers["shift_z_m"] == pytest.approx(n["shift_z_m"] + 32.1, abs=1.0)
    if any("EGM96" in k for k in bad.report["datum"]["undulations_m"]):  # PROJ's EGM96 grid installed
        assert bad.numbers["geoid_trap"] == 1 and any("geoid undulation" in w for w in trap.warnings)
        declared = run_job("dem_points_coregistration", inputs, {},
                           {"elevation_field": "h_ell", "method": "vertical", "points_datum": "ellipsoid",
                            "dem_datum": "EGM96"})
        assert declared.numbers["geoid_trap"] == 0 and "converted ellipsoid -> EGM96" in declared.numbers["datum"]
    else:
        assert any("not both declared" in w for w in trap.warnings)
    with pytest.raises(InputError, match="given twice"):
        run_job("dem_points_coregistration", dict(inputs, atl06="granule.h5"), {})
    with pytest.raises(InputError, match="no field 'height'"):
        run_job("dem_points_coregistration", inputs, {}, {"elevation_field": "height"})


def test_dem_change_uncertainty_per_glacier(tmp_path, glacier_thinning):
    inputs = {k: glacier_thinning[k] for k in ("reference", "dem", "outlines")}
    res = run(tmp_path, "dem_change_uncertainty", inputs, {"output": "glaciers.gpkg", "error_map": "sigma.tif"},
              {"years": 12.0})
    n = res.numbers
    assert n["n_glaciers"] == 18 and n["mean_dh_m"] == pytest.approx(-6.0, abs=0.2)
    assert n["stable_nmad_m"] == pytest.approx(0.5 * 0.6745 * 1.4826, rel=0.3)
    glaciers = res.report["glaciers"]
    big = max(glaciers, key=lambda g: g["area_km2"])
    assert big["coverage"] == pytest.approx(1.0) and big["mean_dh_m"] == pytest.approx(-6.0, abs=0.3)
    assert 0 < big["sigma_mean_dh_m"] < 0.5 and big["volume_change_m3"] == pytest.approx(
        big["mean_dh_m"] * big["area_km2"] * 1e6, rel=1e-6)
    assert big["mass_change_mwe"] == pytest.approx(big["mean_dh_m"] * 0.85)
    assert big["dhdt_m_yr"] == pytest.approx(big["mean_dh_m"] / 12.0)
    grid = rio.read_grid(SAMPLE["dem"])
    assert sum(g["area_km2"] for g in glaciers) == pytest.approx(
        glacier_thinning["inside"].sum() * grid.res[0] * grid.res[1] / 1e6, rel=0.01)
    assert res.report["heteroscedasticity"] and res.report["model"]["components"]
    sigma = rio.read_raster(res.outputs["error_map"])
    assert sigma.grid.matches(grid) and np.nanmin(sigma.band(1)) > 0
    assert len(rio_features(res.outputs["output"])) == 18
    with pytest.raises(InputError, match="dh map"):
        run_job("dem_change_uncertainty", {"reference": SAMPLE["dem"], "outlines": SAMPLE["dem_outlines"]}, {})


def rio_features(path):
    from serac.core.vector_io import read_geometries

    return read_geometries(path)


def test_dem_change_rate_with_dates_from_names(tmp_path):
    dem = rio.read_raster(SAMPLE["dem"])
    z = dem.band(1)
    paths = []
    for date, year in (("20100815", 2010.62), ("20120815", 2012.62), ("20150815", 2015.62)):
        path = tmp_path / f"dem_{date}.tif"
        later = z - 1.5 * (year - 2010.62)
        if date == "20120815":
            later = later + np.where(np.arange(z.shape[1]) < 50, 30.0, 0.0)[None, :]  # a blunder strip
        rio.write_raster(path, later.astype(np.float32)[None], dem.grid)
        paths.append(str(path))
    res = run(tmp_path, "dem_change_rate", {"dems": paths}, {"output": "rate.tif", "error": "rate_error.tif"},
              {"errors": "0.5; 0.5; 0.5", "min_count": 3})
    assert res.numbers["n_dems"] == 3 and res.numbers["median_rate_m_yr"] == pytest.approx(-1.5, abs=1e-3)
    assert res.report["dates"] == ["2010-08-15", "2012-08-15", "2015-08-15"]
    rate = rio.read_raster(res.outputs["output"]).band(1)
    assert np.nanmedian(rate[:, :50]) == pytest.approx(-1.5, abs=0.01)  # Theil-Sen: the blunder does not pull it
    assert res.numbers["median_error_m_yr"] > 0
    with pytest.raises(InputError, match="2 dates were given for 3 DEMs"):
        run_job("dem_change_rate", {"dems": paths}, {"output": str(tmp_path / "x.tif")},
                {"dates": "2010-01-01;2011-01-01"})


def test_glacier_velocity_and_arrows(tmp_path):
    res = run(tmp_path, "glacier_velocity",
              {"reference": SAMPLE["b4"], "secondary": SAMPLE["b4_moved"], "outlines": SAMPLE["rgi"]},
              {"output": "velocity.tif"}, {"chip": 32, "search": 8, "spacing": 16, "arrow_step": 3})
    assert res.numbers["interval_days"] == 16 and res.numbers["valid_fraction"] > 0.5
    arrows, crs, kind = res.features["arrows"]
    assert kind == "Point" and len(arrows) > 10 and set(arrows[0]["properties"]) == {"speed", "direction", "vx",
                                                                                        "vy", "ncc"}
    with pytest.raises(InputError, match="prior velocity"):
        run_job("glacier_velocity", {"reference": SAMPLE["b4"], "secondary": SAMPLE["b4_moved"],
                                     "prior_vx": SAMPLE["b4"]}, {"output": str(tmp_path / "v.tif")})


def test_velocity_time_series(tmp_path):
    res = run(tmp_path, "velocity_timeseries", {"input": TIMESERIES},
              {"output": "series.tif", "diagnostics": "diag.tif", "point_csv": "point.csv"},
              {"step_days": 30, "point": [609700.0, 6736700.0]})
    assert res.numbers["n_pairs"] == len(TIMESERIES) and res.numbers["n_steps"] > 5
    assert res.report["point"]["pixel"] and len(open(res.outputs["point_csv"]).read().splitlines()) == \
        res.numbers["n_steps"] + 1
    with pytest.raises(InputError, match="date pairs were given for"):
        run_job("velocity_timeseries", {"input": TIMESERIES[:3]}, {"output": str(tmp_path / "x.tif")},
                {"dates": "2018-01-01,2018-02-01"})


def test_glacier_outlines_and_their_evaluation(tmp_path):
    res = run(tmp_path, "segmentation_glacier_outlines", {"input": SAMPLE["rgb"]},
              {"output_probability": "prob.tif", "output_outlines": "outlines.gpkg"}, {"backend": "onnxruntime"})
    assert res.numbers["n_outlines"] > 0 and res.numbers["backend_used"].startswith("onnxruntime")
    ev = run(tmp_path, "segmentation_evaluate",
             {"predicted": res.outputs["output_outlines"], "reference": SAMPLE["rgb_rgi"], "grid": SAMPLE["rgb"]},
             {}, {})
    assert ev.numbers["kind"] == "polygons" and 0.6 < ev.numbers["iou"] < 0.75 and math.isnan(ev.numbers["mde_m"])
    nothing_found = run_job("segmentation_evaluate", {"predicted": [], "reference": SAMPLE["rgb_rgi"],
                                                      "grid": SAMPLE["rgb"]}, {})
    assert nothing_found.numbers["iou"] == 0 and nothing_found.numbers["recall"] == 0
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    with pytest.raises(InputError, match="different geometry types"):
        run_job("segmentation_evaluate", {"predicted": [line], "reference": SAMPLE["rgb_rgi"], "grid": SAMPLE["rgb"]},
                {})


def test_calving_front_and_its_evaluation(tmp_path):
    res = run(tmp_path, "segmentation_calving_front", {"input": SAMPLE["columbia"]},
              {"output_probability": "prob.tif", "output_zones": "zones.tif", "output_fronts": "fronts.gpkg"},
              {"min_length_m": 750.0, "clean": True})
    assert res.numbers["n_fronts"] > 0 and res.numbers["front_length_km"] > 1
    ev = run(tmp_path, "segmentation_evaluate",
             {"predicted": res.outputs["output_fronts"], "reference": SAMPLE["columbia_front"],
              "grid": SAMPLE["columbia"]}, {}, {"resolution": 50.0})
    assert ev.numbers["kind"] == "lines" and 0 < ev.numbers["mde_m"] < 1000


def test_train_a_few_steps_without_changing_its_config(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    res = run(tmp_path, "segmentation_train", {"input": SAMPLE["rgb"], "outlines": SAMPLE["rgb_rgi"]},
              {"output_model": "tiny.onnx"},
              {"holdout_side": "bottom", "holdout_fraction": 0.3, "steps": 2, "tile_size": 64, "batch_size": 2,
               "base_channels": 4, "model_name": "tiny"})
    assert 0 <= res.numbers["iou"] <= 1 and os.path.exists(res.outputs["training_log"])

    from serac.models.train import TrainConfig, train

    config = TrainConfig(rasters=[(SAMPLE["rgb"], None)], labels=SAMPLE["rgb_rgi"], output=str(tmp_path / "t.onnx"),
                         holdout="bottom:0.3", steps=1, tile_size=64, batch_size=2, threads=1,
                         init_model=res.outputs["output_model"], classes=["background", "ice"])
    before = asdict(config)
    train(config)
    assert asdict(config) == before


def test_the_core_imports_neither_qgis_nor_models():
    import ast
    from pathlib import Path

    core = Path(__file__).resolve().parents[2] / "core"
    for path in core.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            else:
                continue
            for name in names:
                assert not name.split(".")[0] == "qgis", (path, name)
                assert "models" not in name.lstrip(".").split(".")[:1] or node.level == 0, (path, name)


def test_fracture_map_and_training_on_its_lines(tmp_path):
    """Fracture map of the Landsat B4 sample (30 m), then a fracture model trained on its lines (buffered)."""
    res = run(tmp_path, "fracture_map", {"input": SAMPLE["b4"], "outlines": SAMPLE["rgi"]},
              {"output_response": "fr.tif", "output_density": "fd.tif", "output_orientation": "fo.tif",
               "output_lines": "lines.gpkg"},
              {"min_wavelength_m": 90.0, "max_wavelength_m": 600.0, "window_m": 1500.0, "block": 512})
    assert res.numbers["n_lines"] > 0 and 0 <= res.numbers["dominant_orientation_deg"] < 180
    assert finite(res, "total_length_km", "fracture_fraction", "mean_density")
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from serac.core.vector_io import read_geometries
    from serac.models.datasets import burn_labels

    grid = rio.read_grid(SAMPLE["b4"])
    geoms = read_geometries(res.outputs["output_lines"], grid.crs)
    narrow, wide = burn_labels(geoms, grid), burn_labels(geoms, grid, line_width_m=150.0)
    assert narrow.sum() > 0 and wide.sum() > 2 * narrow.sum() and (wide >= narrow).all()
    trained = run(tmp_path, "segmentation_train", {"input": SAMPLE["b4"], "outlines": res.outputs["output_lines"]},
                  {"output_model": "fractures_tiny.onnx"},
                  {"holdout_side": "bottom", "holdout_fraction": 0.3, "steps": 2, "tile_size": 64, "batch_size": 2,
                   "base_channels": 4, "model_name": "fractures_tiny", "line_width_m": 90.0})
    from serac.core.segmentation.runtime import read_metadata

    meta = read_metadata(trained.outputs["output_model"])
    assert meta.task == "fractures" and list(meta.classes) == ["background", "fracture"]
    assert "lines burnt 90 m wide" in meta.training["labels"]
