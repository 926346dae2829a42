#!/usr/bin/env python
"""Real-data validation of SAR incidence-angle normalization (issue 5).

Usage: ``.venv/bin/python scripts/validate_sar.py`` (about a minute) ->
``benchmarks/results/sar_validation.json`` and ``docs/validation/sar.md``.

Data: ``../shared/data/sar`` -- real Sentinel-1 VV sigma0 (pyroSAR test scene, Camargue, 20 m,
dB) and real Sentinel-1 annotation XML (EW SLC over NW Greenland, IW GRD over the Alps).

1. Methods 1/2: the real scene is taken as the truth at 35 deg; a known angle effect is added
   (30-45 deg ramp) and removed. Residual angle dependence = least-squares slope of
   (normalized - truth) against the angle, dB/deg (target < 0.01).
2. Annotation geometry: the incidence angle interpolated from the XML geolocation grid is
   compared with the grid points (target 0.01 deg) on the image grid and through lon/lat
   (map grid); accuracy between nodes by predicting held-out nodes.
3. Method 3 (asc/desc, Chen et al. 2022): synthetic pair built from the real scene with a
   known beta(lon, lat, elevation) and independent 18-look speckle; recovered model vs truth.
4. Method 4 (time series): six acquisitions at different angles, per-pixel beta, speckle;
   bias and standard-error calibration of the per-pixel beta.
"""

import glob
import json
import tempfile
import time
from pathlib import Path

from _checkout import use_checkout  # noqa: E402 (scripts/ is on sys.path when a script runs)

ROOT = use_checkout()

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
from rasterio.crs import CRS  # noqa: E402
from rasterio.warp import calculate_default_transform, reproject  # noqa: E402
from scipy import stats as sps  # noqa: E402

from serac.core import raster_io as rio  # noqa: E402
from serac.core.progress import ConsoleFeedback  # noqa: E402
from serac.core.sar import synthetic, units  # noqa: E402
from serac.core.sar.annotation import IncidenceAngleModel, read_annotation, to_lonlat  # noqa: E402
from serac.core.sar.beta_estimation import (BetaModel, BetaModelSource, estimate_beta_pair,  # noqa: E402
                                            estimate_beta_timeseries)
from serac.core.sar.engine import normalize_raster  # noqa: E402
from serac.core.sar.normalization import CosineLaw, LinearDB  # noqa: E402
from serac.core.sar.regression import fit_line  # noqa: E402
from serac.core.sar.sources import AnnotationAngleSource  # noqa: E402

SAR = ROOT.parent / "shared" / "data" / "sar"
PYROSAR = SAR / "pyrosar" / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
LOOKS = 18
QUIET = ConsoleFeedback(verbose=False)


def slope(theta, values):
    return float(fit_line(np.ravel(theta), np.ravel(values)).slope)


def write(folder, name, data, grid):
    path = str(Path(folder) / f"{name}.tif")
    rio.write_raster(path, data, grid)
    return path


