#!/usr/bin/env python
"""Serac's velocity time-series inversion against TICOI itself, on the same stacks: CPU time per pixel and accuracy.

Usage: ``nice -n 10 .venv/bin/python benchmarks/bench_ticoi.py [--ticoi-python PATH] [--rounds 3]
[--compare pre20=DIR --label pre20=TEXT]`` -> benchmarks/results/timeseries_vs_ticoi.json
(the code before issue 20 for ``--compare``: ``mkdir /tmp/pre20 && git archive a9e7af3 | tar -x -C /tmp/pre20``)

TICOI (Charrier et al. 2022, 2025; PyPI ``ticoi``) is not a dependency of Serac and is never installed with it:
put it in a venv of its own (``python3 -m venv /work/ticoi_venv && /work/ticoi_venv/bin/pip install ticoi``) and
name its Python with ``--ticoi-python`` or ``TICOI_PYTHON`` (default: ``ticoi_venv/bin/python`` beside the
checkout). Without one that imports ``ticoi`` the benchmark says so and exits 0, writing nothing (CI has none).

The stacks are those of bench_timeseries.py's instruction counts, 40 pairs, 30-day output steps:

* ``core``: the 40 x 40 px block of the core cases (GLAFT Kaskawulsh field, every pixel with all 40 pairs, two
  blunder pairs);
* ``gaps``: rows 60-99, columns 30-69 of the Kaskawulsh accuracy case with cloud gaps (:func:`gap_scenario`:
  nearly every pixel has its own set of valid pairs).

They are built once here and written to a file that every child reads, so all tools and versions get the same
pair dates and values (m/yr, NaN where missing). Each child runs one thread (OMP/OpenBLAS/MKL/numba) and measures
its own CPU time (process time), after a warm-up (TICOI's numba compilation, Serac's first call):

* TICOI (its venv): per pixel, the pairs valid there as TICOI's per-pixel input (benchmarks/_ticoi.py, built
  outside the timer), then ``ticoi.core.inversion_core`` and ``ticoi.core.interpolation_core`` (timed), the 30-day
  windows that are Serac's output steps read back from its output (outside the timer). TICOI's loading of a pixel
  from its xarray cube and its joblib dispatch are not timed (they would only add to its cost).
* Serac (this checkout's .venv; a ``--compare`` version through SERAC_BENCH_CODE): ``PairInversion`` built and
  ``solve`` on all the block's pixels at once (numpy backend), lambda 1 and automatic (the default), repeated
  ``--repeat`` times in the child (median).

Rounds run the tools back to back on each case, so they share the machine's load; the JSON keeps every round and
the medians. Accuracy: RMSE (m/yr, both components) against the known truth on the output steps, over the steps
every tool gives (TICOI gives none before the pixel's second acquisition date) and over each tool's own.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _instructions  # benchmarks/ is on sys.path as the script folder (in the TICOI venv's children too)
import numpy as np
from _memory import write_result

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_TICOI_PYTHON = ROOT.parent / "ticoi_venv" / "bin" / "python"
#: one thread in every child: the callgrind children's settings, and numba's and Accelerate's (TICOI)
ONE_THREAD = dict(_instructions.ONE_THREAD, NUMBA_NUM_THREADS="1", VECLIB_MAXIMUM_THREADS="1")
STEP_DAYS = 30
#: Serac's smoothing levels compared: lambda 1 and the default (automatic, per pixel).
SERAC_RUNS = (("fixed_lambda_1", 1.0), ("auto", "auto"))
CASES = {"core": "40 x 40 px block of bench_timeseries.py's core cases (GLAFT Kaskawulsh, every pixel with all 40 "
                 "pairs, two blunder pairs)",
         "gaps": "rows 60-99, columns 30-69 of the Kaskawulsh accuracy case with cloud gaps (30 % of the "
                 "acquisitions lost, four blunder pairs, 15 % of the area missing in every pair)"}
#: TICOI's settings for each configuration run (passed to ticoi.core.inversion_core / interpolation_core);
#: 'coef' None: the equivalent of Serac's lambda 1 (benchmarks/_ticoi.equivalent_coef).
TICOI_CONFIGS = {
    "matched": {"solver": "LSMR_ini", "regu": "1", "coef": None, "detect_temporal_decorrelation": True},
    "matched_all_pairs_first": {"solver": "LSMR_ini", "regu": "1", "coef": None,
                                "detect_temporal_decorrelation": False},
    "coef_100": {"solver": "LSMR_ini", "regu": "1", "coef": 100, "detect_temporal_decorrelation": True},
}
SETTINGS_MAPPING = {
    "unknowns": "both: the mean velocity (Serac) / displacement (TICOI) of each interval between consecutive "
                "acquisition dates, a pair being the sum of its intervals (TICOI's design matrix); Serac averages "
                "them onto the 30-day steps by interval length, TICOI interpolates their cumulative displacement "
                "by a cubic spline (its default 'spline') and differences it over 30-day windows every 5 days "
                "(its default redundancy 5): the windows starting on Serac's step dates are compared",
    "regularisation": "first difference of the velocity in both: TICOI regu '1' (its default '1accelnotnull' needs "
                      "an a-priori acceleration from its spatio-temporal rolling-mean prefilter, which is not a "
                      "per-pixel setting); Serac order 1",
    "coef": "'matched' and 'matched_all_pairs_first': TICOI's coef equivalent to Serac's lambda 1 (coef^2 = "
            "median(baseline^2) x step / mean interval spacing, exact for evenly spaced intervals; TICOI's "
            "difference is not weighted by the interval spacing, Serac's is); 'coef_100': TICOI's default coef",
    "weights": "both weigh the pairs as baseline^2 in velocity terms (TICOI: equal weights on displacements; "
               "Serac: 'baseline' weighting, the default without pair errors); no a-priori error weights",
    "robust": "TICOI: iteratively reweighted least squares with Tukey's biweight (c 4.685, scale from the MAD of "
              "the residuals; its rows scaled by the weight), until the mean change < 0.1 m or 10 iterations "
              "(its defaults); its first pass leaves pairs over 180 days out (detect_temporal_decorrelation, its "
              "default; 'matched_all_pairs_first': off, all pairs in the first pass as in Serac). Serac: its "
              "default 'reject' "
              "screening (a pair is left out when no smoothing level explains it)",
    "solver": "TICOI 'LSMR_ini' (its default in process(): LSMR started from the pixel's mean pair velocity, as "
              "its cube computes it); Serac: normal equations factorised once per weight pattern (numpy)",
    "lambda": "Serac's automatic lambda (GCV per pixel, its default) has no TICOI counterpart (TICOI's coef is "
              "fixed per run)",
    "not_used": "TICOI's cube pre-filtering (delete_outliers, rolling mean), a-priori weights and error "
                "propagation; Serac's per-step errors are computed (they are part of its solve)",
}


def ticoi_python(arg):
    """The Python of TICOI's venv if it imports ``ticoi``: (path, versions) or (None, reason)."""
    path = Path(arg or os.environ.get("TICOI_PYTHON") or DEFAULT_TICOI_PYTHON)
    if not path.exists():
        return None, f"no TICOI Python at {path}"
    probe = ("import json, importlib.metadata as m; import ticoi.core, numpy, scipy, numba; "
             "print(json.dumps({k: m.version(k) for k in ('ticoi', 'numpy', 'scipy', 'numba', 'pandas')}))")
    proc = subprocess.run([str(path), "-c", probe], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"{path} cannot import ticoi: {proc.stderr.strip().splitlines()[-1:]}"
    return path, json.loads(proc.stdout.strip().splitlines()[-1])


# -- the stacks (built once, in the parent) ---------------------------------------------------------------------------


def build_cases(folder):
    """Write each case's pair dates, values (P, m, 2) m/yr, step edges and truth (P, n, 2) m/yr to ``folder``."""
    import bench_timeseries as bt  # makes serac importable (this checkout)

    from serac.core.timeseries import TimeGrid
    from serac.core.timeseries import synthetic as syn

    paths = {}
    for name in CASES:
        if name == "core":  # as bench_timeseries.instructions_case(40, ...)
            field, _ = bt.kaskawulsh_field(40)
            sc = bt.scenario(field[:, :2, :2])
            stack, _ = syn.pair_stack(field, sc.signal, sc.date1, sc.date2, sigma_disp=3.0, outlier_pairs=2,
                                      outlier_size=300.0, outlier_fraction=0.5, rng=np.random.default_rng(0))
            tgrid = TimeGrid.for_pairs(sc.date1, sc.date2, STEP_DAYS)
            truth = sc.signal.grid_means(tgrid)[:, None, None, None] * field[None]
        else:
            sc = bt.gap_scenario()
            stack = sc.stack[:, :, 60:100, 30:70]
            tgrid = TimeGrid.for_pairs(sc.date1, sc.date2, STEP_DAYS)
            truth = sc.truth(tgrid)[:, :, 60:100, 30:70]
        m, n = stack.shape[0], tgrid.n_steps
        paths[name] = Path(folder) / f"{name}.npz"
        np.savez(paths[name], date1=sc.date1, date2=sc.date2, edges=tgrid.edges,
                 obs=stack.reshape(m, 2, -1).transpose(2, 0, 1), truth=truth.reshape(n, 2, -1).transpose(2, 0, 1))
    return paths


def pixels_with_data(obs):
    """(P,) pixels of ``obs`` (P, m, 2) with at least one valid pair: the pixels a per-pixel cost is counted over
    (both tools skip the others for next to nothing)."""
    return np.isfinite(obs).all(-1).any(-1)


def interval_spacing_days(date1, date2):
    """Mean spacing (days) of the centres of the intervals between consecutive acquisition dates."""
    from _ticoi import as_days

    dates = np.unique(np.concatenate([as_days(date1), as_days(date2)])).astype(np.float64)
    return float(np.diff((dates[1:] + dates[:-1]) / 2).mean())


# -- children ---------------------------------------------------------------------------------------------------------


def ticoi_child(stack, out, config):
    """Run TICOI on every pixel of ``stack`` (in TICOI's venv); velocities on the steps to ``out``; timings."""
    import importlib.metadata

    from _ticoi import as_days, equivalent_coef, mean_velocity, on_steps, pixel_observations
    from ticoi.core import inversion_core, interpolation_core

    data = np.load(stack)
    date1, date2, edges, obs = data["date1"], data["date2"], data["edges"], data["obs"]
    settings = dict(TICOI_CONFIGS[config])
    if settings["coef"] is None:
        settings["coef"] = equivalent_coef(as_days(date2) - as_days(date1), STEP_DAYS,
                                           interval_spacing_days(date1, date2), 1.0)
    inputs = [pixel_observations(date1, date2, obs[p]) for p in range(obs.shape[0])]
    start = np.datetime64(str(edges[0]), "D")

    def one(p):
        """TICOI's output for pixel p (None without one) and the CPU seconds of its inversion."""
        pixel = inputs[p]
        if pixel[0].shape[0] == 0:
            return None, 0.0
        t0 = time.process_time()
        _, result, _ = inversion_core(pixel, p, 0, mean=mean_velocity(pixel[1]), unit=365, **settings)
        inverted = time.process_time() - t0
        if result is None:
            return None, inverted
        return interpolation_core(result, STEP_DAYS, option_interpol="spline", first_date_interpol=start,
                                  unit=365, redundancy=5), inverted

    one(0)  # numba compilation and first calls
    outputs, seconds, inversion_s = [], [], 0.0
    for p in range(obs.shape[0]):
        t0 = time.process_time()
        frame, inverted = one(p)
        seconds.append(time.process_time() - t0)
        outputs.append(frame)
        inversion_s += inverted
    velocity = np.full((obs.shape[0], edges.size - 1, 2), np.nan)
    for p, frame in enumerate(outputs):
        if frame is not None and len(frame):
            velocity[p] = on_steps(frame["date1"].values, frame["date2"].values, frame["vx"].values,
                                   frame["vy"].values, edges)
    np.save(out, velocity)
    with_data = pixels_with_data(obs)
    return {"pixels": int(obs.shape[0]), "pixels_with_data": int(with_data.sum()), "cpu_s": float(np.sum(seconds)),
            "s_per_pixel": float(np.sum(seconds)) / with_data.sum(),
            "median_s_per_pixel": float(np.median(np.asarray(seconds)[with_data])),
            "inversion_core_s_per_pixel": inversion_s / with_data.sum(), "settings": settings,
            "pixels_without_result": int(sum(frame is None or not len(frame) for frame in outputs)),
            "ticoi": importlib.metadata.version("ticoi")}


def serac_child(stack, out, regularisation, repeat):
    """Solve every pixel of ``stack`` with Serac (this checkout or SERAC_BENCH_CODE's); velocities to ``out``."""
    import _checkout  # noqa: F401  (makes serac importable: this checkout, or SERAC_BENCH_CODE's)

    from serac.core.timeseries import InversionSettings, PairInversion, TimeGrid

    data = np.load(stack)
    date1, date2, obs = data["date1"], data["date2"], data["obs"]
    tgrid = TimeGrid(data["edges"])
    settings = InversionSettings(regularisation=regularisation, backend="numpy")
    PairInversion(date1, date2, tgrid, settings).solve(obs[:1])  # imports and first calls
    seconds = []
    for _ in range(repeat):
        t0 = time.process_time()
        sol = PairInversion(date1, date2, tgrid, settings).solve(obs)
        seconds.append(time.process_time() - t0)
    np.save(out, sol.velocity)
    with_data = int(pixels_with_data(obs).sum())
    return {"pixels": int(obs.shape[0]), "pixels_with_data": with_data, "repeats_cpu_s": seconds,
            "s_per_pixel": float(np.median(seconds)) / with_data, "pixels_solved": int(sol.solved.sum())}


def spawn(python, args, env_extra=None):
    env = dict(os.environ, **ONE_THREAD, **(env_extra or {}))
    proc = subprocess.run([str(python), __file__] + args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- scoring and the JSON ---------------------------------------------------------------------------------------------


def rmse(velocity, truth, mask=None):
    """RMSE (m/yr) of ``velocity`` against ``truth`` over the finite values (and ``mask`` (P, n) where given)."""
    err = velocity - truth
    keep = np.isfinite(err).all(-1) if mask is None else mask
    return float(np.sqrt(np.mean(err[keep] ** 2))) if keep.any() else None


def summarise_case(rounds, truth, tools):
    """Medians over the rounds, time ratios of TICOI's 'matched' run to each Serac run (per round, then their
    median and range) and RMSEs; ``tools`` maps a tool key to its velocity (P, n, 2) from the last round."""
    given = {key: np.isfinite(v).all(-1) for key, v in tools.items()}
    common = np.logical_and.reduce(list(given.values()))
    out = {"pixels": int(truth.shape[0]), "pixels_with_data": rounds[-1]["ticoi_matched"]["pixels_with_data"],
           "steps": int(truth.shape[1]),
           "pixel_steps_compared": int(common.sum()), "tools": {}}
    for key, velocity in tools.items():
        per_px = [r[key]["s_per_pixel"] for r in rounds]
        out["tools"][key] = {"s_per_pixel_median": float(np.median(per_px)), "s_per_pixel_rounds": per_px,
                             "rmse_common_steps_m_per_yr": rmse(velocity, truth, common),
                             "rmse_own_steps_m_per_yr": rmse(velocity, truth),
                             "pixel_steps_given": float(given[key].mean())}
        if key.startswith("ticoi"):
            out["tools"][key]["inversion_core_s_per_pixel_median"] = float(
                np.median([r[key]["inversion_core_s_per_pixel"] for r in rounds]))
    ratios = {key: [r["ticoi_matched"]["s_per_pixel"] / r[key]["s_per_pixel"] for r in rounds]
              for key in tools if not key.startswith("ticoi")}  # within a round: the same load
    out["ticoi_matched_over_serac_time"] = {key: {"median": float(np.median(r)), "min": min(r), "max": max(r)}
                                            for key, r in ratios.items()}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticoi-python", help="Python of a venv with ticoi (default: TICOI_PYTHON or "
                                               f"{DEFAULT_TICOI_PYTHON})")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every tool on every case (median)")
    parser.add_argument("--quick", action="store_true", help="one round (as benchmarks/run_all.py --quick asks)")
    parser.add_argument("--repeat", type=int, default=5, help="Serac solves per child (median)")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                        help="also run Serac from another checkout (e.g. git archive of an earlier commit)")
    parser.add_argument("--label", action="append", default=[], metavar="NAME=TEXT", help="what a version is")
    parser.add_argument("--note", default="", help="a note for the JSON and the docs (e.g. the machine was shared)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "timeseries_vs_ticoi.json"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # kind stack out
    parser.add_argument("--option", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, stack, out = args.child
        if kind == "ticoi":
            result = ticoi_child(stack, out, args.option)
        else:
            result = serac_child(stack, out, "auto" if args.option == "auto" else float(args.option), args.repeat)
        print(json.dumps(result))
        return 0
    if args.quick:
        args.rounds = 1
    python, versions = ticoi_python(args.ticoi_python)
    if python is None:
        print(f"bench_ticoi: skipped ({versions}); TICOI is not a Serac dependency: install it in a venv of its "
              "own (see this script's docstring) and pass --ticoi-python", file=sys.stderr)
        return 0
    from _memory import machine_info

    serac_versions = [tuple(item.split("=", 1)) for item in args.compare] + [("now", None)]
    labels = dict(item.split("=", 1) for item in args.label)
    t_start = time.perf_counter()
    load = [list(os.getloadavg())]
    cases = {}
    with tempfile.TemporaryDirectory() as folder:
        stacks = build_cases(folder)
        rounds = {name: [] for name in stacks}
        last = {name: {} for name in stacks}
        for r in range(args.rounds):
            for name, stack in stacks.items():
                this = {}
                for config in TICOI_CONFIGS:
                    key, out = f"ticoi_{config}", str(Path(folder) / f"{name}_ticoi_{config}.npy")
                    this[key] = spawn(python, ["--child", "ticoi", str(stack), out, "--option", config])
                    last[name][key] = out
                for label, code in serac_versions:
                    env = {"SERAC_BENCH_CODE": str(code)} if code else None
                    for run, lam in SERAC_RUNS:
                        key, out = f"serac_{label}_{run}", str(Path(folder) / f"{name}_{label}_{run}.npy")
                        this[key] = spawn(sys.executable, ["--child", "serac", str(stack), out, "--option", str(lam),
                                                           "--repeat", str(args.repeat)], env)
                        last[name][key] = out
                rounds[name].append(this)
                print(f"round {r + 1} {name}: " + ", ".join(f"{k} {v['s_per_pixel'] * 1e3:.3f} ms/px"
                                                            for k, v in this.items()), file=sys.stderr)
            load.append(list(os.getloadavg()))
        for name, stack in stacks.items():
            truth = np.load(stack)["truth"]
            tools = {key: np.load(path) for key, path in last[name].items()}
            cases[name] = {"description": CASES[name], **summarise_case(rounds[name], truth, tools),
                           "ticoi_settings": {k: rounds[name][-1][f"ticoi_{k}"]["settings"] for k in TICOI_CONFIGS},
                           "rounds": rounds[name]}
    result = {"topic": "timeseries_vs_ticoi", "machine": machine_info(), "ticoi_venv": versions,
              "threads": "one (OMP/OpenBLAS/MKL/numba threads 1 in every child)", "niceness": os.nice(0),
              "quick": args.quick, "rounds": args.rounds, "serac_repeats_per_round": args.repeat, "step_days": STEP_DAYS,
              "serac_versions": {label: {"code": str(code or ROOT), **({"label": labels[label]} if label in labels
                                                                       else {})}
                                 for label, code in serac_versions},
              "settings_mapping": SETTINGS_MAPPING, "cases": cases, "load_average_1_5_15_min": load,
              "timing": "CPU (process) time per pixel with at least one valid pair, in each child after a warm-up; "
                        "TICOI: inversion_core + interpolation_core per pixel (its input built outside the timer; "
                        "inversion_core alone also given); Serac: PairInversion built and solved on all the "
                        "block's pixels at once, divided by the pixels with data",
              "total_s": time.perf_counter() - t_start}
    if args.note:
        result["note"] = args.note
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
