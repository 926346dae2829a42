#!/usr/bin/env python
"""Benchmark the velocity time-series inversion: throughput, peak memory and accuracy.

Usage: ``.venv/bin/python benchmarks/bench_timeseries.py [--quick]`` -> benchmarks/results/timeseries.json

Every case runs in its own subprocess (so its peak RSS is its own). Pair stacks are
built from the real GLAFT Kaskawulsh vx/vy field (m/day -> m/yr, mirrored to the
grid size asked for) scaled by a known seasonal cycle; 40 pairs, two years of
acquisitions every 8 days, baselines 16-365 days, 3 m displacement noise, two
blunder pairs; time grid of 30-day steps (24 steps).

* ``core_fixed_<N>``: :meth:`PairInversion.solve` on N x N pixels in memory, lambda = 1,
  default screening ('reject') (pixels/s of the solve only; building the pairs is not timed).
* ``core_auto_<N>``: the same with lambda chosen per pixel by GCV (the default).
* ``end_to_end_<N>``: :func:`invert_stack` from 40 pair GeoTIFFs (one file with vx, vy per
  pair, written beforehand by another process) to the time-series and diagnostics GeoTIFFs,
  default settings (per-pixel GCV).
* ``accuracy_kaskawulsh`` / ``accuracy_columbia``: RMSE against the known truth of the
  inversion (fixed lambda 1, per-pixel GCV, per-pixel GCV without robust reweighting) and of
  the naive per-step mean of the overlapping pairs, on the crops used by the tests (Kaskawulsh 160 x 100 px, 40 pairs;
  ITS_LIVE Columbia 120 x 110 px, 36 pairs, 6-365 day baselines).

Full run: N = 1000 for core_fixed, 500 for core_auto and end_to_end; ``--quick``: N = 200.

``--instructions`` (needs valgrind) also counts, for every version, the instructions per pixel
of one thread solving a 40 x 40 px block of the core cases and one of the Kaskawulsh accuracy
case with cloud gaps, where nearly every pixel has its own set of pairs (fixed lambda 1 and
automatic; the solve's child minus a baseline child that builds the same stack and inversion
without solving): unlike the timings, these do not depend on the load of a shared machine.
``--jobs N`` runs N callgrind children at a time.

``--compare NAME=DIR`` (repeatable) runs every case also on the code of another checkout
(e.g. an earlier commit unpacked with ``git archive``), right before this checkout's run of
the same case, so the versions are measured back to back under the same load; the JSON then
holds each version's cases under ``versions`` (this checkout's as ``now``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _checkout import ROOT  # benchmarks/ is on sys.path; makes serac (or SERAC_BENCH_CODE's) importable
from _instructions import count_instructions, valgrind_available
from _memory import machine_info, peak_rss_mb, write_result
from pathlib import Path

DATA = ROOT.parent / "shared" / "data" / "velocity"
KASKAWULSH = DATA / "glaft_kaskawulsh" / "20180304-20180405_velo-raw_{}.tif"
COLUMBIA = DATA / "itslive_columbia" / "crop_ALA_G0120_0000_{}.tif"
BLOCK = 256
SHORT_DAYS = 16  # pairs this short (days) are the "short pairs" of the accuracy cases


def kaskawulsh_field(size=None, window=None):
    """GLAFT Kaskawulsh vx, vy (2, rows, cols) in m/yr, mirrored to size x size when asked; and its grid."""
    import numpy as np

    from serac.core import raster_io as rio

    vx = rio.read_raster(str(KASKAWULSH).format("vx"), window=window)
    vy = rio.read_raster(str(KASKAWULSH).format("vy"), window=window)
    field = np.stack([vx.band(1), vy.band(1)]).astype(np.float64) * 365.25
    grid = vx.grid
    if size is not None:
        rows, cols = field.shape[1:]
        field = np.pad(field, ((0, 0), (0, max(0, size - rows)), (0, max(0, size - cols))), mode="reflect")
        field = field[:, :size, :size]
        grid = rio.RasterGrid(grid.crs, grid.transform, size, size)
    return field, grid


def scenario(field, seed=0):
    from serac.core.timeseries import synthetic as syn

    return syn.field_scenario(field, n_pairs=40, revisit_days=8, min_baseline=16, max_baseline=365,
                              signal=syn.SeasonalSignal(amplitude=0.4, peak_doy=190), sigma_disp=3.0,
                              outlier_pairs=2, outlier_size=300.0, outlier_fraction=0.5, seed=seed)


def core_case(size, regularisation):
    """Solve time of N x N pixels in memory, block by block (the pairs are built outside the timer)."""
    import numpy as np

    from serac.core.raster_io import iter_blocks
    from serac.core.timeseries import InversionSettings, PairInversion, TimeGrid
    from serac.core.timeseries import synthetic as syn

    field, _ = kaskawulsh_field(size)
    base = peak_rss_mb()
    first = scenario(field[:, :2, :2])  # the pair dates and signal (the same for every block)
    tgrid = TimeGrid.for_pairs(first.date1, first.date2, 30)
    inversion = PairInversion(first.date1, first.date2, tgrid,
                              InversionSettings(regularisation=regularisation, backend="numpy"))
    solve_s, solved, sq_err, n_err = 0.0, 0, 0.0, 0
    for k, (window, _) in enumerate(iter_blocks((size, size), BLOCK)):
        r0, c0, h, w = window.row_off, window.col_off, window.height, window.width
        block = field[:, r0:r0 + h, c0:c0 + w]
        stack, _ = syn.pair_stack(block, first.signal, first.date1, first.date2, sigma_disp=3.0, outlier_pairs=2,
                                  outlier_size=300.0, outlier_fraction=0.5, rng=np.random.default_rng(k))
        obs = stack.reshape(stack.shape[0], 2, -1).transpose(2, 0, 1)
        t0 = time.perf_counter()
        sol = inversion.solve(obs)
        solve_s += time.perf_counter() - t0
        solved += int(sol.solved.sum())
        truth = first.signal.grid_means(tgrid)[:, None, None] * block.reshape(1, 2, -1)
        err = sol.velocity - truth.transpose(2, 0, 1)
        sq_err += float(np.nansum(err**2))
        n_err += int(np.isfinite(err).sum())
    return {"pixels": size * size, "pixels_solved": solved, "pairs": 40, "steps": tgrid.n_steps,
            "regularisation": regularisation, "solve_s": solve_s, "pixels_per_s": size * size / solve_s,
            "rmse_m_per_yr": (sq_err / n_err) ** 0.5, "rss_baseline_mb": base, "peak_rss_mb": peak_rss_mb()}


def gap_scenario():
    """The Kaskawulsh accuracy case's pairs: 30 % of the acquisitions lost, four blunder pairs and a cloud gap of 15 %
    of the area in every pair (nearly every pixel has its own set of valid pairs)."""
    from serac.core.timeseries import synthetic as syn

    field, _ = kaskawulsh_field(window=(320, 280, 160, 100))
    return syn.field_scenario(field, n_pairs=40, revisit_days=8, drop_fraction=0.3, min_baseline=16,
                              signal=syn.SeasonalSignal(amplitude=0.4, peak_doy=190), sigma_disp=3.0,
                              outlier_pairs=4, outlier_size=300.0, outlier_fraction=0.5, gap_fraction=0.15, seed=7)


def instructions_case(size, regularisation, gaps=False):
    """One block of the core cases (``size`` x ``size`` px), solved on one thread unless ``regularisation`` is None
    (the baseline: the same stack, inversion and a one-pixel warm-up solve by another inversion, no solve).

    ``gaps``: instead, a ``size`` x ``size`` px block of the Kaskawulsh accuracy case with cloud gaps
    (:func:`gap_scenario`; rows 60-, columns 30-).
    """
    import numpy as np

    from serac.core.timeseries import InversionSettings, PairInversion, TimeGrid
    from serac.core.timeseries import synthetic as syn

    if gaps:
        sc = gap_scenario()
        first, stack = sc, sc.stack[:, :, 60:60 + size, 30:30 + size]
    else:
        field, _ = kaskawulsh_field(size)
        first = scenario(field[:, :2, :2])
        stack, _ = syn.pair_stack(field, first.signal, first.date1, first.date2, sigma_disp=3.0, outlier_pairs=2,
                                  outlier_size=300.0, outlier_fraction=0.5, rng=np.random.default_rng(0))
    tgrid = TimeGrid.for_pairs(first.date1, first.date2, 30)
    obs = stack.reshape(stack.shape[0], 2, -1).transpose(2, 0, 1)
    settings = InversionSettings(regularisation=1.0 if regularisation is None else regularisation, backend="numpy")
    PairInversion(first.date1, first.date2, tgrid, settings).solve(obs[:1])  # imports and first calls, in both
    inversion = PairInversion(first.date1, first.date2, tgrid, settings)  # a new one: nothing kept from the warm-up
    if regularisation is not None:
        inversion.solve(obs)
    return {"pixels": int(obs.shape[0])}


#: The instruction-count cases: (key in the JSON, child case kind); "gaps...": the block with cloud gaps.
INSTRUCTION_CASES = (("fixed", "fixed"), ("auto", "auto"), ("gaps_fixed", "gapsfixed"), ("gaps_auto", "gapsauto"))


def count_solve_instructions(versions, size=40, jobs=1):
    """Instructions per pixel of :func:`instructions_case` (core block and gap block, fixed lambda 1 and auto) for
    each (label, code) version; ``jobs`` callgrind children at a time."""
    from concurrent.futures import ThreadPoolExecutor

    runs = {}
    for label, code in versions:
        for kind in ("baseline", "gapsbaseline") + tuple(kind for _, kind in INSTRUCTION_CASES):
            env = dict(os.environ, SERAC_BENCH_CODE=str(code)) if code else None
            runs[label, kind] = ([sys.executable, __file__, "--child", f"ir_{kind}_{size}"], env)
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        counts = dict(zip(runs, pool.map(lambda run: count_instructions(*run)[0], runs.values())))
    out = {}
    for label, _ in versions:
        out[label] = {"pixels": size * size, "instructions_baseline": counts[label, "baseline"],
                      "instructions_baseline_gaps": counts[label, "gapsbaseline"]}
        for key, kind in INSTRUCTION_CASES:
            base = counts[label, "gapsbaseline" if kind.startswith("gaps") else "baseline"]
            out[label][f"{key}_instructions_per_pixel"] = (counts[label, kind] - base) / (size * size)
        print(f"instructions per pixel [{label}]: " + ", ".join(
            f"{key} {out[label][key + '_instructions_per_pixel']:,.0f}" for key, _ in INSTRUCTION_CASES),
            file=sys.stderr)
    return out


def build_pairs(size, folder):
    """Write the 40 pair GeoTIFFs of an N x N stack into ``folder`` (run in its own process); returns timing."""
    from serac.core.timeseries import synthetic as syn

    field, grid = kaskawulsh_field(size)
    sc = scenario(field)
    t0 = time.perf_counter()
    syn.write_pair_files(folder, sc.stack, sc.date1, sc.date2, grid, units="m/yr")
    return {"write_pairs_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


def end_to_end_case(size, folder):
    from serac.core.timeseries import InversionSettings, invert_stack

    paths = sorted(str(p) for p in Path(folder).glob("2*.tif"))
    base = peak_rss_mb()
    t0 = time.perf_counter()
    result = invert_stack(paths, Path(folder) / "ts.tif", step_days=30, settings=InversionSettings(backend="numpy"),
                          diagnostics_path=Path(folder) / "diag.tif")
    total = time.perf_counter() - t0
    return {"pixels": size * size, "pairs": len(paths), "steps": result.time_grid.n_steps,
            "regularisation": "auto (per-pixel GCV)", "invert_stack_s": total,
            "pixels_per_s": size * size / total, "median_lambda": result.median_regularisation,
            "median_residual_rms_m_per_yr": result.median_residual_rms, "rss_baseline_mb": base,
            "peak_rss_mb": peak_rss_mb()}


def accuracy_case(which):
    import numpy as np

    from serac.core import raster_io as rio
    from serac.core.timeseries import InversionSettings, PairInversion, TimeGrid
    from serac.core.timeseries import synthetic as syn

    if which == "kaskawulsh":
        sc = gap_scenario()
        field = sc.field
    else:
        window = (150, 150, 120, 110)
        field = np.stack([rio.read_raster(str(COLUMBIA).format(c), window=window).band(1)
                          for c in ("vx", "vy")]).astype(np.float64)
        sc = syn.field_scenario(field, n_pairs=36, revisit_days=6, min_baseline=6,
                                signal=syn.SeasonalSignal(amplitude=0.25, peak_doy=150, trend=0.05), sigma_disp=6.0,
                                outlier_pairs=3, outlier_size=1500.0, outlier_fraction=0.6, seed=3)
    tgrid = TimeGrid.for_pairs(sc.date1, sc.date2, 30)
    m = sc.stack.shape[0]
    obs = sc.stack.reshape(m, 2, -1).transpose(2, 0, 1)
    truth = sc.truth(tgrid).reshape(tgrid.n_steps, 2, -1).transpose(2, 0, 1)
    speed = np.hypot(*field).ravel()
    fast = speed > np.nanpercentile(speed, 75)
    out = {"pixels": int(obs.shape[0]), "pairs": m, "steps": tgrid.n_steps,
           "fast_pixels": "speed above the 75th percentile "
                          f"({np.nanpercentile(speed, 75):.0f} m/yr)"}

    def score(velocity):
        err = velocity - truth
        return {"rmse_m_per_yr": float(np.sqrt(np.nanmean(err**2))),
                "rmse_fast_m_per_yr": float(np.sqrt(np.nanmean(err[fast] ** 2)))}

    naive = syn.naive_series(sc.stack, sc.date1, sc.date2, tgrid).reshape(tgrid.n_steps, 2, -1).transpose(2, 0, 1)
    out["naive_mean_of_overlapping_pairs"] = score(naive)
    baseline = (sc.date2 - sc.date1).astype(int)
    good = ~np.isin(np.arange(m), sc.outliers)
    short = good & (baseline <= SHORT_DAYS)
    out["short_pairs"] = f"{int(short.sum())} good pairs of {SHORT_DAYS} days or less"
    for label, lam, robust in (("fixed_lambda_1", 1.0, None), ("auto_gcv", "auto", None),
                               ("auto_gcv_not_robust", "auto", "none")):
        options = dict(regularisation=lam, backend="numpy", **({"robust": robust} if robust else {}))
        t0 = time.perf_counter()
        sol = PairInversion(sc.date1, sc.date2, tgrid, InversionSettings(**options)).solve(obs)
        out[label] = dict(score(sol.velocity), solve_s=time.perf_counter() - t0)
        valid = np.isfinite(obs).all(-1)[fast]  # robust weights of the pairs a fast pixel has
        weights = sol.weights[fast]
        out[label]["fast_short_pairs_downweighted"] = float(np.mean(weights[:, short][valid[:, short]] < 0.5))
        out[label]["fast_other_good_pairs_downweighted"] = float(
            np.mean(weights[:, good & ~short][valid[:, good & ~short]] < 0.5))
        error = getattr(sol, "error", None)
        if error is not None:
            err = np.abs(sol.velocity - truth)
            out[label]["within_1_sigma"] = float(np.nanmean(err < error))
            out[label]["within_2_sigma"] = float(np.nanmean(err < 2 * error))
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def child(args):
    if args.case.startswith("core_fixed_"):
        out = core_case(int(args.case.rsplit("_", 1)[1]), 1.0)
    elif args.case.startswith("core_auto_"):
        out = core_case(int(args.case.rsplit("_", 1)[1]), "auto")
    elif args.case.startswith("ir_"):
        kind, size = args.case.split("_")[1:]
        gaps = kind.startswith("gaps")
        kind = kind[4:] if gaps else kind
        out = instructions_case(int(size), {"fixed": 1.0, "auto": "auto", "baseline": None}[kind], gaps=gaps)
    elif args.case.startswith("build_"):
        out = build_pairs(int(args.case.rsplit("_", 1)[1]), args.folder)
    elif args.case.startswith("end_to_end_"):
        out = end_to_end_case(int(args.case.rsplit("_", 1)[1]), args.folder)
    else:
        out = accuracy_case(args.case.split("_", 1)[1])
    print(json.dumps(out))


def spawn(name, folder=None, code=None, label=""):
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", name] + (["--folder", folder] if folder else [])
    env = dict(os.environ, SERAC_BENCH_CODE=str(code)) if code else None
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"case {name} ({label or 'now'}) failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result = {"case": name, **result, "wall_s": time.perf_counter() - t0}
    rate = result.get("pixels_per_s")
    print(f"{name}{' [' + label + ']' if label else ''}: " + (f"{rate:,.0f} px/s, " if rate else "")
          + f"peak RSS {result['peak_rss_mb']:.0f} MB, {result['wall_s']:.1f} s", file=sys.stderr)
    return result


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 x 200 px cases only")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "timeseries.json"))
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                        help="also run every case on the code in DIR (another checkout), back to back")
    parser.add_argument("--title", default="", help="a title for the comparison's section of docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a note for the JSON and the docs (e.g. the machine was shared)")
    parser.add_argument("--label", action="append", default=[], metavar="NAME=TEXT",
                        help="what a compared version is (e.g. its commit), for the JSON and the docs")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the instructions per pixel of each version (valgrind; see the docstring)")
    parser.add_argument("--jobs", type=int, default=1, help="callgrind children run at a time (--instructions)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.case = args.child
        return child(args)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} not found")
    versions = [tuple(item.split("=", 1)) for item in args.compare] + [("now", None)]
    t_start = time.perf_counter()
    big, mid = (200, 200) if args.quick else (1000, 500)
    names = [f"core_fixed_{big}", f"core_auto_{mid}", f"end_to_end_{mid}", "accuracy_kaskawulsh",
             "accuracy_columbia"]
    runs = {label: [] for label, _ in versions}
    load = [load_average()]
    for name in names:
        if name.startswith("end_to_end_"):
            with tempfile.TemporaryDirectory() as folder:  # pairs written by another process: clean peak RSS
                built = spawn(name.replace("end_to_end_", "build_"), folder)
                for label, code in versions:
                    runs[label].append(dict(spawn(name, folder, code, label), write_pairs_s=built["write_pairs_s"]))
        else:
            for label, code in versions:
                runs[label].append(spawn(name, None, code, label))
        load.append(load_average())
    out = {"topic": "timeseries", "quick": args.quick, "machine": machine_info(), "cases": runs["now"],
           "notes": "Pairs built from the real GLAFT Kaskawulsh / ITS_LIVE Columbia fields scaled by a known "
                    "seasonal cycle (see the docstring). Timings on a shared machine are noisy.",
           "load_average_1_5_15_min": load, "total_s": time.perf_counter() - t_start}
    if args.note:
        out["note"] = args.note
    if args.title:
        out["title"] = args.title
    if len(versions) > 1:
        labels = dict(item.split("=", 1) for item in args.label)
        out["versions"] = {label: {"code": code or str(ROOT), "cases": runs[label],
                                   **({"label": labels[label]} if label in labels else {})}
                           for label, code in versions}
    if args.instructions:
        if not valgrind_available():
            raise SystemExit("--instructions needs valgrind")
        counts = count_solve_instructions(versions, jobs=args.jobs)
        out["instructions"] = {"case": "one 40 x 40 px block of the core cases, and one of the Kaskawulsh accuracy "
                                       "case with cloud gaps (rows 60-99, columns 30-69), one thread, solve only "
                                       "(callgrind; the child minus a baseline child without the solve)",
                               "versions": counts}
    write_result(args.output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
