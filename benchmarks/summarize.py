"""Turn benchmarks/results/*.json into one Markdown page (docs/benchmarks.md).

Usage: ``.venv/bin/python benchmarks/summarize.py [--output docs/benchmarks.md]``

Only figures found in the JSON files are written (nothing is typed in by hand), with
the machine and date each benchmark ran on.
"""

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: topic -> (title, how to reproduce, list key, [(column label, key or callable)])
TABLES = {
    "velocity": ("Velocity correlation (chip 32 px, search ±16 px)", "benchmarks/bench_velocity.py", "results", [
        ("case", "case"), ("backend", "backend"), ("image (px)", lambda c: "x".join(map(str, c.get("image_px", [])))),
        ("grid points", "points"), ("wall (s)", "seconds"), ("points/s", "points_per_second"),
        ("CPU µs/point", "cpu_microseconds_per_point"), ("peak RSS (MB)", "peak_rss_mb")]),
    "velocity_cpu_per_point": ("Velocity cost per point on one thread (chip 32 px, search ±16 px): instructions "
                               "and CPU time, before and after", "benchmarks/bench_velocity.py --point-cost", "rows", [
        ("version", "version"), ("code", "label"),
        ("image (px)", lambda c: "x".join(map(str, c.get("image_px", [])))),
        ("points", "points"), ("valid fraction", "valid_fraction"), ("instructions / point", "instructions_per_point"),
        ("CPU µs/point, median", "cpu_microseconds_per_point_median"),
        ("CPU µs/point, min", "cpu_microseconds_per_point_min"),
        ("CPU µs/point, max", "cpu_microseconds_per_point_max")]),
    "dem": ("DEM co-registration (Nuth & Kääb), against xDEM's published figures", "benchmarks/bench_dem.py", "cases", [
        ("case", "case"), ("pixels", "pixels"), ("fit, files (s)", "fit_files_s"), ("fit, in memory (s)", "fit_memory_s"),
        ("xDEM fit (s)", lambda c: c.get("xdem_published", {}).get("fit_s")),
        ("speed-up fit (memory)", "speedup_fit_memory_vs_xdem"), ("speed-up fit (files)", "speedup_fit_files_vs_xdem"),
        ("apply, files (s)", "apply_files_s"), ("apply, in memory (s)", "apply_memory_s"),
        ("xDEM apply (s)", lambda c: c.get("xdem_published", {}).get("apply_s")), ("peak RSS (MB)", "peak_rss_mb")]),
    "sar": ("SAR incidence-angle normalization of a 10 000 x 10 000 float32 raster", "benchmarks/bench_sar.py",
            "cases", [("case", "case"), ("wall (s)", "wall_s"), ("time / plain copy", "ratio_to_copy"),
                      ("peak RSS (MB)", "peak_rss_mb")]),
    "melt": ("Wet-snow and melt detection: 100 dates of 2 000 x 2 000 px, VV + VH, blockwise (measured while 7 agents "
             "shared the 2 cores)", "benchmarks/bench_melt.py", "cases", [
        ("case", "case"), ("block (px)", "block_px"), ("GDAL cache (MB)", "gdal_cachemax_mb"), ("wall (s)", "wall_s"),
        ("s / date", "s_per_date"),
        ("peak RSS (MB)", "peak_rss_mb"), ("Python heap peak (MB)", "python_heap_peak_mb")]),
    "timeseries": ("Velocity time-series inversion", "benchmarks/bench_timeseries.py", "cases", [
        ("case", "case"), ("pixels", "pixels"), ("pairs", "pairs"), ("steps", "steps"),
        ("solve (s)", lambda c: c.get("solve_s", c.get("invert_stack_s"))), ("pixels/s", "pixels_per_s"),
        ("peak RSS (MB)", "peak_rss_mb")]),
    "segmentation": ("Deep-learning segmentation inference (shipped glacier model)", "benchmarks/bench_segmentation.py",
                     "results", [
        ("case", "case"), ("backend", "backend"), ("uncertainty (TTA)", lambda c: {True: "on", False: "off"}.get(c.get("uncertainty"))),
        ("image (px)", lambda c: f"{c['width']}x{c['height']}" if "width" in c else None),
        ("part done (time limit)", "fraction_done"),
        ("wall (s)", "wall_s"), ("Mpx/s", "mpx_per_s"), ("peak RSS (MB)", "peak_rss_mb"),
        ("GDAL cache", "gdal_cachemax"), ("max abs. difference of probability, ONNX vs torch", "max_abs_diff_probability"),
        ("class agreement", "class_agreement")]),
    "job_layer_before_after": ("Job layer and one grid reader (issue 15): before / after, back to back",
                               "benchmarks/bench_{dem,velocity,sar,timeseries}.py on both commits", "rows", [
        ("topic", "topic"), ("case", "case"), ("figure", "figure"), ("before", "before"), ("after", "after"),
        ("after / before", "after_over_before")]),
}


