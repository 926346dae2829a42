"""``serac batch`` on a real Dask LocalCluster with 2 workers: velocity pairs and segmentation scenes of the
sample data, one row failing on purpose, a rerun skipping finished rows, the catalogue GeoPackage; job-array
scripts and dask-jobqueue job scripts for SLURM and OAR."""

import json
import os

import pytest

from serac.cli.manifest import read_manifest, write_manifest

from .conftest import REFERENCE, RGB, SAMPLE, SECONDARY, serac

pytest.importorskip("distributed")
VELOCITY = {"job": "glacier_velocity", "chip": 32, "search": 8, "spacing": 16}


def manifest(tmp_path, pairs, bad=True):
    rows = [dict(VELOCITY, id=f"pair{i}", reference=a, secondary=b, output=f"out/v{i}.tif")
            for i, (a, b) in enumerate(pairs)]
    if bad:  # the secondary image does not exist: this row fails, the others go on
        rows.append(dict(VELOCITY, id="broken", reference=pairs[0][0], secondary="missing_20001115.tif",
                         output="out/broken.tif"))
    for i, scene in enumerate([RGB, SAMPLE / "segmentation" / "everest_landsat_rgb_heldout.tif"]):
        rows.append({"job": "segmentation_glacier_outlines", "id": f"scene{i}", "input": str(scene),
                     "output_probability": f"out/prob{i}.tif", "output_outlines": f"out/outlines{i}.gpkg",
                     "backend": "onnxruntime"})
    return write_manifest(str(tmp_path / "batch.csv"), rows)


def catalogue(path):
    from serac.cli.records import read_catalogue

    frame = read_catalogue(path)
    return {r["id"]: r for r in frame.to_dict("records")}


def test_batch_on_a_local_cluster_records_failures_and_skips_finished_rows_on_rerun(tmp_path, pairs):
    path = manifest(tmp_path, pairs)
    proc = serac("batch", path, "--workers", 2, "--memory-limit", "2GB")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # one row failed, the rest finished
    assert "Running on local cluster of 2 worker(s)" in proc.stdout
    assert proc.stdout.count(": done in ") == 4 and proc.stdout.count("FAILED") == 1
    cat = catalogue(tmp_path / "batch.catalogue.gpkg")
    assert {k: r["status"] for k, r in cat.items()} == {"pair0": "done", "pair1": "done", "broken": "failed",
                                                       "scene0": "done", "scene1": "done"}
    assert "Cannot open raster" in cat["broken"]["error"] and "missing_20001115.tif" in cat["broken"]["error"]
    assert json.loads(cat["pair1"]["numbers"])["interval_days"] == 16
    assert json.loads(cat["scene0"]["numbers"])["n_outlines"] > 0
    assert len({cat[k]["worker"] for k in cat}) == 2  # both workers ran tasks
    for k in ("pair0", "pair1", "scene0"):
        minx, miny, maxx, maxy = cat[k]["geometry"].bounds  # footprint in EPSG:4326 (Everest: 86.8 E, 28 N)
        assert 86 < minx < maxx < 88 and 27 < miny < maxy < 29
        assert all(os.path.getsize(p) > 0 for p in json.loads(cat[k]["outputs"]).values())
    assert not os.path.exists(tmp_path / "out" / "broken.tif")

    # a rerun skips the finished rows and runs the failed one again; a changed or damaged output is redone
    with open(tmp_path / "out" / "v1.tif", "ab") as fh:  # e.g. a file touched after the run
        fh.write(b"\0")
    proc = serac("batch", path, "--workers", 2, "--memory-limit", "2GB")
    assert proc.returncode == 3
    assert "5 rows, 3 already complete (skipped), 2 to run" in proc.stdout
    assert "(id pair1) glacier_velocity: done in" in proc.stdout and "(id pair0) glacier_velocity: already" \
        in proc.stdout
    # the failing row's output given a valid secondary: everything done
    rows = read_manifest(path)
    fixed = [dict(r.values, job=r.job, id=r.id) for r in rows]
    fixed[2]["secondary"] = pairs[0][1]
    write_manifest(path, fixed)
    proc = serac("batch", path, "--workers", 2)
    assert proc.returncode == 0 and "4 already complete (skipped), 1 to run" in proc.stdout
    assert catalogue(tmp_path / "batch.catalogue.gpkg")["broken"]["status"] == "done"


