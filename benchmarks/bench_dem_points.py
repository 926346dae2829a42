#!/usr/bin/env python
"""Benchmark DEM-to-points co-registration and elevation-change uncertainty: time and peak memory.

Usage: ``.venv/bin/python benchmarks/bench_dem_points.py`` -> benchmarks/results/dem_points.json

Cases (each in its own subprocess so its peak RSS is its own; the 21 Mpx grid is the
Longyearbyen pair resampled to 5 m, built as in bench_dem.py):

* ``points_100k``: Nuth & Kääb + vertical shift of the 21 Mpx DEM_1995 (moved by a known
  shift) to 100,000 random points whose heights are the unmoved DEM (bilinear) + 0.3 m noise;
  time of :func:`coregister_to_points` from the file path (reading the window around the points
  included);
* ``uncertainty_21mpx``: the 21 Mpx pair co-registered (Nuth & Kääb + deramp 1) and applied in
  memory, then timed: :func:`estimate_uncertainty` (error model, variogram, fit) on the stable
  terrain and :func:`area_changes` for the 38 glacier outlines. Peak RSS is that of the whole
  case (the two 21 Mpx float32 arrays, dh and the aligned DEM, included).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import peak_rss_mb, write_result  # noqa: E402 (benchmarks/ is on sys.path as the script folder)
from bench_dem import DATA, ROOT, build_21mpx  # noqa: E402 (bench_dem makes serac importable)


def points_case(paths, n_points=100_000, repeats=3):
    import numpy as np
    from affine import Affine

    from serac.core import raster_io as rio
    from serac.core.dem.altimetry import PointTable
    from serac.core.dem.points import bilinear_at, coregister_to_points

    base = peak_rss_mb()
    dem = rio.read_raster(paths["dem"])
    g, z = dem.grid, dem.band(1)
    rng = np.random.default_rng(0)
    rows = rng.uniform(10, g.height - 10, n_points)
    cols = rng.uniform(10, g.width - 10, n_points)
    h = bilinear_at(z, rows - 0.5, cols - 0.5) + rng.normal(0, 0.3, n_points)
    x, y = g.transform * (cols, rows)
    ok = np.isfinite(h)
    points = PointTable(np.asarray(x)[ok], np.asarray(y)[ok], h[ok], g.crs)
    shift = (7.3, -4.1, 2.2)
    moved_path = Path(paths["folder"]) / "dem_moved.tif"
    moved = rio.RasterGrid(g.crs, Affine.translation(shift[0], shift[1]) * g.transform, g.width, g.height)
    rio.write_raster(moved_path, (z + np.float32(shift[2]))[None], moved, nodata=-9999.0)
    del dem, z
    walls, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = coregister_to_points(moved_path, points)
        walls.append(time.perf_counter() - t0)
    return {"points": len(points), "grid": g.describe(), "seconds": min(walls), "seconds_first": walls[0],
            "repeats": repeats, "shift_found_m": [result.shift_x_m, result.shift_y_m, result.shift_z_m],
            "true_correction_m": [-s for s in shift], "iterations": result.steps[0]["info"]["iterations"],
            "breakdown_s": result.timings_s, "rss_baseline_mb": base, "peak_rss_mb": peak_rss_mb()}


def uncertainty_case(paths):
    import numpy as np
    import rasterio.features

    from serac.core import raster_io as rio
    from serac.core.dem import StableTerrain, apply_in_memory, make_pipeline
    from serac.core.dem.uncertainty import area_changes, estimate_uncertainty
    from serac.core.vector_io import read_geometries

    base = peak_rss_mb()
    result = make_pipeline("nuth_kaab", deramp_order=1).fit(paths["ref"], paths["dem"],
                                                            StableTerrain(mask_path=paths["mask"]))
    aligned, dh = apply_in_memory(result, paths["ref"], paths["dem"])
    grid = rio.read_grid(paths["ref"])
    stable = rio.read_raster(paths["mask"]).band(1) == 0
    stable &= np.isfinite(dh)
    geoms = read_geometries(DATA / "glacier_outlines_1990_derived.gpkg", target_crs=grid.crs)
    labels = rasterio.features.rasterize([(gm, i + 1) for i, gm in enumerate(geoms)], out_shape=grid.shape,
                                         transform=grid.transform, fill=0, dtype="int32")
    rss_inputs = peak_rss_mb()
    t0 = time.perf_counter()
    u = estimate_uncertainty(dh, aligned, stable, grid.res)
    t1 = time.perf_counter()
    per = area_changes(dh, aligned, labels, u)
    t2 = time.perf_counter()
    largest = max(per.values(), key=lambda d: d["area_m2"])
    return {"pixels": grid.width * grid.height, "grid": grid.describe(), "stable_px": u.stable_count,
            "estimate_uncertainty_s": t1 - t0, "area_changes_38_glaciers_s": t2 - t1, "total_s": t2 - t0,
            "variogram_model": u.model.to_dict(), "largest_glacier_sigma_mean_dh_m": largest["sigma_mean_dh_m"],
            "rss_baseline_mb": base, "peak_rss_before_uncertainty_mb": rss_inputs, "peak_rss_mb": peak_rss_mb()}


def spawn(case, paths):
    cmd = [sys.executable, __file__, "--child", case, "--paths", json.dumps(paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["case"] = case
    print(f"{case}: {json.dumps({k: v for k, v in out.items() if 's' == k[-1:] or 'rss' in k})}", file=sys.stderr)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "dem_points.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        paths = json.loads(args.paths)
        out = points_case(paths) if args.child == "points_100k" else uncertainty_case(paths)
        print(json.dumps(out))
        return 0
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        paths = {**build_21mpx(folder), "folder": folder}
        cases = [spawn("points_100k", paths), spawn("uncertainty_21mpx", paths)]
    import numpy
    import scipy

    res = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                       "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
                       "date": time.strftime("%Y-%m-%d %H:%M:%S")},
           "notes": "run once while the 2-CPU machine was shared by 6 agents: times are upper bounds",
           "cases": cases, "wall_s": time.perf_counter() - t_start}
    write_result(args.output, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
