"""Throughput of ``serac batch`` on a local Dask cluster: a velocity batch with 1 and 2 workers.

Cases (each batch is the real command line in a subprocess, as on a cluster node):

* ``velocity-<n>workers`` — K rows of glacier_velocity (chip 32 px, search ±16 px, grid 12 px,
  Wallis, ``dft``; one thread per task) on a 1310 x 1600 px pair made of the real Everest Landsat
  band (mirrored) and a copy moved by a known sub-pixel shift (GeoTIFFs, dates in the names;
  ``--quick``: 655 x 800). Reported: wall time from the command's start (incl. the cluster start)
  and from the cluster being up, pairs per hour (steady state), the task time of each row, the
  peak resident memory of each worker process (VmHWM), the cluster start-up time.
* ``overhead-1worker`` — N rows of a tiny job (rasterize_outlines on a 64 x 64 px crop): the wall
  time per row minus the time inside the job = what the batch layer adds per task (scheduling,
  the row's record with the outputs' SHA-256, the catalogue rewritten at most every 2 s).
* ``serial-baseline`` — one velocity pair through ``run_job`` in this process, 1 thread.

The machine is small (2 cores) and was shared with other agents' work while measuring: the
wall times are upper bounds, the task-time and memory figures the steadier ones.

Run:  .venv/bin/python benchmarks/bench_batch.py [--quick]
Writes benchmarks/results/batch.json (or ``--out``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _checkout import ROOT  # benchmarks/ is on sys.path as the script folder; makes serac importable
from _memory import machine_info, write_result
SAMPLE = ROOT / "resources" / "sample_data" / "everest_landsat" / "LE71400412000304SGS00_B4.tif"
OUTLINES = ROOT / "resources" / "sample_data" / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg"
SHIFT = (0.37, -1.71)  # (dy, dx) px
SHARED_NOTE = ("the machine (2 cores) was shared with other agents' builds and tests while measuring; wall times are "
               "upper bounds")
VELOCITY = {"chip": 32, "search": 16, "spacing": 12, "max_chip": 32, "backend": "numpy"}


def write_pair(folder, quick):
    """A reference and a secondary GeoTIFF (the Everest band, mirrored unless quick, and shifted)."""
    from serac.core.raster_io import read_raster, write_raster
    from serac.core.velocity.synthetic import fourier_shift

    raster = read_raster(SAMPLE)
    img = raster.band(1).astype(np.float64)
    grid = raster.grid
    if not quick:
        img = np.block([[img, img[:, ::-1]], [img[::-1], img[::-1, ::-1]]])
        from serac.core.raster_io import RasterGrid

        grid = RasterGrid(grid.crs, grid.transform, img.shape[1], img.shape[0])
    ref, sec = folder / "ref_20001030.tif", folder / "sec_20001115.tif"
    write_raster(ref, img[None].astype(np.float32), grid)
    write_raster(sec, fourier_shift(img, *SHIFT)[None].astype(np.float32), grid)
    return str(ref), str(sec), img.shape


def run_batch(manifest, workers, extra=()):
    """Run ``serac batch`` in a subprocess; returns (seconds to cluster up, seconds in total, stdout lines)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "pluginpath"))
    cmd = [sys.executable, "-m", "serac.cli", "batch", str(manifest), "--workers", str(workers),
           "--memory-limit", "3GB", "--force", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    up, lines = None, []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith("Running on") and up is None:
            up = time.perf_counter() - t0
    proc.wait()
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"serac batch failed ({proc.returncode}):\n" + "\n".join(lines[-20:]))
    return up, total, lines


