"""Throughput and memory of the velocity engine (grid points per second, peak RSS).

Cases (each run in its own subprocess so peak RSS is clean):

* ``throughput-<backend>`` — chip 32 px, search ±16 px (64 px windows), grid 12 px,
  Wallis prefilter, ``dft`` sub-pixel refinement, chip fallback off; an in-memory pair
  made of the real Everest Landsat band tiled (mirrored) to 2400 x 2400 px (40 000
  points; ``--quick``: 1200 x 1200) and moved by a known sub-pixel shift. Backends:
  numpy (2 threads), torch CPU, and torch CUDA when a GPU is present.
* ``throughput-numpy-nofilter`` — the same without prefilter (correlation cost alone).
* ``sentinel2-numpy`` — a Sentinel-2-sized pair (10980 x 10980 px uint8 GeoTIFFs on disk;
  ``--quick``: 2196 x 2196) through the whole file pipeline (windowed reading,
  correlation, median test, GeoTIFF writing) at a 12 px grid: 837 225 points. The pair is
  written by the parent; the child's peak RSS shows that the scene never sits in memory
  whole (two float32 copies would be 920 MiB).

Each case also records its CPU time (all threads) per point, a figure less sensitive than
the wall time to other programs sharing the machine.

``--point-cost`` measures instead the cost per point of one thread (numpy backend, chip 32,
search ±16, grid 12 px, Wallis prefilter, sub-pixel ``dft``) on SIZE x SIZE px crops of the
throughput pair (``--size``, repeatable, default 720 px: 3,600 points), on this checkout and on
the others given with ``--compare NAME=DIR`` (another checkout, e.g. ``git archive`` of an
earlier commit): instructions per point counted by callgrind (``--instructions``; the child's
instructions minus those of a baseline child that does everything but the correlation: imports,
images, tracker, warm-up; ``--jobs`` children counted at once), and one-thread CPU seconds per
point over ``--rounds`` rounds that alternate the versions, with the load average before each
round. Writes benchmarks/results/velocity_cpu_per_point.json (or ``--out``).

Run:  .venv/bin/python benchmarks/bench_velocity.py [--quick]
      .venv/bin/python benchmarks/bench_velocity.py --point-cost --instructions --compare before=DIR \
          --size 1200 --size 2400 --jobs 2
Writes benchmarks/results/velocity.json (or ``--out``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _checkout import ROOT  # benchmarks/ is on sys.path; makes serac (or SERAC_BENCH_CODE's) importable
from _instructions import ONE_THREAD, count_instructions, valgrind_available
from _memory import machine_info, peak_rss_mb, write_result
from pathlib import Path

import numpy as np

EVEREST = ROOT.parent / "shared" / "data" / "optical" / "everest_landsat" / "LE71400412000304SGS00_B4.tif"
SAMPLE = ROOT / "resources" / "sample_data" / "everest_landsat" / "LE71400412000304SGS00_B4.tif"
SHIFT = (0.37, -1.71)  # (dy, dx) px


def periodic_tiles():
    """The Everest band mirrored into a periodic 1310 x 1600 tile, and the same tile shifted by SHIFT."""
    from serac.core.raster_io import read_raster
    from serac.core.velocity.synthetic import fourier_shift

    img = read_raster(EVEREST if EVEREST.exists() else SAMPLE).band(1).astype(np.float64)
    tile = np.block([[img, img[:, ::-1]], [img[::-1], img[::-1, ::-1]]])
    return tile, fourier_shift(tile, *SHIFT)


def tiled(tile, rows, cols, row0=0, col0=0):
    """A (rows, cols) window starting at (row0, col0) of the infinite periodic tiling of ``tile``."""
    r = (np.arange(row0, row0 + rows) % tile.shape[0])[:, None]
    c = (np.arange(col0, col0 + cols) % tile.shape[1])[None, :]
    return tile[r, c]




# -- cases (run inside the child process) ----------------------------------------------------
def case_throughput(backend, size, prefilter):
    from serac.core.velocity.engine import ArraySource, CorrelationParams, OffsetTracker

    ref_tile, sec_tile = periodic_tiles()
    ref = tiled(ref_tile, size, size).astype(np.float32)
    sec = tiled(sec_tile, size, size).astype(np.float32)
    del ref_tile, sec_tile
    params = CorrelationParams(chip=32, search=16, spacing=12, prefilter=prefilter, max_chip=32)
    tracker = OffsetTracker(params, backend=backend)
    warm = ArraySource(ref[:400, :400]), ArraySource(sec[:400, :400])
    tracker.track(*warm)  # warm-up: FFT plans, torch kernels
    if tracker.ops.device != "cpu" and str(tracker.ops.device) != "cpu":
        tracker.ops.torch.cuda.synchronize()
        tracker.ops.torch.cuda.reset_peak_memory_stats()
    rss_before = peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    field = tracker.track(ArraySource(ref), ArraySource(sec))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = field.valid
    out = {"backend": tracker.backend.label, "image_px": [size, size], "points": int(field.status.size),
           "seconds": seconds, "points_per_second": field.status.size / seconds, "cpu_seconds": cpu,
           "cpu_microseconds_per_point": cpu / field.status.size * 1e6, "valid_fraction": float(ok.mean()),
           "median_error_px": [float(np.median(field.dy[ok]) - SHIFT[0]), float(np.median(field.dx[ok]) - SHIFT[1])],
           "prefilter": prefilter, "batch": tracker.batch_size(32), "threads": tracker.threads,
           "peak_rss_mb_before_run": rss_before}
    if out["backend"].startswith("torch (cuda"):
        out["gpu_peak_memory_mb"] = tracker.ops.torch.cuda.max_memory_allocated() / 2**20
        out["gpu"] = tracker.ops.torch.cuda.get_device_name(0)
    return out


def case_point_cost(size, baseline):
    """One-thread correlation of a ``size`` px crop of the throughput pair; ``baseline``: all but the correlation."""
    from serac.core.velocity.engine import ArraySource, CorrelationParams, OffsetTracker

    ref_tile, sec_tile = periodic_tiles()
    ref = tiled(ref_tile, size, size).astype(np.float32)
    sec = tiled(sec_tile, size, size).astype(np.float32)
    tracker = OffsetTracker(CorrelationParams(chip=32, search=16, spacing=12, prefilter="wallis", max_chip=32),
                            backend="numpy", threads=1)
    tracker.track(ArraySource(ref[:200, :200]), ArraySource(sec[:200, :200]))  # warm-up (FFT plans, imports)
    if baseline:
        return {"points": 0}
    c0 = time.process_time()
    field = tracker.track(ArraySource(ref), ArraySource(sec))
    cpu = time.process_time() - c0
    return {"points": int(field.status.size), "cpu_seconds": cpu, "valid_fraction": float(field.valid.mean()),
            "cpu_microseconds_per_point": cpu / field.status.size * 1e6}


def point_cost(args):
    """--point-cost: instructions and one-thread CPU time per point of each version and size (see the docstring)."""
    from concurrent.futures import ThreadPoolExecutor

    versions = [tuple(item.split("=", 1)) for item in args.compare] + [("now", str(ROOT))]
    sizes = args.size or [720]

    def child(code, size, baseline=False):
        cmd = [sys.executable, __file__, "--case", "point-cost", "--size", str(size)]
        return cmd + (["--baseline"] if baseline else []), dict(os.environ, SERAC_BENCH_CODE=code, **ONE_THREAD)

    out = {(label, size): {"code": code, "image_px": [size, size]} for size in sizes for label, code in versions}
    if args.instructions:
        if not valgrind_available():
            raise SystemExit("--instructions needs valgrind")
        keys = [(label, code, size, baseline) for size in sizes for label, code in versions for baseline in (True, False)]
        with ThreadPoolExecutor(args.jobs) as pool:  # callgrind children are independent: counts do not change
            counted = dict(zip(keys, pool.map(lambda k: count_instructions(*child(k[1], k[2], k[3])), keys)))
        for size in sizes:
            for label, code in versions:
                base = counted[(label, code, size, True)][0]
                total, stdout = counted[(label, code, size, False)]
                run = json.loads(stdout.strip().splitlines()[-1])
                out[(label, size)].update(instructions_baseline=base, instructions_with_correlation=total,
                                          points=run["points"], valid_fraction=run["valid_fraction"],
                                          instructions_per_point=(total - base) / run["points"])
                print(f"{label}, {size} px: {out[(label, size)]['instructions_per_point']:,.0f} instructions per point",
                      file=sys.stderr)
    loads = []
    for _ in range(args.rounds):  # versions alternate, so every round sees them under the same load
        loads.append(list(os.getloadavg()))
        for size in sizes:
            for label, code in versions:
                cmd, env = child(code, size)
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                figures = out[(label, size)]
                figures.setdefault("cpu_microseconds_per_point_rounds", []).append(run["cpu_microseconds_per_point"])
                figures.update(points=run["points"], valid_fraction=run["valid_fraction"])
    rows = []
    for (label, _), figures in out.items():
        rounds = figures.get("cpu_microseconds_per_point_rounds", [])
        if rounds:
            figures.update(cpu_microseconds_per_point_median=float(np.median(rounds)),
                           cpu_microseconds_per_point_min=float(min(rounds)),
                           cpu_microseconds_per_point_max=float(max(rounds)))
        rows.append(dict(figures, version=label, label=args.label.get(label, label)))
    result = {"benchmark": "velocity cost per point, one thread", "machine": machine_info("torch"),
              "settings": {"chip_px": 32, "search_px": 16, "spacing_px": 12, "prefilter": "wallis",
                           "subpixel": "dft", "backend": "numpy", "threads": 1,
                           "image_px": [[size, size] for size in sizes]},
              "rows": rows, "rounds": args.rounds, "load_average_1_5_15_min_per_round": loads}
    if args.note:
        result["note"] = args.note
    write_result(args.out or ROOT / "benchmarks" / "results" / "velocity_cpu_per_point.json", result)


def make_sentinel2_pair(size, workdir):
    """Write the Sentinel-2-sized uint8 pair (10 m, EPSG:32645, 10 days apart) strip by strip; return paths."""
    import rasterio
    from affine import Affine

    ref_tile, sec_tile = periodic_tiles()
    paths = []
    for name, tile in (("S2_ref_20200101.tif", ref_tile), ("S2_sec_20200111.tif", sec_tile)):
        path = Path(workdir) / name
        profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="uint8", crs="EPSG:32645",
                       transform=Affine(10.0, 0, 400000.0, 0, -10.0, 3100000.0), tiled=True, blockxsize=512,
                       blockysize=512)
        with rasterio.open(path, "w", **profile) as ds:
            for r0 in range(0, size, 1024):
                rows = min(1024, size - r0)
                block = np.clip(np.rint(tiled(tile, rows, size, r0, 0)), 0, 255).astype("uint8")
                ds.write(block, 1, window=rasterio.windows.Window(0, r0, size, rows))
        paths.append(path)
    return paths


def case_sentinel2(size, workdir):
    """The whole file pipeline on the pair written by :func:`make_sentinel2_pair` (in the parent)."""
    from serac.core.velocity import CorrelationParams, glacier_velocity

    paths = [Path(workdir) / "S2_ref_20200101.tif", Path(workdir) / "S2_sec_20200111.tif"]
    rss_before = peak_rss_mb()
    params = CorrelationParams(chip=32, search=16, spacing=12, max_chip=32)
    t0, c0 = time.perf_counter(), time.process_time()
    res = glacier_velocity(paths[0], paths[1], Path(workdir) / "velocity.tif", params=params, backend="numpy")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = res.valid
    px_per_year = 10.0 / (10 / 365.25)
    return {"backend": res.summary["backend"], "image_px": [size, size], "points": int(res.status.size),
            "seconds": seconds, "points_per_second": res.status.size / seconds, "cpu_seconds": cpu,
            "cpu_microseconds_per_point": cpu / res.status.size * 1e6, "valid_fraction": res.summary["valid_fraction"],
            "median_error_px": [float(-np.median(res.vy[ok]) / px_per_year - SHIFT[0]),
                                float(np.median(res.vx[ok]) / px_per_year - SHIFT[1])],
            "input_size_mb": sum(p.stat().st_size for p in paths) / 2**20,
            "whole_pair_float32_mb": 2 * size * size * 4 / 2**20, "peak_rss_mb_before_run": rss_before}


def sentinel2_size(quick):
    return 2196 if quick else 10980


def run_case(name, quick, workdir=None, args=None):
    """Child process entry: run one case and print its JSON (with peak RSS) on stdout."""
    size = 1200 if quick else 2400
    if name == "point-cost":
        print(json.dumps(case_point_cost(args.size[0], args.baseline)))
        return
    if name.startswith("throughput-"):
        backend = name[len("throughput-"):].replace("-nofilter", "")
        result = case_throughput(backend, size, "none" if name.endswith("-nofilter") else "wallis")
    elif name == "sentinel2-numpy":
        result = case_sentinel2(sentinel2_size(quick), workdir)
    else:
        raise SystemExit(f"unknown case {name}")
    result["case"] = name
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small images (well under a minute)")
    ap.add_argument("--out", help="output JSON (default: benchmarks/results/velocity.json, or "
                                  "velocity_cpu_per_point.json with --point-cost)")
    ap.add_argument("--point-cost", action="store_true", help="one-thread cost per point of each version (below)")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                    help="--point-cost: also measure the code in DIR (another checkout)")
    ap.add_argument("--label", action="append", default=[], metavar="NAME=TEXT",
                    help="--point-cost: what a version is (e.g. a commit), for the JSON and the docs")
    ap.add_argument("--size", type=int, action="append", help="--point-cost: image side (px; repeat for several; "
                                                               "default 720)")
    ap.add_argument("--jobs", type=int, default=1, help="--point-cost: callgrind children run at once")
    ap.add_argument("--rounds", type=int, default=5, help="--point-cost: timing rounds")
    ap.add_argument("--instructions", action="store_true", help="--point-cost: count instructions (valgrind)")
    ap.add_argument("--note", default="", help="--point-cost: a note for the JSON and the docs")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.label = dict(item.split("=", 1) for item in args.label)
    if args.case:
        return run_case(args.case, args.quick, args.workdir, args)
    if args.point_cost:
        return point_cost(args)
    args.out = args.out or str(ROOT / "benchmarks" / "results" / "velocity.json")
    from serac.core.backend import cuda_available

    cases = ["throughput-numpy", "throughput-numpy-nofilter", "throughput-torch-cpu"]
    if cuda_available():
        cases.append("throughput-torch-cuda")
    cases.append("sentinel2-numpy")
    results = []
    workdir = tempfile.TemporaryDirectory(prefix="serac-bench-")
    for case in cases:
        cmd = [sys.executable, __file__, "--case", case] + (["--quick"] if args.quick else [])
        if case.startswith("sentinel2"):
            t0 = time.perf_counter()
            make_sentinel2_pair(sentinel2_size(args.quick), workdir.name)
            print(f"wrote the {sentinel2_size(args.quick)} px pair in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
            cmd += ["--workdir", workdir.name]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{case} FAILED:\n{proc.stderr[-3000:]}", file=sys.stderr)
            results.append({"case": case, "error": proc.stderr[-3000:]})
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{case}: {r['points']} points in {r['seconds']:.2f} s = {r['points_per_second']:.0f} points/s "
              f"({r['cpu_microseconds_per_point']:.0f} CPU-us per point), peak RSS {r['peak_rss_mb']:.0f} MB",
              file=sys.stderr)
    workdir.cleanup()
    out = {"benchmark": "velocity", "quick": args.quick, "machine": machine_info("torch"),
           "settings": {"chip_px": 32, "search_px": 16, "window_px": 64, "spacing_px": 12, "subpixel": "dft",
                        "chip_fallback": False},
           "results": results}
    write_result(args.out, out)


if __name__ == "__main__":
    main()
