"""Wet-snow and melt detection (issue 18): the formulas against hand computations, the local incidence angle against
hand geometry, detection on stacks built from real Sentinel-1 backscatter and real annotation geometry against
their known truth, and the bad inputs."""

import glob
import json
import os

import numpy as np
import pytest
import rasterio

from serac.core import raster_io as rio
from serac.core.errors import Cancelled, CRSError, InputError
from serac.core.jobs import run_job
from serac.core.jobs.base import RecordingFeedback
from serac.core.sar import local_incidence as li
from serac.core.sar import melt, synthetic
from serac.core.sar.stack import describe_bands, open_stack, pass_from_name, relative_orbit_from_name

PYROSAR = "sar/pyrosar/S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
DATES = np.arange(np.datetime64("2020-11-03"), np.datetime64("2021-10-31"), 12)  # 31 dates, 12-day revisit


# -- formulas against hand computation -----------------------------------------------------------------------


def test_weight_w_at_hand_computed_angles():
    # W = 1 below 20 deg; 0.5 (1 + (45 - theta) / 25) between; 0.5 above 45 deg
    w = melt.weight(np.array([10.0, 20.0, 32.5, 45.0, 60.0, np.nan]))
    assert w[:5] == pytest.approx([1.0, 1.0, 0.75, 0.5, 0.5], abs=1e-6)
    assert np.isnan(w[5])
    assert melt.weight(np.array([25.0]))[0] == pytest.approx(0.5 * (1 + 20 / 25))  # 0.9
    with pytest.raises(InputError, match="theta1 < theta2"):
        melt.weight([30.0], theta1=45.0, theta2=20.0)


def test_combined_ratio_and_thresholds_by_hand():
    r_vh = np.array([-4.0, -4.0, -3.0, -3.0, -1.0], np.float32)
    r_vv = np.array([-1.0, -1.0, 0.0, 0.0, -2.5], np.float32)
    theta = np.array([32.5, 60.0, 45.0, 10.0, 20.0], np.float32)
    rc = melt.combined_ratio(r_vh, r_vv, melt.weight(theta))
    # 0.75*-4 + 0.25*-1; 0.5*-4 + 0.5*-1; 0.5*-3 + 0.5*0; 1*-3; 1*-1
    assert rc == pytest.approx([-3.25, -2.5, -1.5, -3.0, -1.0], abs=1e-6)
    # classification of one date against a one-date reference of 0 dB: ratio = value
    zeros = np.zeros((1, 1, 5), np.float32)
    vv = np.concatenate([zeros, r_vv[None, None]])
    vh = np.concatenate([zeros, r_vh[None, None]])
    classes, ratio = melt.classify(vv, vh, [0], theta[None])
    assert classes[1, 0].tolist() == [1, 1, 0, 1, 0]  # wet where R_C < -2 dB
    assert ratio[1, 0] == pytest.approx(rc, abs=1e-5)
    single, _ = melt.classify(np.array([[[0.0, 0.0]], [[-3.1, -2.9]]], np.float32), None, [0])
    assert single[1, 0].tolist() == [1, 0]  # single-pol: wet where R < -3 dB
    masked, _ = melt.classify(vv, vh, [0], theta[None], mask=np.array([[True, False, False, False, False]]))
    assert masked[1, 0, 0] == melt.NOT_CLASSIFIED


def test_dry_reference_mean_of_power_and_median():
    values = np.array([[[0.0]], [[-10.0]], [[np.nan]]], np.float32)
    assert melt.dry_reference(values)[0, 0] == pytest.approx(10 * np.log10(0.55), abs=1e-5)  # -2.596 dB
    assert melt.dry_reference(np.array([[[-1.0]], [[-3.0]], [[-20.0]]], np.float32), "median")[0, 0] == -3.0
    assert np.isnan(melt.dry_reference(np.full((2, 1, 1), np.nan, np.float32))[0, 0])