def _cell(value):
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(topic, data):
    title, script, key, columns = TABLES[topic]
    rows = data.get(key) or []
    if isinstance(rows, dict):  # {case: figures}
        rows = [dict(figures, case=case) for case, figures in rows.items()]
    machine = data.get("machine", {})
    lines = [f"## {title}", "",
             f"`{script}` — ran {machine.get('date', '?')} on {machine.get('cpu_count', '?')} CPU(s), "
             f"{machine.get('platform', '?')}" + (" (quick run)" if data.get("quick") else "") + ".", ""]
    if data.get("note"):
        lines += [f"Note: {data['note']}", ""]
    used = [(label, getter) for label, getter in columns
            if any((getter(r) if callable(getter) else r.get(getter)) not in (None, "") for r in rows)]
    lines.append("| " + " | ".join(label for label, _ in used) + " |")
    lines.append("|" + "---|" * len(used))
    for r in rows:
        lines.append("| " + " | ".join(_cell(g(r) if callable(g) else r.get(g)) for _, g in used) + " |")
    return lines + [""]


#: Column titles of the time-series comparison's instruction counts (keys ``<name>_instructions_per_pixel``).
_INSTRUCTION_COLUMNS = {"fixed": "fixed lambda 1", "auto": "automatic", "gaps_fixed": "cloud gaps, fixed lambda 1",
                        "gaps_auto": "cloud gaps, automatic"}


def comparison(path, data):
    """Before/after table of a benchmark run with ``--compare`` (its ``versions``, measured back to back)."""
    versions = data["versions"]
    names = list(versions)
    machine = data.get("machine", {})
    timed = any(versions[n]["cases"] for n in names)  # (a run may hold instruction counts only)
    lines = [f"### {data.get('title', 'Versions compared back to back')}", "",
             f"`{path.name}` — ran {machine.get('date', '?')} on {machine.get('cpu_count', '?')} CPU(s)"
             + ((" (quick run)" if data.get("quick") else "") + "; each case ran on every version in turn before "
                "the next case, so all saw the same load" + (f" (1-minute load average {_loads(data)})"
                                                             if data.get("load_average_1_5_15_min") else "")
                if timed else "; instruction counts only") + ".", ""]
    if data.get("note"):
        lines += [f"Note: {data['note']}", ""]
    lines += ["Code: " + "; ".join(f"{n}: {versions[n].get('label', versions[n]['code'])}" for n in names)]
    by_case = [{c["case"]: c for c in versions[n]["cases"]} for n in names]
    if timed:
        lines += ["", "| case | " + " | ".join(f"{n} (pixels/s)" for n in names) + " | "
                  + " | ".join(f"now / {n}" for n in names[:-1]) + " |", "|" + "---|" * (1 + 2 * len(names) - 1)]
    for case in by_case[-1]:
        rates = [v.get(case, {}).get("pixels_per_s") for v in by_case]
        if rates[-1] is None:
            continue
        ratios = [rates[-1] / r if r else None for r in rates[:-1]]
        lines.append(f"| {case} | " + " | ".join(_cell(r) for r in rates) + " | "
                     + " | ".join("" if r is None else f"{r:.2f}" for r in ratios) + " |")
    counts = data.get("instructions", {}).get("versions")
    if counts:
        now = counts.get(names[-1], {})
        keys = [k for k in now if k.endswith("_instructions_per_pixel")]
        titles = [_INSTRUCTION_COLUMNS.get(k[:-len("_instructions_per_pixel")], k) for k in keys]
        lines += ["", f"Instructions per pixel ({data['instructions']['case']}):", "",
                  "| version | " + " | ".join(titles) + " | " + " | ".join(f"{t}: now / version" for t in titles)
                  + " |", "|" + "---|" * (1 + 2 * len(keys))]
        for n in names:
            fig = counts.get(n, {})
            ratios = [now.get(k) / fig[k] if fig.get(k) and now.get(k) else None for k in keys]
            lines.append(f"| {n} | " + " | ".join(_cell(fig.get(k)) for k in keys) + " | "
                         + " | ".join("" if r is None else f"{r:.2f}" for r in ratios) + " |")
    solve = [(case, label) for case in by_case[-1] if case.startswith("accuracy_")
             for label in ("fixed_lambda_1", "auto_gcv") if "solve_s" in by_case[-1][case].get(label, {})]
    if solve:
        lines += ["", "| accuracy case: solve time (s) | " + " | ".join(names) + " | "
                  + " | ".join(f"time now / {n}" for n in names[:-1]) + " |", "|" + "---|" * (2 * len(names))]
        for case, label in solve:
            times = [v.get(case, {}).get(label, {}).get("solve_s") for v in by_case]
            lines.append(f"| {case}, {label.replace('_', ' ')} | " + " | ".join(_cell(t) for t in times) + " | "
                         + " | ".join("" if not t else f"{times[-1] / t:.2f}" for t in times[:-1]) + " |")
    if any(case.startswith("accuracy_") for case in by_case[-1]):
        lines += ["", "| accuracy case (RMSE all / fast, m/yr) | " + " | ".join(names) + " |",
                  "|" + "---|" * (1 + len(names))]
    for case in by_case[-1]:
        if not case.startswith("accuracy_"):
            continue
        for label in ("auto_gcv", "fixed_lambda_1"):
            cells = []
            for v in by_case:
                fig = v.get(case, {}).get(label, {})
                cells.append(f"{fig['rmse_m_per_yr']:.1f} / {fig['rmse_fast_m_per_yr']:.1f}" if fig else "")
            lines.append(f"| {case}, {label.replace('_', ' ')} | " + " | ".join(cells) + " |")
    return lines + [""]