# -- 1. methods 1/2 ---------------------------------------------------------------------------------
def known_effect(folder):
    r = rio.read_raster(PYROSAR)
    truth, grid = r.data[0], r.grid
    theta = synthetic.angle_ramp(grid.shape, 30.0, 45.0)
    th_path = write(folder, "theta", theta, grid)
    out = {"scene": f"{PYROSAR.name}, {grid.describe()}", "angle": "30-45 deg ramp across columns",
           "content_slope_db_per_deg": slope(theta, truth)}

    def run(name, observed, method, angle, note):
        case = f"case{len(out)}"  # neutral file name: no unit hint, so the unit comes from the values
        src = write(folder, case, observed, grid)
        res = normalize_raster(src, str(Path(folder) / f"{case}_norm.tif"), method, angle, feedback=QUIET)
        norm = rio.read_raster(res.path).data[0]
        observed_db = units.to_db(observed) if res.unit.unit == units.LINEAR else observed
        ok = np.isfinite(norm)
        out[name] = {"method": res.method, "input_unit": f"{res.unit.unit} ({res.unit.source})", "note": note,
                     "effect_slope_db_per_deg": slope(theta[ok], observed_db[ok] - truth[ok]),
                     "residual_slope_db_per_deg": slope(theta[ok], norm[ok] - truth[ok]),
                     "max_abs_error_db": float(np.nanmax(np.abs(norm - truth))),
                     "median_abs_error_db": float(np.nanmedian(np.abs(norm - truth))),
                     "valid_fraction": float(ok.mean()),
                     "apparent_slope_before_after": [res.slope_before[0], res.slope_after[0]]}

    run("linear_db_beta_-0.15", synthetic.add_linear_effect(truth, theta, -0.15), LinearDB(-0.15, 35.0), th_path,
        "dB input, linear-in-dB effect")
    lin = synthetic.add_cosine_effect(units.to_linear(truth), theta, 2.0)
    run("cosine_n2_linear_input", lin, CosineLaw(2.0, 35.0), th_path,
        "linear power input with a cos^2 effect; unit detected from the values")
    # angle raster on another grid (EPSG:4326, coarser): reprojected on the fly
    dst = CRS.from_epsg(4326)
    transform, w, h = calculate_default_transform(grid.crs, dst, grid.width, grid.height, *grid.bounds)
    geo = np.full((h, w), np.nan, np.float32)
    reproject(theta, geo, src_transform=grid.transform, src_crs=grid.crs, dst_transform=transform, dst_crs=dst,
              dst_nodata=np.nan, resampling=rasterio.enums.Resampling.bilinear)
    geo_path = str(Path(folder) / "theta_geo.tif")
    rio.write_raster(geo_path, geo, rio.RasterGrid(dst, transform, w, h))
    run("linear_db_angle_on_other_grid", synthetic.add_linear_effect(truth, theta, -0.15), LinearDB(-0.15, 35.0),
        geo_path, f"angle raster in EPSG:4326, {w}x{h} px, reprojected onto the backscatter grid")
    # what the known bug does: the cosine ratio applied multiplicatively to dB values
    observed_db = units.to_db(lin)
    ratio = (np.cos(np.radians(35.0)) / np.cos(np.radians(theta))) ** 2
    wrong = observed_db * ratio
    out["bug_multiplicative_cosine_on_db"] = {
        "note": "for contrast only: sigma_dB * cos^2(35)/cos^2(theta) (wrong)",
        "residual_slope_db_per_deg": slope(theta, wrong - truth),
        "median_abs_error_db": float(np.nanmedian(np.abs(wrong - truth)))}
    return out


# -- 2. annotation geometry ---------------------------------------------------------------------------
def annotation_accuracy():
    out = {}
    for xml in sorted(glob.glob(str(SAR / "s1_annotation" / "*" / "*.xml"))):
        ann = read_annotation(xml)
        g = ann.geolocation
        shape = (ann.number_of_lines, ann.number_of_samples)
        model = IncidenceAngleModel.from_annotation(ann)
        lines, pixels, f = g.points()
        on_image = model.on_image(g.lines, g.pixels[0], dtype=np.float64)
        on_map = model.at_lonlat(f["longitude"], f["latitude"])
        on_map_h = model.at_lonlat(f["longitude"], f["latitude"], heights=f["height"])
        entry = {"product": ann.describe(), "incidence_range_deg": [float(g.incidence.min()), float(g.incidence.max())],
                 "node_height_range_m": [float(f["height"].min()), float(f["height"].max())],
                 "image_grid_max_error_at_nodes_deg": float(np.max(np.abs(on_image - g.incidence))),
                 "map_grid_max_error_at_nodes_deg": float(np.max(np.abs(on_map - f["incidenceAngle"]))),
                 "map_grid_with_node_heights_max_error_deg": float(np.max(np.abs(on_map_h - f["incidenceAngle"]))),
                 "height_term_incidence_deg_per_km": [1000 * model.height_terms["incidenceAngle"].k0,
                                                      1000 * (model.height_terms["incidenceAngle"].k0
                                                              + model.height_terms["incidenceAngle"].k1)],
                 "held_out": {}}
        for label, sl in (("every_other_column", (slice(None), slice(0, None, 2))),
                          ("every_other_line", (slice(0, None, 2), slice(None)))):
            held = np.ones(g.shape, bool)
            held[sl] = False
            m = held.ravel()
            res = {}
            for kind, aware in (("cubic_height_aware", True), ("cubic_plain", False), ("linear_plain", False)):
                sub = IncidenceAngleModel(g.subset(*sl), shape, kind.split("_")[0], height_aware=aware)
                img = sub.at_points(lines[m], pixels[m], heights=f["height"][m])
                mp = sub.at_lonlat(f["longitude"][m], f["latitude"][m], heights=f["height"][m])
                res[kind] = {"image_max_deg": float(np.max(np.abs(img - f["incidenceAngle"][m]))),
                             "image_rms_deg": float(np.sqrt(np.mean((img - f["incidenceAngle"][m]) ** 2))),
                             "map_max_deg": float(np.nanmax(np.abs(mp - f["incidenceAngle"][m])))}
            entry["held_out"][label] = res
        out[Path(xml).name] = entry
    # map-grid source: coarse nodes every 400 m vs exact per-pixel inversion (IW, 50 m UTM grid)
    xml = glob.glob(str(SAR / "s1_annotation" / "S1B*" / "*vv*.xml"))[0]
    model = IncidenceAngleModel.from_file(xml)
    grid = rio.RasterGrid(CRS.from_epsg(32632), rasterio.Affine(50.0, 0, 600_000, 0, -50.0, 5_180_000), 400, 400)
    source = AnnotationAngleSource(model, grid)
    angle = source.read(rasterio.windows.Window(0, 0, grid.width, grid.height))
    rows, cols = np.mgrid[0:grid.height:5, 0:grid.width:5]
    exact = model.on_map(*grid.xy(rows, cols), grid.crs)
    out["map_source_coarse_vs_exact"] = {"grid": grid.describe(), "node_step_px": source.step,
                                         "max_abs_diff_deg": float(np.nanmax(np.abs(exact - angle[rows, cols])))}
    return out