def test_melt_timing_onset_end_count():
    series = np.array([0, 1, 0, 1, 1, 1, 0, 1, 0], np.uint8)[:, None, None]
    days = np.arange(9) * 12 + 100
    onset, end, count = melt.melt_timing(series, days)
    assert (onset[0, 0], end[0, 0], count[0, 0]) == (112, 184, 5)
    onset, end, _ = melt.melt_timing(series, days, min_run=2)
    assert (onset[0, 0], end[0, 0]) == (136, 160)
    never = np.full((9, 1, 1), melt.NOT_CLASSIFIED, np.uint8)
    assert all(np.isnan(v[0, 0]) for v in melt.melt_timing(never, days))
    dry = np.zeros((9, 1, 1), np.uint8)
    onset, end, count = melt.melt_timing(dry, days)
    assert np.isnan(onset[0, 0]) and np.isnan(end[0, 0]) and count[0, 0] == 0


def test_day_numbers_continue_across_the_new_year():
    days = melt.day_numbers(np.array(["2020-12-30", "2021-01-02", "2021-03-01"], dtype="datetime64[D]"))
    assert days.tolist() == [365, 368, 366 + 31 + 28 + 1]  # 2020 is a leap year


def test_reference_window_and_default_winter_months():
    dates = np.array(["2020-11-03", "2020-12-21", "2021-01-14", "2021-07-01"], dtype="datetime64[D]")
    assert melt.reference_indexes(dates, "2020-12-01", "2021-02-28").tolist() == [1, 2]
    assert melt.reference_indexes(dates, months=melt.winter_months(46.0)).tolist() == [1, 2]
    assert melt.reference_indexes(dates, months=melt.winter_months(-70.0)).tolist() == [3]
    with pytest.raises(InputError, match="No acquisition lies in the dry-snow reference window.*2020-11-03"):
        melt.reference_indexes(dates, "2019-12-01", "2020-02-28")


# -- local incidence angle against hand geometry ------------------------------------------------------------


def test_local_incidence_by_hand():
    # range direction east (u = (1, 0)): a slope rising eastwards faces the sensor (west of the pixel)
    t10, t45, t55 = (np.tan(np.radians(a)) for a in (10, 45, 55))
    theta, slope = li.local_incidence(40.0, 1.0, 0.0, np.array([0.0, t10, -t10, t45, -t55]), 0.0)
    assert theta == pytest.approx([40.0, 30.0, 50.0, 5.0, 95.0], abs=1e-4)
    assert slope == pytest.approx([0.0, 10.0, -10.0, 45.0, -55.0], abs=1e-4)
    codes = li.layover_shadow(40.0, slope, theta, (15.0, 75.0))
    assert codes.tolist() == [li.VALID, li.VALID, li.VALID, li.LAYOVER, li.SHADOW]
    # a slope b across the look direction: cos(theta_loc) = cos(theta_e) cos(b)
    side, _ = li.local_incidence(40.0, 1.0, 0.0, 0.0, np.tan(np.radians(30.0)))
    assert side == pytest.approx(np.degrees(np.arccos(np.cos(np.radians(40)) * np.cos(np.radians(30)))), abs=1e-4)
    out = li.layover_shadow(40.0, np.array([5.0]), np.array([80.0]), (15.0, 75.0))
    assert out.tolist() == [li.OUT_OF_RANGE]


@pytest.fixture(scope="module")
def annotation(shared_data):
    return glob.glob(str(shared_data / "sar" / "s1_annotation" / "S1B_IW_GRDH*" / "*iw-grd-vv*.xml"))[0]


def test_local_incidence_on_flat_ground_is_the_annotation_angle(tmp_path, annotation):
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window

    from serac.core.sar.sources import AnnotationAngleSource, RasterSource

    grid = rio.RasterGrid(CRS.from_epsg(32632), Affine(100.0, 0, 560_000, 0, -100.0, 5_230_000), 120, 90)
    dem = str(tmp_path / "flat.tif")
    rio.write_raster(dem, np.full(grid.shape, 1200.0, np.float32), grid)
    src = li.LocalIncidenceSource(annotation, dem, grid, (15.0, 75.0))
    win = Window(0, 0, grid.width, grid.height)
    theta_loc, codes, theta_e = src.read_all(win)
    expected = AnnotationAngleSource(annotation, grid, dem=RasterSource(dem, grid)).read(win)
    assert np.nanmax(np.abs(theta_loc - expected)) < 1e-3 and np.all(codes == li.VALID)
    ux, uy = src.direction.read(win)
    assert np.allclose(np.hypot(ux, uy), 1.0, atol=1e-4)
    assert np.all(ux < -0.95)  # descending pass, right-looking: the range direction points (west-)north-west
    geographic = rio.RasterGrid(CRS.from_epsg(4326), Affine(0.001, 0, 9.0, 0, -0.001, 47.0), 10, 10)
    with pytest.raises(CRSError, match="metres"):
        li.LocalIncidenceSource(annotation, dem, geographic)


