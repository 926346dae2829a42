#!/usr/bin/env python
"""Benchmark SAR incidence-angle normalization against a plain read + write of the same raster.

Usage: ``.venv/bin/python benchmarks/bench_sar.py [--quick]`` -> benchmarks/results/sar.json

Inputs are generated in a temporary folder (deleted afterwards): a float32 sigma0 raster in dB
(the real pyroSAR Sentinel-1 scene tiled to size, with independent speckle so it compresses
like real data), an incidence-angle raster (30-45 deg ramp) and a beta raster, all tiled
DEFLATE GeoTIFFs on a 20 m UTM 32N grid placed inside the footprint of the real IW annotation
(so the annotation can give the angle too). Size: 10 000 x 10 000 px (full run) or
2 000 x 2 000 (``--quick``).

Cases, each in its own subprocess (clean peak RSS), all blockwise (1024 px blocks) writing a
DEFLATE COG through the same RasterWriter:

* ``copy``: read + write of the sigma0 raster (the baseline);
* ``cosine_angle_raster``: cosine law (n = 2), angle from the angle raster (a second file read);
* ``linear_angle_annotation``: linear in dB (scalar beta), angle from the annotation XML;
* ``linear_beta_raster``: linear in dB, angle raster and beta raster (three files read).

Reported: wall time (s), ratio to ``copy``, peak RSS (MB) and tracemalloc peak of the Python
heap (MB, numpy included).
"""

import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _checkout import ROOT  # noqa: E402 (makes serac importable)
from _memory import machine_info, write_result  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "sar"

PYROSAR = SHARED / "pyrosar" / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
BLOCK = 1024
CASES = ("copy", "cosine_angle_raster", "linear_angle_annotation", "linear_beta_raster")


def annotation_xml():
    return glob.glob(str(SHARED / "s1_annotation" / "S1B_IW_GRDH*" / "*iw-grd-vv*.xml"))[0]


def make_inputs(folder, size):
    """Write sigma0 (dB), angle and beta rasters of size x size px; returns their paths."""
    import numpy as np
    from affine import Affine
    from rasterio.crs import CRS

    from serac.core import raster_io as rio
    from serac.core.sar import synthetic

    grid = rio.RasterGrid(CRS.from_epsg(32632), Affine(20.0, 0, 560_000, 0, -20.0, 5_230_000), size, size)
    tile = rio.read_raster(PYROSAR).data[0]
    paths = {k: str(Path(folder) / f"{k}.tif") for k in ("sigma_db", "theta", "beta")}
    writers = [rio.RasterWriter(paths[k], grid, 1, cog=False) for k in paths]
    for w in writers:
        w.__enter__()
    try:
        for i, (win, _) in enumerate(rio.iter_blocks(grid.shape, BLOCK)):
            h, w = int(win.height), int(win.width)
            reps = (h // tile.shape[0] + 1, w // tile.shape[1] + 1)
            sigma = np.tile(tile, reps)[:h, :w] + synthetic.speckle_db((h, w), 18, seed=i)
            cols = np.arange(win.col_off, win.col_off + w)
            theta = np.broadcast_to((30.0 + 15.0 * cols / (size - 1)).astype(np.float32), (h, w))
            beta = np.full((h, w), -0.2, np.float32)
            for writer, data in zip(writers, (sigma, theta, beta)):
                writer.write(data, win)
    finally:
        for w in writers:
            w.__exit__(None, None, None)
    return paths


def run_case(case, paths, out_path):
    """Run one case in this process; returns a dict of measurements."""
    from serac.core import raster_io as rio
    from serac.core.sar.engine import normalize_raster
    from serac.core.sar.normalization import CosineLaw, LinearDB
    from serac.core.sar.sources import AnnotationAngleSource

    tracemalloc.start()
    t0 = time.perf_counter()
    extra = {}
    if case == "copy":
        grid = rio.read_grid(paths["sigma_db"])
        with rio.RasterWriter(out_path, grid, 1) as writer:
            for win, _ in rio.iter_blocks(grid.shape, BLOCK):
                writer.write(rio.read_raster(paths["sigma_db"], window=win).data, win)
    elif case == "cosine_angle_raster":
        res = normalize_raster(paths["sigma_db"], out_path, CosineLaw(2.0, 35.0), paths["theta"], unit="dB",
                               block_size=BLOCK)
        extra = {"slope_before_db_per_deg": res.slope_before[0], "slope_after_db_per_deg": res.slope_after[0]}
    elif case == "linear_angle_annotation":
        grid = rio.read_grid(paths["sigma_db"])
        res = normalize_raster(paths["sigma_db"], out_path, LinearDB(-0.2, 35.0),
                               AnnotationAngleSource(annotation_xml(), grid), unit="dB", block_size=BLOCK)
        extra = {"angle_range_deg": list(res.angle_range)}
    elif case == "linear_beta_raster":
        res = normalize_raster(paths["sigma_db"], out_path, LinearDB(paths["beta"], 35.0), paths["theta"],
                               unit="dB", block_size=BLOCK)
    wall = time.perf_counter() - t0
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"case": case, "wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "python_heap_peak_mb": heap_peak / 2 ** 20, "output_mb": os.path.getsize(out_path) / 2 ** 20, **extra}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true", help="2000 x 2000 px instead of 10000 x 10000")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # child process
        print(json.dumps(run_case(args.case, json.loads(args.inputs), args.out)))
        return
    size = 2000 if args.quick else 10_000
    folder = tempfile.mkdtemp(prefix="serac_bench_sar_")
    try:
        t0 = time.perf_counter()
        paths = make_inputs(folder, size)
        make_s = time.perf_counter() - t0
        results = []
        for case in CASES:
            out = os.path.join(folder, f"out_{case}.tif")
            proc = subprocess.run([sys.executable, __file__, "--case", case, "--inputs", json.dumps(paths),
                                   "--out", out], capture_output=True, text=True, check=True)
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            os.remove(out)
            print(f"{case:26s} {results[-1]['wall_s']:7.2f} s  peak RSS {results[-1]['peak_rss_mb']:7.0f} MB",
                  flush=True)
        base = results[0]["wall_s"]
        for r in results:
            r["ratio_to_copy"] = r["wall_s"] / base
        report = {"topic": "sar", "quick": args.quick, "machine": machine_info(),
                  "raster": {"width": size, "height": size, "dtype": "float32", "block_px": BLOCK,
                             "input_mb": os.path.getsize(paths["sigma_db"]) / 2 ** 20,
                             "make_inputs_s": make_s},
                  "target": "normalization within 2x of the plain read + write (copy)",
                  "cases": results}
        write_result(ROOT / "benchmarks" / "results" / "sar.json", report)
        for r in results:
            print(f"{r['case']:26s} ratio to copy {r['ratio_to_copy']:.2f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