def test_a_half_written_output_is_not_taken_as_complete(tmp_path, pairs):
    from serac.cli.records import is_complete, read_record

    path = manifest(tmp_path, pairs[:1], bad=False)
    cat = str(tmp_path / "batch.catalogue.gpkg")
    proc = serac("batch", path, "--row", 0)  # one row in this process (as a job-array task does)
    assert proc.returncode == 0, proc.stderr
    row = read_manifest(path)[0]
    record = read_record(cat, row.id)
    assert is_complete(record, row.key()) and is_complete(record, row.key(), verify=True)
    out = tmp_path / "out" / "v0.tif"
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])  # what a killed copy or a broken disk leaves
    assert not is_complete(record, row.key())
    os.remove(out)
    assert not is_complete(record, row.key())
    (tmp_path / "out" / ".v0.tif.serac-tmp-1234abcd.tif").write_bytes(b"partial")  # a killed worker's temp file
    proc = serac("batch", path, "--row", 0)
    assert proc.returncode == 0 and out.exists()
    assert not (tmp_path / "out" / ".v0.tif.serac-tmp-1234abcd.tif").exists()
    assert "already complete" in serac("batch", path, "--row", 0).stdout
    proc = serac("batch", path, "--collect")  # the scenes were not run: pending, so not all done (exit 3)
    assert proc.returncode == 3 and "(1 done, 2 pending)" in proc.stdout
    assert {k: r["status"] for k, r in catalogue(cat).items()} == {"pair0": "done", "scene0": "pending",
                                                                  "scene1": "pending"}


