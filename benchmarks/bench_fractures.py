"""Benchmark of the crevasse and fracture map: throughput (Mpx/s) and peak memory on a 10,000² input.

Cases (each in its own subprocess, so the peak RSS is clean; GDAL_CACHEMAX=256 MB so the figure is what
the engine needs, not GDAL's block cache):

* ``filter_bank``: the "Crevasse and fracture map" job with the filter bank at its defaults (12
  orientations, 40-400 m = 11 wavelengths, 2048 px blocks) on a 10000 x 10000 px mosaic of mirrored
  copies of the real Landsat 8 B8 scene of Yahtse Glacier (15 m): response, lines, density, orientation.
* ``model``: the same job with the shipped default fracture model (fractures_moa_v1 when last run) on a 10000 x 10000 px mosaic of the
  Lai et al. (2020) MOA test tiles at 125 m (given a polar-stereographic grid for the run).

``--quick`` uses 2048 x 2048 px. Results go to benchmarks/results/fractures.json.

    python benchmarks/bench_fractures.py [--quick] [--cases filter_bank,model]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _checkout  # noqa: F401 (benchmarks/ is on sys.path as the script folder; makes serac importable)
from _memory import machine_info, peak_rss_mb, write_result  # noqa: E402 (benchmarks/ is on sys.path as the script folder)
from _scenes import mirror_mosaic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
YAHTSE = os.path.join(SHARED, "velocity", "carst_yahtse_l8", "LC80630182016200LGN00_B8_yahtse.TIF")
MOA_TILE = os.path.join(SHARED, "seg", "lai2020_antarctic_fractures", "data_testset", "MOA209_125m_mask12x21.tif")
RESULTS = os.path.join(ROOT, "benchmarks", "results", "fractures.json")


def make_scene(path, size, case):
    """An N x N px single-band mosaic of mirrored copies of a real scene (Yahtse B8 or a MOA tile)."""
    import numpy as np
    from affine import Affine
    from rasterio.crs import CRS

    from serac.core import raster_io as rio

    if case == "filter_bank":
        src = rio.read_raster(YAHTSE)
        data, grid = src.data[0], rio.RasterGrid(src.grid.crs, src.grid.transform, size, size)
    else:
        import rasterio

        with rasterio.open(MOA_TILE) as ds:
            data = ds.read(1).astype("float32")
        grid = rio.RasterGrid(CRS.from_epsg(3031), Affine(125.0, 0, -400_000.0, 0, -125.0, -1_000_000.0), size, size)
    return mirror_mosaic(path, np.nan_to_num(data).astype("uint16")[None], grid, "uint16")


def run_case(case, scene, outdir, threads):
    from serac.core.jobs import run_job
    from serac.core.raster_io import read_grid

    grid = read_grid(scene)
    outputs = {k: os.path.join(outdir, f"{case}_{k}.tif")
               for k in ("output_response", "output_density", "output_orientation")}
    settings = {"method": case} if case == "model" else {}
    if case == "model":
        settings["window_m"] = 5000.0
    start = time.perf_counter()
    result = run_job("fracture_map", {"input": scene}, outputs, settings, threads=threads)
    wall = time.perf_counter() - start
    mpx = grid.width * grid.height / 1e6
    return {"width": grid.width, "height": grid.height, "megapixels": round(mpx, 2), "wall_s": round(wall, 1),
            "mpx_per_s": round(mpx / wall, 4), "peak_rss_mb": round(peak_rss_mb(), 1),
            "n_lines": result.numbers["n_lines"], "method": result.numbers["method_used"], "threads": threads}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2048 x 2048 px instead of 10000 x 10000")
    parser.add_argument("--cases", default="filter_bank,model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.scene, args.outdir, args.threads)))
        return 0
    size = 2048 if args.quick else 10000
    results = {}
    env = dict(os.environ, GDAL_CACHEMAX="256")
    with tempfile.TemporaryDirectory(prefix="serac_bench_fractures_") as tmp:
        for case in args.cases.split(","):
            t = time.perf_counter()
            scene = make_scene(os.path.join(tmp, f"{case}_scene.tif"), size, case)
            prep = time.perf_counter() - t
            cmd = [sys.executable, os.path.abspath(__file__), "--case", case, "--scene", scene, "--outdir", tmp,
                   "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                results[case] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
            else:
                results[case] = dict(json.loads(proc.stdout.strip().splitlines()[-1]),
                                     scene_preparation_s=round(prep, 1))
            print(case, json.dumps(results[case]), flush=True)

    doc = {"topic": "fractures", "quick": args.quick,
           "scenes": {"filter_bank": "mosaic of the real Landsat 8 B8 scene of Yahtse Glacier (15 m)",
                      "model": "mosaic of a Lai et al. 2020 MOA2009 test tile (125 m)"},
           "gdal_cachemax_mb": 256,
           "machine": dict(machine_info("onnxruntime"), note="shared 2-core build machine with other agents' jobs running at the "
                                                "same time: throughput is a lower bound, rerun on a quiet machine "
                                                "for the docs"),
           "results": results}
    write_result(RESULTS, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