# -- 3. asc/desc pair -------------------------------------------------------------------------------------
def pair_recovery(folder):
    r = rio.read_raster(PYROSAR)
    truth, grid = r.data[0], r.grid
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    lon, lat = (a.reshape(grid.shape) for a in to_lonlat(*grid.xy(rows, cols), grid.crs))
    dem = synthetic.smooth_elevation(grid.shape, 0.0, 2000.0, seed=1)
    true = BetaModel(-0.2 - 1.5 * 4.52 + 2.0 * 43.59 - 6e-5 * 1000, 1.5, -2.0, 6e-5, 0, 0, 0, 0, 1, 0, 0, 0,
                     (4.52, 43.59, 1000.0))
    beta = true.predict(lon, lat, dem).astype(np.float32)
    th_a = synthetic.angle_ramp(grid.shape, 33.0, 40.0)
    th_d = synthetic.angle_ramp(grid.shape, 44.0, 37.0)
    paths = {n: write(folder, n, d, grid) for n, d in (("th_a", th_a), ("th_d", th_d), ("dem", dem))}
    runs = []
    for seed in (1, 3, 5):
        asc = write(folder, "asc_db", synthetic.add_linear_effect(truth, th_a, beta)
                    + synthetic.speckle_db(grid.shape, LOOKS, seed), grid)
        desc = write(folder, "desc_db", synthetic.add_linear_effect(truth, th_d, beta)
                     + synthetic.speckle_db(grid.shape, LOOKS, seed + 1), grid)
        for estimator in ("median", "ls"):
            res = estimate_beta_pair(asc, paths["th_a"], desc, paths["th_d"], dem=paths["dem"], window=16,
                                     estimator=estimator, feedback=QUIET)
            m = res.model
            est = m.predict(lon, lat, dem)
            norm = str(Path(folder) / "asc_norm.tif")
            normalize_raster(asc, norm, LinearDB(BetaModelSource(m, grid, paths["dem"])), paths["th_a"],
                             feedback=QUIET)
            n = rio.read_raster(norm).data[0]
            runs.append({"speckle_seed": seed, "estimator": estimator, "windows_used": m.n_windows,
                         "windows_rejected": m.n_rejected, "r2": m.r2, "rmse_db_per_deg": m.rmse,
                         "lon_coef": [m.lon_coef, m.lon_se], "lat_coef": [m.lat_coef, m.lat_se],
                         "elev_coef_per_m": [m.elev_coef, m.elev_se],
                         "beta_map_rmse_db_per_deg": float(np.sqrt(np.mean((est - beta) ** 2))),
                         "beta_map_max_abs_error_db_per_deg": float(np.max(np.abs(est - beta))),
                         "residual_slope_after_normalization_db_per_deg": slope(th_a, n - truth)})
    return {"truth": {"formula": "beta = -0.2 + 1.5 (lon - 4.52) - 2.0 (lat - 43.59) + 6e-5 (elev - 1000) dB/deg",
                      "beta_range_db_per_deg": [float(beta.min()), float(beta.max())],
                      "angles": "asc 33->40 deg, desc 44->37 deg across columns", "speckle_looks": LOOKS,
                      "dem": "smooth synthetic hills 0-2000 m", "window_px": 16},
            "runs": runs}


