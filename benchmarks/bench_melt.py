#!/usr/bin/env python
"""Benchmark wet-snow and melt detection on a 100-date stack of 2 000 x 2 000 px, processed block by block.

Usage: ``.venv/bin/python benchmarks/bench_melt.py [--quick]`` -> benchmarks/results/melt.json

Inputs are generated in a temporary folder (deleted afterwards), on a 20 m UTM 32N grid inside the footprint of the
real Sentinel-1 IW annotation (shared data, or its bundled copy): VV and VH as one dated multi-band stack each
(float32 dB, tiled, uncompressed, band descriptions ``VV_YYYYMMDD``), built from the real pyroSAR backscatter tiled
to size with independent speckle per date and a 4 dB drop on the summer dates, and a ridge DEM. Size: 100 dates of
2 000 x 2 000 px (full run; 1.6 GB per polarisation) or 10 dates of 500 x 500 (``--quick``).

Cases, each in its own subprocess (clean peak memory), all through the job ``sar_melt`` (dual-pol rule, local
incidence angle and layover/shadow from the annotation and the DEM), writing the wet-snow map (one band per date),
onset, end and count:

* ``block256``: 256 px blocks (the default);
* ``block512``: 512 px blocks (4x the memory per block);
* ``block256_gdal_cache_256mb``: 256 px blocks with GDAL's raster block cache limited to 256 MB (GDAL_CACHEMAX),
  to separate the job's own memory from GDAL's cache.

Reported: wall time (s), time per date (s), peak resident memory (MiB, VmHWM) and the Python heap peak (tracemalloc,
numpy included).
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _checkout import ROOT  # noqa: E402 (makes serac importable)
from _memory import machine_info, peak_rss_mb, write_result  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "sar"
SAMPLE = ROOT / "resources" / "sample_data" / "sar"

PYROSAR = "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
#: case -> (block size in px, GDAL block cache in MB or None for GDAL's default of 5 % of the RAM)
CASES = {"block256": (256, None), "block512": (512, None), "block256_gdal_cache_256mb": (256, 256)}
NOTE = ("Measured while 7 agents shared the machine's 2 CPU cores: wall times are upper bounds, expect them shorter "
        "on an idle machine; peak memory is not affected.")


def data_file(name_glob):
    for folder in (SHARED / "pyrosar", SHARED / "s1_annotation" / "S1B_IW_GRDH*", SAMPLE):
        found = glob.glob(str(folder / name_glob))
        if found:
            return found[0]
    raise FileNotFoundError(name_glob)


def make_inputs(folder, size, n_dates):
    """Write the VV and VH stacks and the DEM; returns their paths and the dates."""
    import numpy as np
    from affine import Affine
    from rasterio.crs import CRS

    from serac.core import raster_io as rio
    from serac.core.sar import synthetic

    grid = rio.RasterGrid(CRS.from_epsg(32632), Affine(20.0, 0, 560_000, 0, -20.0, 5_230_000), size, size)
    tile = rio.read_raster(data_file(PYROSAR)).data[0]
    dates = np.datetime64("2020-11-01") + np.arange(n_dates) * (365 // n_dates)
    month = dates.astype("datetime64[M]").astype(int) % 12 + 1
    summer = (month >= 5) & (month <= 9)
    paths = {"dem": str(Path(folder) / "dem.tif")}
    rio.write_raster(paths["dem"], synthetic.ridge_dem(grid.shape, 20.0), grid, cog=False)
    for pol, offset in (("VV", 0.0), ("VH", -6.0)):
        paths[pol] = str(Path(folder) / f"{pol}_stack.tif")
        names = [f"{pol}_{str(d).replace('-', '')}" for d in dates]
        with rio.RasterWriter(paths[pol], grid, count=n_dates, band_names=names, cog=False, compress="NONE",
                              tags={"RELATIVE_ORBIT": 168, "UNIT": "dB"}) as writer:
            for i, (win, _) in enumerate(rio.iter_blocks(grid.shape, 1000)):
                h, w = int(win.height), int(win.width)
                base = np.tile(tile, (h // tile.shape[0] + 1, w // tile.shape[1] + 1))[:h, :w] + offset
                block = np.stack([base + synthetic.speckle_db((h, w), 17, seed=1000 * i + t) for t in range(n_dates)])
                block[summer] -= 4.0
                writer.write(block, win)
    return paths, [str(d) for d in dates]


def run_case(case, paths):
    """Run one case in this process; returns its measurements."""
    from serac.core.jobs import run_job

    folder = os.path.dirname(paths["VV"])
    outputs = {k: os.path.join(folder, f"{case}_{k}.tif") for k in ("wet_snow", "melt_onset", "melt_end",
                                                                       "wet_count")}
    tracemalloc.start()
    t0 = time.perf_counter()
    result = run_job("sar_melt", {"vv": [paths["VV"]], "vh": [paths["VH"]], "annotation": paths["annotation"],
                                  "dem": paths["dem"]}, outputs, {"block": CASES[case][0]})
    wall = time.perf_counter() - t0
    _, heap = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = result.numbers["n_dates"]
    out = {"case": case, "block_px": CASES[case][0], "gdal_cachemax_mb": CASES[case][1], "wall_s": wall, "s_per_date": wall / n,
           "peak_rss_mb": peak_rss_mb(), "python_heap_peak_mb": heap / 2 ** 20,
           "wet_snow_mb": os.path.getsize(outputs["wet_snow"]) / 2 ** 20,
           "peak_wet_fraction": result.numbers["peak_wet_fraction"]}
    for path in outputs.values():
        os.remove(path)
    return out


def save(args, stack, results):
    """Write the results (merged with an earlier run's other cases when only some cases ran)."""
    report = {"topic": "melt", "quick": args.quick, "machine": machine_info(), "note": NOTE, "stack": stack,
              "cases": list(results)}
    out_dir = ROOT / "benchmarks" / "results"
    path = out_dir / ("melt_quick.json" if args.quick else "melt.json")
    if args.only and path.exists():  # keep the other cases of the earlier run
        names = {r["case"] for r in results}
        report["cases"] = [c for c in json.loads(path.read_text())["cases"] if c["case"] not in names] + list(results)
        report["cases"].sort(key=lambda c: list(CASES).index(c["case"]))
    write_result(path, report)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true", help="10 dates of 500 x 500 px instead of 100 of 2000 x 2000")
    parser.add_argument("--only", nargs="*", choices=list(CASES),
                        help="run these cases and replace them in an existing results file")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # child process
        print(json.dumps(run_case(args.case, json.loads(args.inputs))))
        return
    size, n_dates = (500, 10) if args.quick else (2000, 100)
    size, n_dates = (int(os.environ.get("MELT_BENCH_SIZE", size)), int(os.environ.get("MELT_BENCH_DATES", n_dates)))
    folder = tempfile.mkdtemp(prefix="serac_bench_melt_")
    try:
        t0 = time.perf_counter()
        paths, dates = make_inputs(folder, size, n_dates)
        paths["annotation"] = data_file("s1b-iw-grd-vv-*.xml")
        make_s = time.perf_counter() - t0
        stack = {"width": size, "height": size, "dates": n_dates, "first_date": dates[0], "last_date": dates[-1],
                 "polarisations": ["VV", "VH"], "dtype": "float32",
                 "input_mb_per_polarisation": os.path.getsize(paths["VV"]) / 2 ** 20, "make_inputs_s": make_s}
        results = []
        for case in args.only or CASES:
            env = dict(os.environ, **({"GDAL_CACHEMAX": str(CASES[case][1])} if CASES[case][1] else {}))
            proc = subprocess.run([sys.executable, __file__, "--case", case, "--inputs", json.dumps(paths)],
                                  capture_output=True, text=True, env=env)
            if proc.returncode:
                sys.exit(f"case {case} failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(f"{case:10s} {r['wall_s']:7.1f} s  {r['s_per_date']:6.2f} s/date  peak RSS {r['peak_rss_mb']:6.0f} MiB",
                  flush=True)
            save(args, stack, results)  # after every case: a long run keeps what it measured
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
