#!/usr/bin/env python
"""Validate the velocity time-series inversion on a short spring speed-up (issue 20, item 6).

Usage: ``.venv/bin/python scripts/validate_timeseries.py [--output FILE] [--markdown FILE]``

Scenario (``core.timeseries.synthetic.speedup_scenario``): the real ITS_LIVE Columbia vx/vy
field (crop 120 x 110 px at 120 m, every second pixel: 60 x 55 px; up to ~2 km/yr) scaled by a
seasonal cycle (amplitude 0.3, peak at day 200) and a 50 % speed-up from 2018-05-16 to
2018-06-09; 40 random pairs (16-365 days) over two years of acquisitions every 8 days, plus every
8- and 16-day pair within a revisit of the speed-up (about 7); 3 m displacement noise; two
blunder pairs (300 m/yr on half of their pixels); 30-day output steps. Seeds 0-3.

Figures: RMSE (m/yr, vx and vy) in the steps that overlap the speed-up and over all steps, on all
pixels and on fast ones (> 400 m/yr); share of the short pairs (and of the other good pairs)
with a robust weight below 0.5; share of the blunder-hit pixels whose blunder pair was
down-weighted; share of true step errors within the reported 1-sigma error; solve time.
Run it against another checkout (its ``scripts/`` folder) to compare versions.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PATH = ROOT / "build" / "pluginpath"
if not (PLUGIN_PATH / "serac").exists():
    PLUGIN_PATH.mkdir(parents=True, exist_ok=True)
    (PLUGIN_PATH / "serac").symlink_to(ROOT, target_is_directory=True)
sys.path.insert(0, str(PLUGIN_PATH))

import numpy as np  # noqa: E402

from serac.core import raster_io as rio  # noqa: E402
from serac.core.timeseries import InversionSettings, PairInversion, TimeGrid  # noqa: E402
from serac.core.timeseries import synthetic as syn  # noqa: E402

COLUMBIA = ROOT.parent / "shared" / "data" / "velocity" / "itslive_columbia" / "crop_ALA_G0120_0000_{}.tif"
SEEDS = (0, 1, 2, 3)
FAST = 400.0  # m/yr


def columbia_field():
    window = (150, 150, 120, 110)
    field = np.stack([rio.read_raster(str(COLUMBIA).format(c), window=window).band(1) for c in ("vx", "vy")])
    return field.astype(np.float64)[:, ::2, ::2]


def case(field, seed, regularisation):
    sc = syn.speedup_scenario(field, seed=seed)
    grid = TimeGrid.for_pairs(sc.date1, sc.date2, 30)
    m = sc.stack.shape[0]
    obs = sc.stack.reshape(m, 2, -1).transpose(2, 0, 1)
    truth = sc.truth(grid).reshape(grid.n_steps, 2, -1).transpose(2, 0, 1)
    ok = np.isfinite(obs).all((1, 2))
    obs, truth = obs[ok], truth[ok]
    fast = np.hypot(*field).ravel()[ok] > FAST
    start, end = np.datetime64(sc.signal.surge[1]), np.datetime64(sc.signal.surge[2])
    steps = (grid.ends > start) & (grid.starts <= end)
    blunder = np.isin(np.arange(m), sc.outliers)
    short, normal = sc.short & ~blunder, ~sc.short & ~blunder
    t0 = time.perf_counter()
    sol = PairInversion(sc.date1, sc.date2, grid, InversionSettings(regularisation=regularisation,
                                                                    backend="numpy")).solve(obs)
    seconds = time.perf_counter() - t0
    err = sol.velocity - truth
    clean = sc.signal.mean(sc.date1, sc.date2)[None, :] * field.reshape(2, -1)[0, ok][:, None]
    hit = np.abs(obs[:, :, 0] - clean) > 100.0  # pixels where a blunder landed
    out = {"seed": seed, "pixels": int(ok.sum()), "fast_pixels": int(fast.sum()), "pairs": m,
           "short_pairs": int(sc.short.sum()),
           "solve_s": seconds, "median_lambda": float(np.median(sol.regularisation)),
           "blunders_downweighted": float(np.mean(sol.weights[:, blunder][hit[:, blunder]] < 0.5))}
    for label, sel in (("all", slice(None)), ("fast", fast)):
        w = sol.weights[sel]
        out[label] = {"speedup_rmse": float(np.sqrt(np.nanmean(err[sel][:, steps] ** 2))),
                      "rmse": float(np.sqrt(np.nanmean(err[sel] ** 2))),
                      "short_rejected": float(np.mean(w[:, short] < 0.5)),
                      "other_rejected": float(np.mean(w[:, normal] < 0.5))}
    error = getattr(sol, "error", None)
    out["within_1_sigma"] = None if error is None else float(np.nanmean(np.abs(err) < error))
    return out


def summary(cases):
    def mean(key, sub=None):
        vals = [c[sub][key] if sub else c[key] for c in cases]
        return None if any(v is None for v in vals) else float(np.mean(vals))

    out = {k: mean(k) for k in ("solve_s", "blunders_downweighted", "within_1_sigma")}
    for sub in ("all", "fast"):
        out[sub] = {k: mean(k, sub) for k in cases[0][sub]}
    return out


def markdown(new, before=None):
    def fmt(v, pct=False):
        return "n/a" if v is None else (f"{100 * v:.0f} %" if pct else f"{v:.1f}")

    lines = ["# Velocity time series: a short spring speed-up", "",
             "Produced by `scripts/validate_timeseries.py`; numbers from "
             "`benchmarks/results/timeseries_validation.json`" + (" and `timeseries_validation_before.json` (the "
                                                                   "inversion before issue 20)" if before else "")
             + f" ({new['date']}).", "", __doc__.split("Scenario", 1)[1].split("Run it against")[0].strip()
             .replace("\n", " ").replace("(``core.timeseries.synthetic.speedup_scenario``): ", "Scenario: "), "",
             "Means over the four seeds:", "",
             "| version | smoothing | speed-up steps RMSE, all / fast (m/yr) | all steps RMSE, all / fast (m/yr) | "
             "short pairs rejected, all / fast | other good pairs rejected | blunder pixels down-weighted | "
             "within 1 sigma | solve (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, res in (("before", before), ("now", new)):
        if res is None:
            continue
        for lam in ("auto", "fixed_1"):
            s = res["summary"][lam]
            lines.append(f"| {name} | {lam.replace('_', ' ')} | {fmt(s['all']['speedup_rmse'])} / "
                         f"{fmt(s['fast']['speedup_rmse'])} | {fmt(s['all']['rmse'])} / {fmt(s['fast']['rmse'])} | "
                         f"{fmt(s['all']['short_rejected'], 1)} / {fmt(s['fast']['short_rejected'], 1)} | "
                         f"{fmt(s['all']['other_rejected'], 1)} | {fmt(s['blunders_downweighted'], 1)} | "
                         f"{fmt(s['within_1_sigma'], 1)} | {fmt(s['solve_s'])} |")
    lines += ["", "Per seed (auto smoothing), speed-up steps RMSE on fast pixels (m/yr): "
              + ", ".join(f"seed {c['seed']}: " + (f"{b['fast']['speedup_rmse']:.0f} before, " if before else "")
                          + f"{c['fast']['speedup_rmse']:.0f} now"
                          for c, b in zip(new["auto"], (before or new)["auto"])) + ".",
              "In seed 1 one of the two blunder pairs is itself a short pair inside the speed-up.",
              "Solve times are on a shared 2-core machine (load 10-14 while measured): compare them only "
              "within a run."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "timeseries_validation.json"))
    parser.add_argument("--before", help="JSON of the same script run on an earlier version, for the table")
    parser.add_argument("--markdown", help="write the validation page here (e.g. docs/validation/timeseries.md)")
    args = parser.parse_args()
    field = columbia_field()
    res = {"date": time.strftime("%Y-%m-%d %H:%M:%S")}
    for label, lam in (("auto", "auto"), ("fixed_1", 1.0)):
        res[label] = [case(field, seed, lam) for seed in SEEDS]
        print(label, json.dumps(summary(res[label])), file=sys.stderr)
    res["summary"] = {label: summary(res[label]) for label in ("auto", "fixed_1")}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(res, indent=1))
    if args.markdown:
        before = json.loads(Path(args.before).read_text()) if args.before else None
        Path(args.markdown).write_text(markdown(res, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