def records(manifest):
    folder = Path(str(manifest)[: -len(".csv")] + ".catalogue.rows")
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def velocity_case(folder, ref, sec, shape, k, workers):
    from serac.cli.manifest import write_manifest

    manifest = write_manifest(str(folder / f"velocity_{workers}.csv"),
                              [dict(VELOCITY, job="glacier_velocity", id=f"p{i}", reference=ref, secondary=sec,
                                    output=str(folder / f"v{workers}_{i}.tif")) for i in range(k)])
    up, total, _ = run_batch(manifest, workers)
    recs = records(manifest)
    assert all(r["status"] == "done" for r in recs), [r["error"] for r in recs]
    task = [r["seconds"] for r in recs]
    per_worker = {}
    for r in recs:
        per_worker[r["worker"]] = max(per_worker.get(r["worker"], 0.0), r["peak_rss_mb"])
    running = total - up
    return {"case": f"velocity-{workers}workers", "workers": workers, "threads_per_task": 1, "pairs": k,
            "image_px": list(shape), "grid_points_per_pair": int(np.ceil(shape[0] / 12) * np.ceil(shape[1] / 12)),
            "cluster_start_s": up, "wall_s": total, "wall_after_start_s": running,
            "pairs_per_hour": 3600.0 * k / running, "pairs_per_hour_incl_start": 3600.0 * k / total,
            "task_s_mean": float(np.mean(task)), "task_s_min": float(np.min(task)), "task_s_max": float(np.max(task)),
            "peak_rss_mb_per_worker": sorted(per_worker.values()),
            "numbers_row0": recs[0]["numbers"]}


def overhead_case(folder, n):
    from serac.cli.manifest import write_manifest
    from serac.core.raster_io import read_raster, write_raster

    raster = read_raster(SAMPLE, window=(100, 100, 64, 64))
    tiny = folder / "tiny.tif"
    write_raster(tiny, raster.data, raster.grid)
    manifest = write_manifest(str(folder / "overhead.csv"),
                              [{"job": "rasterize_outlines", "id": f"t{i}", "input": str(tiny),
                                "outlines": str(OUTLINES), "output": str(folder / f"m{i}.tif")} for i in range(n)])
    up, total, _ = run_batch(manifest, 1)
    recs = records(manifest)
    inside = sum(r["seconds"] for r in recs)
    return {"case": "overhead-1worker", "tasks": n, "cluster_start_s": up, "wall_after_start_s": total - up,
            "task_s_mean": inside / n, "overhead_s_per_task": (total - up - inside) / n}


def serial_case(folder, ref, sec):
    from serac.core.jobs import run_job

    t0 = time.perf_counter()
    result = run_job("glacier_velocity", {"reference": ref, "secondary": sec},
                     {"output": str(folder / "serial.tif")}, VELOCITY, threads=1)
    return {"case": "serial-baseline", "threads": 1, "seconds": time.perf_counter() - t0,
            "valid_fraction": result.numbers["valid_fraction"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small pair, few rows")
    parser.add_argument("--pairs", type=int, default=None, help="velocity rows per batch (default 8; quick 4)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "batch.json"))
    args = parser.parse_args(argv)
    k = args.pairs or (4 if args.quick else 8)
    results = []
    with tempfile.TemporaryDirectory(prefix="serac-bench-batch-") as tmp:
        folder = Path(tmp)
        ref, sec, shape = write_pair(folder, args.quick)
        results.append(dict(serial_case(folder, ref, sec), load_average_1min=os.getloadavg()[0]))
        print(results[-1], flush=True)
        for workers in (1, 2):
            load = os.getloadavg()[0]
            results.append(dict(velocity_case(folder, ref, sec, shape, k, workers), load_average_1min_before=load,
                                load_average_1min_after=os.getloadavg()[0]))
            print(results[-1], flush=True)
        results.append(overhead_case(folder, 10 if args.quick else 20))
        print(results[-1], flush=True)
    payload = {"benchmark": "batch", "quick": args.quick, "machine": dict(machine_info("dask", "distributed"), shared=SHARED_NOTE), "settings": VELOCITY,
               "results": results}
    write_result(args.out, payload)


if __name__ == "__main__":
    main()