# -- detection on stacks from real backscatter and real annotation geometry -----------------------------------


@pytest.fixture(scope="module")
def scene(shared_data, annotation, tmp_path_factory):
    base = rio.read_raster(shared_data / PYROSAR).data[0]
    return synthetic.write_melt_scene(tmp_path_factory.mktemp("melt"), base, annotation, DATES)


def expected_timing(scene):
    """The onset and end the acquisitions can show: first date at or after the true start, last date at or before
    the true end (day numbers), NaN where never wet."""
    days = melt.day_numbers(scene["dates"]).astype(np.float32)
    wet = scene["wet"]
    any_wet = wet.any(axis=0)
    onset = np.where(any_wet, days[np.argmax(wet, axis=0)], np.nan)
    end = np.where(any_wet, days[len(days) - 1 - np.argmax(wet[::-1], axis=0)], np.nan)
    return onset, end


def run_melt(tmp_path, scene, settings=None, inputs=None, outputs=("wet_snow", "melt_onset", "melt_end",
                                                                     "wet_count", "local_angle", "layover_shadow")):
    feedback = RecordingFeedback()
    ins = {"vv": scene["vv"], "vh": scene["vh"], "annotation": scene["annotation"], "dem": scene["dem"]}
    ins.update(inputs or {})
    outs = {k: str(tmp_path / f"{k}.tif") for k in outputs}
    result = run_job("sar_melt", {k: v for k, v in ins.items() if v is not None}, outs, settings or {},
                     feedback=feedback, threads=1)
    return result, feedback


def read_codes(path):
    with rasterio.open(path) as ds:
        return ds.read(), ds.descriptions, ds.tags(1)


def score(scene, classes):
    """Per-date accuracy, hit rate (wet found wet) and false-alarm rate (dry found wet) on the classified pixels."""
    truth = scene["wet"]
    valid = classes != melt.NOT_CLASSIFIED
    wet = classes == melt.WET
    acc = [float(((wet[t] == truth[t])[valid[t]]).mean()) for t in range(truth.shape[0])]
    hit = float((wet & truth & valid).sum() / max((truth & valid).sum(), 1))
    false = float((wet & ~truth & valid).sum() / max((~truth & valid).sum(), 1))
    return acc, hit, false


@pytest.mark.parametrize("speckle_size", [1, 3])
def test_detection_against_the_known_truth(tmp_path, scene, speckle_size):
    result, feedback = run_melt(tmp_path, scene, {"speckle_size": speckle_size})
    classes, names, tags = read_codes(result.outputs["wet_snow"])
    assert names[0] == "wet_2020-11-03" and tags["DATE"] == "2020-11-03" and classes.shape[0] == len(DATES)
    assert result.numbers["rule_used"].startswith("dual-pol") and not feedback.warnings
    assert result.report["band_dates"]["wet_snow"] == [str(d) for d in DATES]
    assert result.report["time_steps"]["wet_snow"][0] == ["2020-11-03", "2020-11-15", 1]
    assert result.numbers["n_reference_dates"] == 7  # December-February (northern hemisphere)
    # the mask is the truth's: layover on the cliff facing the sensor, angles outside 15-75 deg
    codes = read_codes(result.outputs["layover_shadow"])[0][0]
    assert np.array_equal(codes, scene["codes"]) and np.count_nonzero(codes == li.LAYOVER) > 500
    assert np.all(classes[:, codes != li.VALID] == melt.NOT_CLASSIFIED)
    acc, hit, false = score(scene, classes)
    if speckle_size == 1:  # about 1 dB of speckle per date: drops near 2 dB are missed about half the time
        assert min(acc) > 0.87 and np.mean(acc) > 0.95 and hit > 0.85 and false < 0.04
    else:
        assert min(acc) > 0.9 and np.mean(acc) > 0.98 and hit > 0.92 and false < 0.002
    # onset and end against the dates the acquisitions can show
    onset, end = (rio.read_raster(result.outputs[k]).data[0] for k in ("melt_onset", "melt_end"))
    exp_onset, exp_end = expected_timing(scene)
    both = np.isfinite(exp_onset) & (codes == li.VALID)
    exact_onset = float(np.mean(onset[both] == exp_onset[both]))
    exact_end = float(np.mean(end[both] == exp_end[both]))
    if speckle_size == 3:
        assert exact_onset > 0.85 and exact_end > 0.85
        assert np.nanmedian(np.abs(onset[both] - exp_onset[both])) == 0
    else:
        assert exact_onset > 0.5 and exact_end > 0.5
    count = rio.read_raster(result.outputs["wet_count"]).data[0]
    assert np.array_equal(np.nan_to_num(count[codes == li.VALID], nan=-1),
                          (classes[:, codes == li.VALID] == 1).sum(axis=0))