def test_a_row_reading_another_rows_output_waits_for_it_and_fails_with_it(tmp_path, pairs):
    rows = [dict(VELOCITY, id="p0", reference=pairs[0][0], secondary=pairs[0][1], output="v0.tif"),
            dict(VELOCITY, id="p1", reference=pairs[0][0], secondary="missing_20001115.tif", output="v1.tif"),
            {"job": "mask_raster", "id": "masked0", "input": "v0.tif", "output": "m0.tif",
             "outlines": str(SAMPLE / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg")},
            {"job": "mask_raster", "id": "masked1", "input": "v1.tif", "output": "m1.tif",
             "outlines": str(SAMPLE / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg")}]
    path = write_manifest(str(tmp_path / "chain.csv"), rows)
    proc = serac("batch", path, "--workers", 2)
    assert proc.returncode == 3
    cat = catalogue(tmp_path / "chain.catalogue.gpkg")
    assert cat["masked0"]["status"] == "done" and cat["masked1"]["status"] == "failed"
    assert "Row 1 (id p1), whose outputs this row reads, failed" in cat["masked1"]["error"]


def test_manifest_errors_exit_2(tmp_path):
    (tmp_path / "m.csv").write_text("reference,secondary\na.tif,b.tif\n")
    proc = serac("batch", tmp_path / "m.csv")
    assert proc.returncode == 2 and "has no 'job' column" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "m.csv").write_text("job,reference,chips\nglacier_velocity,a.tif,3\n")
    proc = serac("batch", tmp_path / "m.csv", "--row", 0)
    assert proc.returncode == 3 and "'chips' is neither an input, an output nor a setting" in proc.stdout


def test_gpkg_manifest_is_read_like_csv(tmp_path, pairs):
    import geopandas as gpd

    frame = gpd.GeoDataFrame([dict(VELOCITY, id="p0", reference=pairs[0][0], secondary=pairs[0][1],
                                   output="v0.tif")], geometry=[None], crs="EPSG:4326")
    frame.to_file(tmp_path / "m.gpkg", driver="GPKG")
    rows = read_manifest(str(tmp_path / "m.gpkg"))
    assert rows[0].job == "glacier_velocity" and rows[0].values["chip"] == "32"


CONFIG = "cores: 4\nmemory: 16GB\nwalltime: '02:00:00'\naccount: glacio\nqueue: short\nmax_parallel: 10\n"


@pytest.mark.parametrize("kind", ["slurm", "oar"])
def test_job_array_scripts_have_their_directives(tmp_path, pairs, kind):
    path = manifest(tmp_path, pairs)
    (tmp_path / "cluster.yaml").write_text(CONFIG)
    proc = serac("batch", path, "--array", kind, "--cluster-config", tmp_path / "cluster.yaml")
    assert proc.returncode == 0, proc.stderr
    script = (tmp_path / f"batch.csv.{kind}.sh").read_text()
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash" and os.access(tmp_path / f"batch.csv.{kind}.sh", os.X_OK)
    if kind == "slurm":
        for directive in ("#SBATCH --array=0-4%10", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16GB",
                          "#SBATCH --time=02:00:00", "#SBATCH --account=glacio", "#SBATCH --partition=short"):
            assert directive in lines, directive
        assert lines[-1].endswith('--row "$SLURM_ARRAY_TASK_ID"')
    else:
        for directive in ("#OAR --array 5", "#OAR -l /nodes=1/core=4,walltime=02:00:00", "#OAR --project glacio",
                          "#OAR -q short"):
            assert directive in lines, directive
        assert lines[-1].endswith('--row "$((OAR_ARRAY_INDEX - 1))"')
    assert "-m serac.cli batch" in lines[-1] and "--threads 4" in lines[-1]


@pytest.mark.parametrize("kind", ["slurm", "oar"])
def test_jobqueue_clusters_are_configured_from_the_file(tmp_path, kind):
    pytest.importorskip("dask_jobqueue")
    from serac.cli.clusters import jobqueue_cluster, read_config

    (tmp_path / "cluster.toml").write_text('cores = 4\nmemory = "16GB"\nwalltime = "02:00:00"\naccount = "glacio"\n'
                                           'queue = "short"\nprocesses = 2\n')
    cluster = jobqueue_cluster(kind, read_config(str(tmp_path / "cluster.toml")), jobs=0)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    if kind == "slurm":
        assert "#SBATCH -A glacio" in script and "#SBATCH -p short" in script and "#SBATCH -t 02:00:00" in script
    else:
        assert "#OAR --project glacio" in script and "#OAR -q short" in script and "walltime=02:00:00" in script
    assert "--nworkers 2" in script and "--nthreads 2" in script


def test_cluster_config_errors(tmp_path):
    from serac.cli.clusters import read_config
    from serac.core.errors import InputError

    (tmp_path / "c.yaml").write_text("cores: 2\nmemroy: 4GB\n")
    with pytest.raises(InputError, match="Unknown cluster setting"):
        read_config(str(tmp_path / "c.yaml"))


def test_a_time_series_row_runs_as_blocks_with_the_values_of_one_run(tmp_path):
    import numpy as np
    import rasterio

    from serac.core.jobs import run_job

    folder = SAMPLE / "timeseries"
    pairs = sorted(str(folder / f) for f in os.listdir(folder) if f.endswith(".tif"))
    path = write_manifest(str(tmp_path / "ts.csv"), [{"job": "velocity_timeseries", "id": "ts", "input": pairs,
                                                      "output": "ts.tif", "diagnostics": "diag.tif",
                                                      "error": "err.tif", "step_days": 30}])
    proc = serac("batch", path, "--workers", 2, "--block-size", 48)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 blocks of up to 48 px" in proc.stdout  # 128 x 96 px grid
    one = run_job("velocity_timeseries", {"input": pairs}, {"output": str(tmp_path / "one.tif"),
                                                            "diagnostics": str(tmp_path / "one_diag.tif"),
                                                            "error": str(tmp_path / "one_err.tif")},
                  {"step_days": 30}, threads=1)
    for split, single in (("ts.tif", "one.tif"), ("diag.tif", "one_diag.tif"), ("err.tif", "one_err.tif")):
        with rasterio.open(tmp_path / split) as a, rasterio.open(tmp_path / single) as b:
            np.testing.assert_array_equal(a.read(), b.read())
            assert a.descriptions == b.descriptions and a.tags() == b.tags() and a.tags(3) == b.tags(3)
            assert a.transform == b.transform and a.crs == b.crs
    numbers = json.loads(catalogue(tmp_path / "ts.catalogue.gpkg")["ts"]["numbers"])
    assert numbers["pixels_solved"] == one.numbers["pixels_solved"] and numbers["n_steps"] == one.numbers["n_steps"]
    assert numbers["median_residual_rms"] == pytest.approx(one.numbers["median_residual_rms"], rel=1e-6)
    assert [f for f in os.listdir(tmp_path) if f.startswith(".")] == []  # the block files are gone


def test_sigterm_to_the_batch_stops_its_workers_and_keeps_no_half_written_output(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from .conftest import ROOT

    # whole sample images at a 1 px spacing (about 500,000 points a row): no row can finish in the seconds
    # before the signal, however fast the machine (two 256 px crops once did on CI, and the test then failed)
    rows = [dict(VELOCITY, id=f"slow{i}", reference=str(REFERENCE), secondary=str(SECONDARY),
                 output=f"out/slow{i}.tif", spacing=1) for i in range(4)]
    path = write_manifest(str(tmp_path / "slow.csv"), rows)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "pluginpath"))
    proc = subprocess.Popen([sys.executable, "-m", "serac.cli", "batch", path, "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    for line in proc.stdout:
        if line.startswith("Running on"):
            break
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)  # the command only: it must stop its own cluster
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "cancelled" in err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)  # any process left of the command's group (its workers)?
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("worker processes outlived the cancelled batch")
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []  # no output, no temporary file
