#!/usr/bin/env python
"""Calving-front models over many simulated draws (issue 16, item 4).

Usage: ``nice -n 10 .venv/bin/python scripts/validate_calving.py [--model NAME_OR_PATH ...] [--draws 30]
[--geometries columbia,procedural,...] [--bridge M] [--set KEY=VALUE ...] [--true-zones]`` ->
``benchmarks/results/calving_validation.json`` (one entry per model and settings, keyed by the model, bridge_m,
edge_km2, short_fraction and drop_bridged_only when on, and the other --set values, merged into the file), quoted
in ``docs/validation/calving.md`` and the model cards. ``--true-zones`` scores the job's post-processing on the true zones instead of a model.

``--stored DIR`` screens candidates cheaply: each model's zone probabilities go through the job once and are
stored under DIR; a ``--model`` may then be a weighted mean of several, ``A@2+B@1`` (what the job gives with an
ensemble file of A and B weighted 2 : 1, built by ``python -m models.calving_ensemble``), and every further
configuration costs the post-processing alone (:func:`serac.models.calving_validation.validate_stored`).

Every draw goes through the plugin's calving-front job; see :mod:`serac.models.calving_validation` for the
geometries, the seeds and the failure definitions. One thread (OMP_NUM_THREADS=1).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from models._entry import ensure_serac_importable  # noqa: E402

ensure_serac_importable()

from serac.models import calving_validation as cv  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "calving_validation.json"
#: --screening results, beside the full runs' entries cut to the same draws (models.calving_validation.subset)
SCREENING_RESULTS = ROOT / "benchmarks" / "results" / "calving_screening.json"
SHARED = ROOT.parent / "shared" / "data"


#: settings not in CaFFe named in a run's key whenever they are on (the job's defaults are on)
NAMED = ("edge_km2", "short_fraction", "drop_bridged_only", "min_ocean_km2")


def _named(settings):
    return "".join(f", {k} {v:g}" if isinstance(v, float) else f", {k} {v}"
                   for k, v in ((k, getattr(settings, k)) for k in NAMED) if v)


def _model_path(text):
    path = Path(text)
    return path if path.suffix == ".onnx" else ROOT / "models" / f"{text}.onnx"


def _members(text):
    """[(model path, weight)] of a ``--model`` value: NAME_OR_PATH, or a weighted mean ``A@2+B@1``."""
    members = []
    for part in text.split("+"):
        name, _, weight = part.rpartition("@") if "@" in part else (part, "", "1")
        members.append((_model_path(name), float(weight)))
    return members


def _label(members):
    if len(members) == 1 and members[0][1] == 1:
        return members[0][0].stem
    return " + ".join(f"{path.stem} {weight:g}" for path, weight in members)


def _line(key, result):
    """One line of a run's figures (what --quiet prints): failures, held-out failures, pooled MDE, median, then
    per geometry pooled MDE (m) / failures."""
    a, h = result["all"], result["held_out"] or {"n_failures": 0, "n_draws": 0}
    geometries = " ".join(f"{g} {r['summary']['pooled_mde_m']}/{r['summary']['n_failures']}"
                          for g, r in result["geometries"].items())
    no_sea = (result.get("without_sea") or {}).get("summary")
    land = (f" | without sea: fronts on {no_sea['n_false_front']}/{no_sea['n_draws']} ({no_sea['false_front_km']} km)"
            if no_sea else "")
    return (f"{key}: failures {a['n_failures']}/{a['n_draws']}, held out {h['n_failures']}/{h['n_draws']}, pooled "
            f"{a['pooled_mde_m']} m, median {a['median_m']} m, P90 {a['p90_m']} m, no front {a['n_no_front']}, off "
            f"front {a['n_off_front']} | {geometries}{land}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", help="shipped model name or .onnx path (repeat; default v1 and v2); "
                                                   "with --stored also a weighted mean A@2+B@1")
    p.add_argument("--draws", type=int, default=30, help="draws per geometry")
    p.add_argument("--screening", action="store_true",
                   help="the 80-draw screening subset (8 Columbia, 12 of every other geometry) instead of --draws")
    p.add_argument("--no-sea", type=int, default=None, metavar="N",
                   help=f"scenes without sea (land-terminating glaciers) scored apart: a front drawn there is a false "
                        f"front (default {cv.NO_SEA_DRAWS}, {cv.SCREENING_NO_SEA} with --screening; 0: none)")
    p.add_argument("--geometries", default=",".join(cv.GEOMETRIES))
    p.add_argument("--shared-data", default=str(SHARED))
    p.add_argument("--output", default=None, help=f"default {RESULTS.name} ({SCREENING_RESULTS.name} with --screening)")
    p.add_argument("--bridge", type=float, action="append",
                   help="the job's bridge_m setting (m; repeat to compare; default: 0 = CaFFe, and the job's default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="another setting of the calving-front job, VALUE as JSON (repeat), e.g. min_length_m=250, "
                        "clean=false, uncertainty=true (zones from the test-time augmentation mean)")
    p.add_argument("--true-zones", action="store_true",
                   help="instead of a model: the job's post-processing on the true zones (the failures it makes "
                        "by itself); written as the entry 'true zones, ...'")
    p.add_argument("--stored", metavar="DIR", default=None,
                   help="zone probabilities stored under DIR (computed through the job on first use); --model may "
                        "then be a weighted mean A@2+B@1; entries are keyed '..., stored'")
    p.add_argument("--quiet", action="store_true", help="no line per draw; one line of figures per run")
    a = p.parse_args(argv)
    try:
        extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in a.set)}
    except ValueError:
        p.error("--set takes KEY=VALUE with VALUE as JSON (e.g. clean=false, min_length_m=250)")
    try:
        specs = [] if a.true_zones else [_members(t) for t in a.model or ["calving_zones_synthetic_v1",
                                                                            "calving_zones_synthetic_v2"]]
    except ValueError:
        p.error("--model A@2+B@1: each weight after @ is a number")
    if a.no_sea is not None and a.no_sea < 0:
        p.error("--no-sea takes a number of scenes without sea, 0 or more")
    if a.stored and a.true_zones:
        p.error("--stored stores model probabilities; --true-zones has none")
    if not a.stored and any(len(m) > 1 or m[0][1] != 1 for m in specs):
        p.error("a weighted mean of models (A@2+B@1) needs --stored DIR; or build the ensemble file with "
                "python -m models.calving_ensemble and give its path")
    missing = [str(path) for m in specs for path, _ in m if not path.exists()]
    if missing:
        p.error(f"no model file {', '.join(missing)}")
    try:  # one thread where torch runs the models; ONNX Runtime alone (no torch installed) is enough
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    out = Path(a.output or (SCREENING_RESULTS if a.screening else RESULTS))
    no_sea = a.no_sea if a.no_sea is not None else cv.SCREENING_NO_SEA if a.screening else cv.NO_SEA_DRAWS
    report = json.loads(out.read_text()) if out.exists() else {}
    shared = a.shared_data if os.path.isdir(a.shared_data) else None
    report.update({
        "machine": "shared 2-core build machine (other helpers' jobs running), 1 thread: seconds are indicative only",
        "protocol": {"draws_per_geometry": cv.SCREENING if a.screening else a.draws,
                     "draw_seeds": f"{cv.DRAW_SEED_BASE} + 1000 x geometry index + draw", "geometries": list(cv.GEOMETRIES), "held_out_geometries": list(cv.HELD_OUT),
                     "tolerance_m": cv.TOLERANCE_M, "found_fraction_for_success": cv.FOUND_FRACTION,
                     "pixel_size_m": cv.PIXEL_SIZE_M, "scene_size_px": cv.SCENE_SIZE_PX,
                     "scenes_without_sea": {"draws": no_sea, "seeds": f"{cv.NO_SEA_SEED_BASE} + draw",
                                            "terrains": "draw mod 5 of " + ", ".join(cv.TERRAIN_SOURCES)},
                     "path": "GeoTIFF -> segmentation_calving_front job (default settings) -> front lines, "
                             "rasterised (all touched) with the reference front on the scene grid",
                     "shared_data": bool(shared)},
        "models": report.get("models", {})})
    if a.screening and RESULTS.exists():  # the full runs cut to the screening draws, for comparison
        full = json.loads(RESULTS.read_text())["models"]
        cut = {k: cv.subset(r, cv.SCREENING) for k, r in full.items()}
        report["full_runs_cut_to_these_draws"] = {k: {"held_out": c["held_out"], "all": c["all"], **{
            g: r["summary"] for g, r in c["geometries"].items()}, **({"without_sea": c["without_sea"]["summary"]}
                                                                     if "without_sea" in c else {})}
            for k, c in cut.items()}
    from serac.core.jobs.segmentation import CalvingFrontSettings

    geometries = [g for g in a.geometries.split(",") if g]
    draws = cv.SCREENING if a.screening else a.draws
    progress = None if a.quiet else print
    for members in [None] if a.true_zones else specs:
        stem = _label(members) + (", stored" if a.stored else "") if members else "true zones"
        for bridge in a.bridge or [0.0, CalvingFrontSettings().bridge_m]:
            settings = dict({"bridge_m": bridge}, **extra)
            start = time.perf_counter()
            if a.stored:
                try:
                    result = cv.validate_stored([m for m, _ in members], [w for _, w in members], a.stored,
                                                geometries, draws, shared, settings=settings, progress=progress,
                                                no_sea=no_sea)
                except ValueError as e:
                    p.error(str(e))
            else:
                result = cv.validate(members[0][0] if members else None, geometries, draws, shared,
                                     settings=settings, progress=progress, no_sea=no_sea)
            result.update(seconds=round(time.perf_counter() - start, 1), model=stem, settings=settings)
            if a.stored:
                result["members"] = {path.stem: weight for path, weight in members}
                result["path"] = ("each member's zone probabilities through the job (stored), their weighted mean "
                                  "classified and post-processed as the job does (validate_stored)")
            key = f"{stem}, bridge_m {bridge:g}" + _named(CalvingFrontSettings.from_dict(settings)) + "".join(
                f", {k} {v}" for k, v in extra.items() if k not in NAMED)
            report["models"][key] = result
            out.write_text(json.dumps(report, indent=1) + "\n")
            summary = {g: r["summary"] for g, r in result["geometries"].items()}
            if "without_sea" in result:
                summary["without_sea"] = result["without_sea"]["summary"]
            print(_line(key, result) if a.quiet else
                  json.dumps({key: {"held_out": result["held_out"], "all": result["all"], **summary}}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