def test_detection_with_a_minimum_run_removes_single_false_dates(tmp_path, scene):
    never = ~np.isfinite(scene["period"][0]) & (scene["codes"] == li.VALID)
    false_onsets = []
    for run in (1, 2):
        result, _ = run_melt(tmp_path / str(run), scene, {"min_run": run, "speckle_size": 1},
                             outputs=("wet_snow", "melt_onset"))
        onset = rio.read_raster(result.outputs["melt_onset"]).data[0]
        false_onsets.append(float(np.mean(np.isfinite(onset[never]))))
    # unfiltered speckle: single false wet dates start a melt in never-wet pixels; two in a row are rarer
    assert false_onsets[1] < false_onsets[0] / 2, false_onsets


def test_blockwise_result_does_not_depend_on_the_block_size(tmp_path, scene):
    a, _ = run_melt(tmp_path / "a", scene, {"block": 64, "speckle_size": 3}, outputs=("wet_snow",))
    b, _ = run_melt(tmp_path / "b", scene, {"block": 1024, "speckle_size": 3}, outputs=("wet_snow",))
    assert np.array_equal(read_codes(a.outputs["wet_snow"])[0], read_codes(b.outputs["wet_snow"])[0])


def test_wet_fraction_per_outline_and_date(tmp_path, scene):
    g = scene["grid"]
    left, bottom, right, top = g.bounds
    mid = (left + right) / 2
    boxes = [{"type": "Polygon", "coordinates": [[(x0, bottom), (x1, bottom), (x1, top), (x0, top), (x0, bottom)]]}
             for x0, x1 in ((left, mid), (mid, right))]
    result, _ = run_melt(tmp_path, scene, {"speckle_size": 3}, inputs={"outlines": boxes}, outputs=("wet_snow",))
    features, crs, kind = result.features["wet_fraction"]
    assert kind == "Polygon" and len(features) == 2 * len(DATES) and crs == g.crs
    classes = read_codes(result.outputs["wet_snow"])[0]
    half = g.width // 2
    for f in features[: len(DATES)] + features[len(DATES):]:
        p = f["properties"]
        t = [str(d) for d in DATES].index(p["date"])
        part = classes[t, :, :half] if p["outline"] == 1 else classes[t, :, half:]
        valid = part != melt.NOT_CLASSIFIED
        assert p["wet_fraction"] == pytest.approx((part == 1).sum() / valid.sum(), abs=0.01)
        assert p["wet_area_km2"] == pytest.approx((part == 1).sum() * 400 / 1e6, rel=0.02, abs=0.01)


def test_the_single_pol_rule_without_vh_says_so(tmp_path, scene):
    result, feedback = run_melt(tmp_path, scene, inputs={"vh": None}, outputs=("wet_snow",))
    assert result.numbers["rule_used"].startswith("single-pol")
    assert any("VH (or HV) is missing" in w and "single-polarisation rule" in w for w in feedback.warnings)
    acc, hit, false = score(scene, read_codes(result.outputs["wet_snow"])[0])
    assert np.mean(acc) > 0.9