#: Row titles of the TICOI comparison's tools (keys of ``cases[case]["tools"]`` in timeseries_vs_ticoi.json).
_TICOI_TOOLS = {"ticoi_matched": "TICOI, settings matched to Serac's lambda 1",
                "ticoi_matched_all_pairs_first": "TICOI, matched, all pairs in its first pass",
                "ticoi_coef_100": "TICOI, its default coef 100"}


def _tool_title(key):
    if key in _TICOI_TOOLS:
        return _TICOI_TOOLS[key]
    version, _, run = key[len("serac_"):].partition("_")
    return f"Serac {version}, " + {"fixed_lambda_1": "lambda 1", "auto": "automatic lambda (default)"}.get(run, run)


def ticoi_comparison(path, data):
    """Serac against TICOI on the same stacks (benchmarks/bench_ticoi.py): CPU time per pixel and accuracy."""
    machine, venv = data.get("machine", {}), data.get("ticoi_venv", {})
    versions = data.get("serac_versions", {})
    lines = ["### Time-series inversion against TICOI on the same stacks, one thread", "",
             f"`benchmarks/bench_ticoi.py` (`{path.name}`) — ran {machine.get('date', '?')} on "
             f"{machine.get('cpu_count', '?')} CPU(s); TICOI {venv.get('ticoi', '?')} (numpy {venv.get('numpy', '?')},"
             f" scipy {venv.get('scipy', '?')}, numba {venv.get('numba', '?')}) in a venv of its own, Serac with "
             f"numpy {machine.get('numpy', '?')}; {data.get('rounds', '?')} rounds, every tool in turn on each "
             f"case (1-minute load average {_loads(data)}). {data.get('timing', '')}.", ""]
    if data.get("note"):
        lines += [f"Note: {data['note']}", ""]
    lines += ["Code: " + "; ".join(f"{n}: {v.get('label', v['code'])}" for n, v in versions.items()), "",
              "Settings mapping:", ""]
    lines += [f"- {key.replace('_', ' ')}: {text}" for key, text in data.get("settings_mapping", {}).items()]
    lines += ["", "| case | tool | CPU ms/pixel (median) | of which TICOI's inversion_core | TICOI matched / tool "
              "(time; median of the rounds, range) | RMSE, steps all give (m/yr) | RMSE, own steps (m/yr) | "
              "pixel-steps given |", "|" + "---|" * 8]
    for case, fig in data.get("cases", {}).items():
        ratios = fig.get("ticoi_matched_over_serac_time", {})
        for key, tool in fig.get("tools", {}).items():
            ratio = ratios.get(key)
            inversion = tool.get("inversion_core_s_per_pixel_median")
            lines.append(f"| {case} | {_tool_title(key)} | {tool['s_per_pixel_median'] * 1e3:.3f} | "
                         + ("" if inversion is None else f"{inversion * 1e3:.2f}") + " | "
                         + (f"{ratio['median']:.0f} ({ratio['min']:.0f}-{ratio['max']:.0f})" if ratio else "") + " | "
                         + f"{_cell(tool['rmse_common_steps_m_per_yr'])} | {_cell(tool['rmse_own_steps_m_per_yr'])}"
                         + f" | {tool['pixel_steps_given']:.2f} |")
    lines += ["", "Cases: " + "; ".join(f"{case}: {fig.get('description', '')} ({fig.get('pixels_with_data', '?')} "
                                       f"pixels with data, {fig.get('steps', '?')} steps)"
                                       for case, fig in data.get("cases", {}).items()), ""]
    return lines


def _loads(data):
    loads = [entry[0] for entry in data.get("load_average_1_5_15_min", []) if entry]
    return f"{min(loads):.0f}-{max(loads):.0f}" if loads else "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    lines = ["# Serac benchmarks", "",
             "Generated by `benchmarks/summarize.py` from `benchmarks/results/*.json`; reproduce with `make bench` "
             "(all) or the script named under each table, on an otherwise idle machine. Wall times and peak "
             "resident memory (RSS) as measured; nothing here is asserted by a test.", ""]
    for topic in TABLES:
        path = HERE / "results" / f"{topic}.json"
        if path.exists():
            lines += table(topic, json.loads(path.read_text()))
        for other in sorted((HERE / "results").glob(f"{topic}_compare*.json")):
            lines += comparison(other, json.loads(other.read_text()))
        ticoi = HERE / "results" / f"{topic}_vs_ticoi.json"
        if ticoi.exists():
            lines += ticoi_comparison(ticoi, json.loads(ticoi.read_text()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