# -- 4. time series -----------------------------------------------------------------------------------------
def timeseries_recovery(folder):
    r = rio.read_raster(PYROSAR)
    truth, grid = r.data[0], r.grid
    beta = np.clip(-0.25 + 0.01 * (truth + 12.0), -0.45, -0.05).astype(np.float32)
    ranges = [(30, 38), (44, 36), (33, 41), (41, 45), (36, 31), (39, 46)]
    paths, angles = [], []
    for k, (near, far) in enumerate(ranges):
        theta = synthetic.angle_ramp(grid.shape, near, far)
        paths.append(write(folder, f"ts{k}_db", synthetic.add_linear_effect(truth, theta, beta)
                           + synthetic.speckle_db(grid.shape, LOOKS, 10 + k), grid))
        angles.append(write(folder, f"ts_theta{k}", theta, grid))
    t0 = time.perf_counter()
    res = estimate_beta_timeseries(paths, angles, str(Path(folder) / "ts_beta.tif"), feedback=QUIET)
    elapsed = time.perf_counter() - t0
    out = rio.read_raster(res.path).data
    z = (out[0] - beta) / out[1]
    beta_path = write(folder, "ts_beta_only", out[0], grid)
    normalize_raster(paths[1], str(Path(folder) / "ts_norm.tif"), LinearDB(beta_path), angles[1], feedback=QUIET)
    norm = rio.read_raster(str(Path(folder) / "ts_norm.tif")).data[0]
    theta1 = rio.read_raster(angles[1]).data[0]
    return {"truth": {"beta": "-0.25 + 0.01 (sigma_dB + 12), clipped to [-0.45, -0.05] dB/deg (per pixel)",
                      "acquisitions": [f"{a}->{b} deg" for a, b in ranges], "speckle_looks": LOOKS},
            "pixels": int(out[0].size), "fitted_fraction": res.valid_fraction, "seconds": elapsed,
            "beta_bias_db_per_deg": float(np.mean(out[0] - beta)),
            "beta_rmse_db_per_deg": float(np.sqrt(np.mean((out[0] - beta) ** 2))),
            "median_standard_error_db_per_deg": float(np.median(out[1])),
            "coverage_of_95pct_t_interval": float(np.mean(np.abs(z) < sps.t.ppf(0.975, len(paths) - 2))),
            "sigma_ref_bias_db": float(np.mean(out[2] - truth)),
            "sigma_ref_bias_note": "mean of 10 log10 of 18-look speckle is -0.12 dB (expected)",
            "residual_slope_after_normalizing_image_2_db_per_deg": slope(theta1, norm - truth)}