def test_cancel_leaves_nothing(tmp_path, scene):
    with pytest.raises(Cancelled):
        run_job("sar_melt", {"vv": scene["vv"], "vh": scene["vh"], "annotation": scene["annotation"],
                             "dem": scene["dem"]}, {"wet_snow": str(tmp_path / "w.tif"),
                                                    "melt_onset": str(tmp_path / "o.tif")},
                {"block": 64}, feedback=RecordingFeedback(cancel_after=3))
    assert os.listdir(tmp_path) == []


# -- bad inputs ------------------------------------------------------------------------------------------------


def test_mixed_relative_orbits_are_refused_by_name(tmp_path, scene):
    other = str(tmp_path / "s1_melttest_VV_20210520.tif")
    r = rio.read_raster(scene["vv"][0])
    rio.write_raster(other, r.data, r.grid, tags={"RELATIVE_ORBIT": 15})
    with pytest.raises(InputError, match=r"mixes 2 relative orbits \(15: 2021-05-20; 168: 2020-11-03"):
        open_stack(scene["vv"] + [other])


def test_no_date_in_the_reference_window(tmp_path, scene):
    with pytest.raises(InputError, match="No acquisition lies in the dry-snow reference window.*2019-12-01"):
        run_melt(tmp_path, scene, {"reference_start": "2019-12-01", "reference_end": "2020-02-28"})
    assert not list(tmp_path.glob("*.tif"))


def test_grids_that_differ_are_refused(tmp_path, scene):
    r = rio.read_raster(scene["vv"][1])
    from affine import Affine

    moved = rio.RasterGrid(r.grid.crs, Affine.translation(40, 0) * r.grid.transform, r.grid.width, r.grid.height)
    other = str(tmp_path / "s1_melttest_VV_20210601.tif")
    rio.write_raster(other, r.data, moved, tags={"RELATIVE_ORBIT": 168})
    with pytest.raises(InputError, match="different grids.*s1_melttest_VV_20210601.tif"):
        open_stack(scene["vv"] + [other])


def test_vh_with_other_dates_and_missing_angle_are_refused(tmp_path, scene):
    with pytest.raises(InputError, match="same dates"):
        run_melt(tmp_path, scene, inputs={"vh": [scene["vh"][0]], "vv": scene["vv"][:-1]})
    with pytest.raises(InputError, match="needs the local incidence angle"):
        run_melt(tmp_path, scene, inputs={"annotation": None, "dem": None})
    with pytest.raises(InputError, match="only one"):
        run_melt(tmp_path, scene, inputs={"angle": scene["dem"]})


def test_dates_from_names_descriptions_tags_and_given(tmp_path, scene):
    bands = describe_bands(scene["vh"])  # one multi-band stack, dates in the band descriptions
    assert [str(b.date) for b in bands] == [str(d) for d in DATES] and {b.orbit for b in bands} == {168}
    assert {b.pass_direction for b in bands} == {"descending"}
    undated = str(tmp_path / "stack.tif")
    r = rio.read_raster(scene["vh"][0], bands=[1, 2, 3])
    rio.write_raster(undated, r.data, r.grid)
    with pytest.raises(InputError, match="No acquisition date was found for 3 band"):
        open_stack([undated])
    s = open_stack([undated], dates=["2021-01-01", "2021-01-13", "2021-01-25"])
    assert [str(d) for d in s.dates] == ["2021-01-01", "2021-01-13", "2021-01-25"]
    with pytest.raises(InputError, match="2 date"):
        open_stack([undated], dates=["2021-01-01", "2021-01-13"])
    with pytest.raises(InputError, match="two acquisitions on 2021-01-01"):
        open_stack([undated], dates=["2021-01-01", "2021-01-01", "2021-01-25"])
    assert relative_orbit_from_name("S1B_IW_GRDH_1SDV_20210401T052623_20210401T052648_026269_032297_ECC8") == 168
    assert relative_orbit_from_name("S1A_IW_GRDH_1SDV_20150309T173017_20150309T173042_004980_0063F4_ABCD") == 8
    assert pass_from_name(PYROSAR) == "ascending"


def test_report_is_json(tmp_path, scene):
    result, _ = run_melt(tmp_path, scene, outputs=("wet_snow",))
    payload = json.loads(result.to_json())
    assert payload["numbers"]["n_dates"] == len(DATES) and len(payload["report"]["wet_fraction"]) == len(DATES)
