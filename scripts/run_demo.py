"""Serac demo: run every Serac algorithm on the bundled real sample data.

Usage (the README's ``make demo`` does this): ``.venv/bin/python scripts/run_demo.py --output demo_output``

Each step runs through the real ``qgis_process`` command line with the Serac
plugin enabled (in a private QGIS profile under the output folder). Afterwards
all outputs are loaded with their Serac styles into ``serac_demo.qgz``, each map
is rendered to PNG with QGIS's map renderer, and ``summary.md`` lists the numbers
each algorithm reported. Steps whose algorithm is not available are skipped.
"""

import argparse
import json
import os
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample_data"
sys.path.insert(0, str(ROOT / "scripts"))
from _checkout import link_plugin  # noqa: E402

from demo_steps import STEPS  # noqa: E402


def qgis_process_binary():
    for name in ("qgis_process.bin", "qgis_process"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("qgis_process not found: install QGIS (make system-deps).")


class QgisProcess:
    """The qgis_process CLI with Serac enabled in a private profile."""

    def __init__(self, workdir):
        self.binary = qgis_process_binary()
        pluginpath = link_plugin(workdir / "pluginpath")
        self.env = dict(os.environ, HOME=str(workdir / "qgis_home"), QGIS_PLUGINPATH=str(pluginpath),
                        QT_QPA_PLATFORM="offscreen",
                        PYTHONPATH=os.pathsep.join([str(pluginpath)] + site.getsitepackages()))
        self("plugins", "enable", "serac", check=False)
        self.algorithms = self("list").stdout

    def __call__(self, *args, check=True):
        proc = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"qgis_process {' '.join(args[:3])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc

    def run(self, alg_id, params):
        args = ["--json", "run", alg_id, "--"]
        for key, value in params.items():  # a list (multiple layers) is given as repeated KEY=value
            args += [f"{key}={v}" for v in value] if isinstance(value, list) else [f"{key}={value}"]
        proc = self(*args)
        return json.loads(proc.stdout[proc.stdout.index("{"):])["results"]


def missing_packages(pluginpath):
    """{algorithm id: pip names of its packages that are not installed} (torch is optional)."""
    sys.path.insert(0, str(pluginpath))
    from serac.processing_provider.provider import discover_algorithm_classes

    return {c.ALG_ID: c.missing_requirements() for c in discover_algorithm_classes()}


def run_steps(out_dir, only=None):
    qp = QgisProcess(out_dir / ".qgis")
    missing = missing_packages(out_dir / ".qgis" / "pluginpath")
    done = []
    for step in STEPS:
        if only and step.name not in only:
            continue
        if f"serac:{step.alg}" not in qp.algorithms:
            print(f"- skipped {step.name}: serac:{step.alg} is not available", file=sys.stderr)
            continue
        if missing.get(step.alg):
            print(f"- skipped {step.name}: needs {', '.join(missing[step.alg])} (not installed)", file=sys.stderr)
            continue
        params = step.parameters(SAMPLE, out_dir, {d["step"].name: d["results"] for d in done})
        t0 = time.perf_counter()
        print(f"- running {step.name} (serac:{step.alg}) ...", file=sys.stderr, flush=True)
        results = qp.run(f"serac:{step.alg}", params)
        seconds = time.perf_counter() - t0
        done.append({"step": step, "results": results, "seconds": seconds})
        print(f"  done in {seconds:.1f} s", file=sys.stderr)
    return done


def build_project_and_maps(out_dir, done):
    """Load every output with its style into a QGIS project and render one PNG per step."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    try:
        sys.path.insert(0, str(out_dir / ".qgis" / "pluginpath"))  # import the checkout as 'serac'
        from demo_render import render_step_maps

        return render_step_maps(out_dir, done)
    finally:
        app.exitQgis()


def write_summary(out_dir, done, maps):
    lines = ["# Serac demo results", "",
             "Every algorithm below ran through `qgis_process` on the real sample data bundled in "
             "`resources/sample_data` (attributions in `resources/sample_data/ATTRIBUTION.md`).", ""]
    for entry in done:
        step = entry["step"]
        lines += [f"## {step.title}", "", step.description, "", f"Run time: {entry['seconds']:.1f} s", ""]
        numbers = {k: v for k, v in entry["results"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numbers:
            lines += ["| output | value |", "|---|---|"]
            lines += [f"| {k} | {v:.4g} |" for k, v in numbers.items()]
            lines.append("")
        files = {k: v for k, v in entry["results"].items() if isinstance(v, str) and os.path.exists(v)}
        for key, path in files.items():
            lines.append(f"- {key}: `{os.path.relpath(path, out_dir)}`")
        for png in maps.get(step.name, []):
            lines += ["", f"![{step.title}]({os.path.relpath(png, out_dir)})"]
        lines.append("")
    (out_dir / "summary.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="demo_output", type=Path)
    parser.add_argument("--only", nargs="*", help="run only these steps")
    args = parser.parse_args(argv)
    out_dir = args.output.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    done = run_steps(out_dir, args.only)
    maps = build_project_and_maps(out_dir, done)
    write_summary(out_dir, done, maps)
    print(f"\nSerac demo finished: {len(done)} algorithm(s) ran.")
    print(f"Outputs:       {out_dir}")
    print(f"QGIS project:  {out_dir / 'serac_demo.qgz'}")
    print(f"Maps (PNG):    {out_dir / 'maps'}")
    print(f"Summary:       {out_dir / 'summary.md'}")


if __name__ == "__main__":
    main()
