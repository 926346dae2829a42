#!/usr/bin/env python
"""Validate wet-snow and melt detection on stacks built from real Sentinel-1 data -> benchmarks/results/melt_validation.json

Usage: ``.venv/bin/python scripts/validate_melt.py``

The scene (see :func:`serac.core.sar.synthetic.write_melt_scene`): the real pyroSAR VV backscatter (20 m) placed on a
UTM 32N grid inside the footprint of the real S1B IW annotation (Central Alps), a ridge DEM with a cliff, 31 dates
every 12 days from 2020-11-03, independent 17-look speckle per date and polarisation plus a 0.2 dB per-date offset,
and wet dates inside a known melt period per pixel (earlier and longer low down, a quarter of the scene never wet)
with drops of 2-6 dB rising with the local incidence angle. Detection through the job ``sar_melt`` (annotation + DEM
for the local incidence angle) is scored against that truth: per-date accuracy, hit and false-alarm rates over the
classified pixels, and onset/end against the first/last acquisition inside the true melt period.
"""

import glob
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "sar"
sys.path.insert(0, str(ROOT / "build" / "pluginpath"))

DATES = np.arange(np.datetime64("2020-11-03"), np.datetime64("2021-10-31"), 12)
RUNS = {"dual_pol_boxcar3": {"speckle_size": 3}, "dual_pol_unfiltered": {"speckle_size": 1},
        "dual_pol_unfiltered_min_run2": {"speckle_size": 1, "min_run": 2},
        "single_pol_boxcar3": {"rule": "single", "speckle_size": 3},
        "single_pol_unfiltered": {"rule": "single", "speckle_size": 1}}


def score(scene, classes, onset, end):
    from serac.core.sar import melt
    from serac.core.sar.local_incidence import VALID

    truth = scene["wet"]
    valid = classes != melt.NOT_CLASSIFIED
    wet = classes == melt.WET
    acc = [float(((wet[t] == truth[t])[valid[t]]).mean()) for t in range(truth.shape[0])]
    days = melt.day_numbers(scene["dates"]).astype(np.float32)
    any_wet = truth.any(axis=0)
    exp_onset = np.where(any_wet, days[np.argmax(truth, axis=0)], np.nan)
    exp_end = np.where(any_wet, days[len(days) - 1 - np.argmax(truth[::-1], axis=0)], np.nan)
    melting = any_wet & (scene["codes"] == VALID)
    never = ~any_wet & (scene["codes"] == VALID)
    d_on, d_end = onset[melting] - exp_onset[melting], end[melting] - exp_end[melting]
    theta = np.broadcast_to(scene["theta_loc"], truth.shape)
    by_angle = {}
    for lo, hi in ((15, 25), (25, 35), (35, 45), (45, 60), (60, 75)):
        sel = valid & truth & (theta >= lo) & (theta < hi)
        drop = np.broadcast_to(scene["drop"], truth.shape)[sel]
        by_angle[f"{lo}-{hi} deg"] = {"hit_rate": float(wet[sel].mean()) if sel.any() else None,
                                      "drop_db": [float(drop.min()), float(drop.max())] if sel.any() else None}
    return {"accuracy_per_date": [round(a, 4) for a in acc], "accuracy_min": min(acc),
            "accuracy_mean": float(np.mean(acc)),
            "hit_rate": float((wet & truth & valid).sum() / (truth & valid).sum()),
            "false_alarm_rate": float((wet & ~truth & valid).sum() / (~truth & valid).sum()),
            "onset_exact_fraction": float(np.mean(d_on == 0)), "end_exact_fraction": float(np.mean(d_end == 0)),
            "onset_within_one_revisit": float(np.mean(np.abs(d_on) <= 12)),
            "end_within_one_revisit": float(np.mean(np.abs(d_end) <= 12)),
            "onset_missing_fraction": float(np.mean(np.isnan(d_on))),
            "never_wet_with_onset_fraction": float(np.mean(np.isfinite(onset[never]))), "hit_rate_by_local_angle": by_angle}


def main():
    import rasterio

    from serac.core import raster_io as rio
    from serac.core.jobs import run_job
    from serac.core.sar import synthetic
    from serac.core.sar.local_incidence import MASK_LABELS

    xml = glob.glob(str(SHARED / "s1_annotation" / "S1B_IW_GRDH*" / "*iw-grd-vv*.xml"))[0]
    base = rio.read_raster(SHARED / "pyrosar" / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif").data[0]
    out = {"scene": {}, "runs": {}, "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory(prefix="serac_melt_val_") as folder:
        scene = synthetic.write_melt_scene(folder, base, xml, DATES)
        theta = scene["theta_loc"][scene["codes"] == 0]
        out["scene"] = {"shape": list(base.shape), "dates": len(DATES), "first_date": str(DATES[0]),
                        "revisit_days": 12, "looks": 17, "ellipsoid_angle_deg": [float(np.nanmin(scene["theta_e"])),
                                                                               float(np.nanmax(scene["theta_e"]))],
                        "local_angle_valid_deg_p2_p98": [float(v) for v in np.percentile(theta, [2, 98])],
                        "mask_pixels": {MASK_LABELS.get(int(c), "nodata"): int(n) for c, n in
                                        zip(*np.unique(scene["codes"], return_counts=True))},
                        "wet_pixel_dates": int(scene["wet"].sum())}
        for name, settings in RUNS.items():
            outputs = {k: str(Path(folder) / f"{name}_{k}.tif") for k in ("wet_snow", "melt_onset", "melt_end")}
            inputs = {"vv": scene["vv"], "vh": scene["vh"], "annotation": xml, "dem": scene["dem"]}
            result = run_job("sar_melt", inputs, outputs, settings)
            with rasterio.open(outputs["wet_snow"]) as ds:
                classes = ds.read()
            onset, end = (rio.read_raster(outputs[k]).data[0] for k in ("melt_onset", "melt_end"))
            out["runs"][name] = {"settings": settings, "rule": result.numbers["rule_used"], **score(scene, classes,
                                                                                                 onset, end)}
            r = out["runs"][name]
            print(f"{name:20s} acc mean {r['accuracy_mean']:.3f} min {r['accuracy_min']:.3f} hit {r['hit_rate']:.3f} "
                  f"false {r['false_alarm_rate']:.4f} onset exact {r['onset_exact_fraction']:.3f} "
                  f"end exact {r['end_exact_fraction']:.3f} never-wet with onset {r['never_wet_with_onset_fraction']:.4f}")
    path = ROOT / "benchmarks" / "results" / "melt_validation.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"written {path}")


if __name__ == "__main__":
    main()
