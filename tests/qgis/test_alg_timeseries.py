"""The velocity time-series algorithm in a real QgsApplication, on pairs built from the real GLAFT Kaskawulsh field."""

import csv
import json

import numpy as np
import pytest

pytestmark = pytest.mark.qgis

ALG = "velocity_timeseries"


@pytest.fixture
def kaskawulsh_pairs(shared_data, tmp_path):
    """16 pairs of a 80 x 60 px crop of the GLAFT field scaled by a seasonal cycle, written like GLAFT's product:
    separate ..._vx.tif / ..._vy.tif files in m/day without unit metadata, dates in the file names."""
    from serac.core import raster_io as rio
    from serac.core.timeseries import synthetic as syn

    folder = shared_data / "velocity" / "glaft_kaskawulsh"
    window = (380, 300, 80, 60)
    vx = rio.read_raster(folder / "20180304-20180405_velo-raw_vx.tif", window=window)
    vy = rio.read_raster(folder / "20180304-20180405_velo-raw_vy.tif", window=window)
    field = np.stack([vx.band(1), vy.band(1)]).astype(np.float64) * 365.25
    sc = syn.field_scenario(field, n_pairs=16, start="2018-01-01", end="2018-12-31", revisit_days=8,
                            min_baseline=16, max_baseline=200, signal=syn.SeasonalSignal(0.4, 190), sigma_disp=2.0,
                            seed=5)
    paths = syn.write_pair_files(tmp_path, sc.stack, sc.date1, sc.date2, vx.grid, units="m/day",
                                 unit_metadata=False, separate_components=True)
    files = [str(p) for p in paths] + [str(p).replace("_vx.tif", "_vy.tif") for p in paths]
    return files, sc, vx.grid