def markdown(report):
    k, a, p, t = report["known_effect"], report["annotation"], report["pair"], report["timeseries"]
    lines = ["# SAR incidence-angle normalization: validation on real data", "",
             f"Generated by `scripts/validate_sar.py` on {report['date']} (numbers in "
             "`benchmarks/results/sar_validation.json`).", "",
             "## 1. Known angle effect on real Sentinel-1 backscatter (methods 1 and 2)", "",
             f"Scene: {k['scene']}; angle {k['angle']}. The scene itself correlates with the angle ramp "
             f"(content slope {k['content_slope_db_per_deg']:+.4f} dB/deg), so the residual is measured on "
             "(normalized - truth).", "",
             "| case | input unit | added effect (dB/deg) | residual slope (dB/deg) | max abs error (dB) |",
             "|---|---|---|---|---|"]
    for name, v in k.items():
        if isinstance(v, dict) and "max_abs_error_db" in v:
            lines.append(f"| {name} ({v['note']}) | {v['input_unit']} | {v['effect_slope_db_per_deg']:+.4f} | "
                         f"{v['residual_slope_db_per_deg']:+.2e} | {v['max_abs_error_db']:.2e} |")
    bug = k["bug_multiplicative_cosine_on_db"]
    lines += ["", "For contrast, multiplying dB values by the cosine ratio (a known bug elsewhere) leaves a slope of "
              f"{bug['residual_slope_db_per_deg']:+.3f} dB/deg and a median error of "
              f"{bug['median_abs_error_db']:.2f} dB.",
              "", "## 2. Incidence angle from the annotation XML", "",
              "Separable not-a-knot cubic interpolation over the geolocation lattice, after removing a fitted "
              "height term (the node angles and lon/lat depend on the node heights); map grids by inverting the "
              "lattice lon/lat (Newton).", "",
              "| annotation | incidence (deg) | node heights (m) | max error at nodes, image / map (deg) | "
              "held-out columns: height-aware / plain cubic / linear, max (deg) | held-out lines, same |",
              "|---|---|---|---|---|---|"]
    for name, v in a.items():
        if name == "map_source_coarse_vs_exact":
            continue
        ho = v["held_out"]
        fmt = " / ".join
        lines.append(
            f"| {name[:40]}... | {v['incidence_range_deg'][0]:.2f}-{v['incidence_range_deg'][1]:.2f} | "
            f"{v['node_height_range_m'][0]:.0f}-{v['node_height_range_m'][1]:.0f} | "
            f"{v['image_grid_max_error_at_nodes_deg']:.1e} / {v['map_grid_max_error_at_nodes_deg']:.1e} | "
            + fmt(f"{ho['every_other_column'][c]['image_max_deg']:.4f}" for c in ho["every_other_column"]) + " | "
            + fmt(f"{ho['every_other_line'][c]['image_max_deg']:.4f}" for c in ho["every_other_line"]) + " |")
    c = a["map_source_coarse_vs_exact"]
    lines += ["", f"Held-out nodes are predicted from a lattice with twice the node spacing, so these are upper "
              f"bounds of the error between nodes of the full lattice. Map-grid source ({c['grid']}, nodes every "
              f"{c['node_step_px']} px, bilinear in between) vs exact per-pixel inversion: max "
              f"{c['max_abs_diff_deg']:.1e} deg.", "",
              "## 3. Beta from an ascending/descending pair (Chen et al. 2022)", "",
              f"Truth: {p['truth']['formula']} (range {p['truth']['beta_range_db_per_deg'][0]:.3f} to "
              f"{p['truth']['beta_range_db_per_deg'][1]:.3f}); {p['truth']['angles']}; "
              f"{p['truth']['speckle_looks']}-look speckle; DEM {p['truth']['dem']}; windows "
              f"{p['truth']['window_px']} px.", "",
              "| seed | estimator | windows | lon coef (1.5) | lat coef (-2.0) | elev coef (6e-5 /m) | R2 | "
              "beta map RMSE (dB/deg) | residual slope after (dB/deg) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in p["runs"]:
        lines.append(f"| {r['speckle_seed']} | {r['estimator']} | {r['windows_used']} | "
                     f"{r['lon_coef'][0]:.3f} ± {r['lon_coef'][1]:.3f} | "
                     f"{r['lat_coef'][0]:.3f} ± {r['lat_coef'][1]:.3f} | "
                     f"{r['elev_coef_per_m'][0]:.2e} ± {r['elev_coef_per_m'][1]:.1e} | {r['r2']:.2f} | "
                     f"{r['beta_map_rmse_db_per_deg']:.4f} | "
                     f"{r['residual_slope_after_normalization_db_per_deg']:+.4f} |")
    lines += ["", "## 4. Per-pixel beta from a time series", "",
              f"Six acquisitions ({', '.join(t['truth']['acquisitions'])}), per-pixel beta {t['truth']['beta']}, "
              f"{t['truth']['speckle_looks']}-look speckle, {t['pixels']} px.", "",
              f"- beta bias {t['beta_bias_db_per_deg']:+.5f} dB/deg, RMSE {t['beta_rmse_db_per_deg']:.4f} dB/deg, "
              f"median standard error {t['median_standard_error_db_per_deg']:.4f} dB/deg;",
              f"- coverage of the 95 % Student-t interval (4 dof) built from the standard error: "
              f"{100 * t['coverage_of_95pct_t_interval']:.1f} % (standard error well calibrated);",
              f"- residual angle slope after normalizing image 2 with the per-pixel beta: "
              f"{t['residual_slope_after_normalizing_image_2_db_per_deg']:+.4f} dB/deg.", "",
              "## Limits", "",
              "- The effects are synthetic (known answers) on real backscatter; real asc/desc pairs also differ by "
              "look-direction (aspect) effects and surface change, which the window median and the outlier "
              "rejection only partly absorb.",
              "- Between lattice nodes the annotation angle is accurate to the held-out figures above when the "
              "terrain height is known (DEM); without a DEM the node heights are interpolated, which on rough "
              "terrain errs by about 0.15-0.25 deg per km of height difference in radar geometry.", ""]
    return "\n".join(lines)


def main():
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="serac_validate_sar_") as folder:
        report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "known_effect": known_effect(folder),
                  "annotation": annotation_accuracy(),
                  "pair": pair_recovery(folder),
                  "timeseries": timeseries_recovery(folder)}
    report["seconds"] = time.perf_counter() - t0
    out = ROOT / "benchmarks" / "results" / "sar_validation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    doc = ROOT / "docs" / "validation" / "sar.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(markdown(report))
    print(doc.read_text())


if __name__ == "__main__":
    main()