def test_time_series_through_processing(run_alg, kaskawulsh_pairs, tmp_path):
    from serac.core.raster_io import read_raster
    from serac.core.timeseries import synthetic as syn

    files, sc, grid = kaskawulsh_pairs
    x, y = grid.xy(30, 40)
    out, diag, table = tmp_path / "ts.tif", tmp_path / "diag.tif", tmp_path / "point.csv"
    res = run_alg(ALG, {"INPUT": files, "UNITS": 2, "STEP_DAYS": 30, "OUTPUT": str(out), "DIAGNOSTICS": str(diag),
                        "POINT": f"{x},{y} [EPSG:32607]", "POINT_CSV": str(table)})
    from serac.core.timeseries import TimeGrid

    expected = TimeGrid.for_pairs(sc.date1, sc.date2, 30)
    n = res["N_STEPS"]
    assert res["N_PAIRS"] == 16 and n == expected.n_steps and res["PIXELS_SOLVED"] > 0.9 * 80 * 60
    ts = read_raster(res["OUTPUT"])
    assert ts.count == 3 * n and ts.band_names[0] == f"vx_{expected.labels[0]}" and ts.band_names[2 * n][:6] == "speed_"
    assert ts.grid.matches(grid)
    summary = json.loads(res["REPORT"])
    assert summary["point"]["pixel"] == [30, 40] and len(summary["time_grid_edges"]) == n + 1
    # better than the naive per-step mean of the overlapping pairs, against the known truth (no blunders here: 0.66 of
    # the naive RMSE, 10.4 against 15.9 m/yr; 0.58 while Tukey reweighting down-weighted 10 % of these good pairs)
    tg = TimeGrid([np.datetime64(e) for e in summary["time_grid_edges"]])
    truth = sc.truth(tg)
    got = ts.data[: 2 * n].reshape(2, n, *grid.shape).transpose(1, 0, 2, 3)
    naive = syn.naive_series(sc.stack, sc.date1, sc.date2, tg)
    err, err_naive = np.sqrt(np.nanmean((got - truth) ** 2)), np.sqrt(np.nanmean((naive - truth) ** 2))
    assert err < 0.7 * err_naive
    # the CSV holds the series of the point's pixel
    with open(res["POINT_CSV"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n and rows[0]["start"] == str(expected.edges[0])
    np.testing.assert_allclose([float(r["vx"]) for r in rows], got[:, 0, 30, 40], rtol=1e-4)
    d = read_raster(res["DIAGNOSTICS"])
    assert d.band_names[:4] == ["residual_rms", "pairs_used", "pairs_downweighted", "regularisation"]
    assert np.nanmax(d.band(2)) == 16


def test_dates_given_as_text_and_fixed_lambda(run_alg, kaskawulsh_pairs, tmp_path):
    import shutil

    from serac.core.raster_io import read_raster

    files, sc, _ = kaskawulsh_pairs
    renamed = []
    for k, (vx_file, vy_file) in enumerate(zip(files[:6], files[16:22])):  # names without dates
        renamed += [shutil.copy(vx_file, tmp_path / f"pair{k}_vx.tif"),
                    shutil.copy(vy_file, tmp_path / f"pair{k}_vy.tif")]
    dates = ";".join(f"{a},{b}" for a, b in zip(sc.date1[:6], sc.date2[:6]))
    res = run_alg(ALG, {"INPUT": [str(p) for p in renamed[::2]], "DATES": dates, "UNITS": 2, "STEP_DAYS": 0,
                        "LAMBDA_MODE": 1, "LAMBDA": 2.0, "ROBUST": 2, "OUTPUT": str(tmp_path / "ts.tif")})
    assert res["N_PAIRS"] == 6 and res["MEDIAN_LAMBDA"] == 2.0
    edges = json.loads(res["REPORT"])["time_grid_edges"]
    assert edges[0] == str(sc.date1[:6].min()) and res["N_STEPS"] == len(edges) - 1
    assert read_raster(res["OUTPUT"]).tags["ROBUST"] == "none"


def test_bad_inputs_give_clear_messages(run_alg, kaskawulsh_pairs, tmp_path):
    from qgis.core import QgsProcessingException

    files, _, _ = kaskawulsh_pairs
    with pytest.raises(QgsProcessingException, match="same first and second date"):
        run_alg(ALG, {"INPUT": files[:3], "DATES": "2018-01-01,2018-02-01;2018-03-01,2018-03-01;2018-01-05,2018-03-01",
                      "UNITS": 2, "OUTPUT": str(tmp_path / "a.tif")})
    with pytest.raises(QgsProcessingException, match="date pairs were given for"):
        run_alg(ALG, {"INPUT": files[:3], "DATES": "2018-01-01,2018-02-01", "OUTPUT": str(tmp_path / "b.tif")})
    with pytest.raises(QgsProcessingException, match="None of the"):
        run_alg(ALG, {"INPUT": files[:16], "START_DATE": "2010-01-01", "END_DATE": "2010-06-01",
                      "OUTPUT": str(tmp_path / "c.tif")})
    assert not (tmp_path / "a.tif").exists() and not (tmp_path / "c.tif").exists()


def test_output_style_shows_the_speed_of_a_step(run_alg, kaskawulsh_pairs, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsRasterLayer

    from serac.core.raster_io import display_range
    from serac.processing_provider.styles import StylePostProcessor, style_path

    files, _, _ = kaskawulsh_pairs
    res = run_alg(ALG, {"INPUT": files, "UNITS": 2, "LAMBDA_MODE": 1, "OUTPUT": str(tmp_path / "ts.tif")})
    n = res["N_STEPS"]
    layer = QgsRasterLayer(res["OUTPUT"], "ts")
    assert layer.isValid()
    stretch = display_range(res["OUTPUT"], 2 * n + 1, stretch="from zero")
    assert stretch[0] == 0.0 and 20 < stretch[1] < 2000  # m/yr of the Kaskawulsh crop
    StylePostProcessor(style_path("timeseries_speed"), "ts", stretch, band=2 * n + 1).postProcessLayer(
        layer, QgsProcessingContext(), QgsProcessingFeedback())
    renderer = layer.renderer()
    assert renderer.band() == 2 * n + 1 and renderer.type() == "singlebandpseudocolor"
    assert renderer.classificationMax() == pytest.approx(stretch[1])
