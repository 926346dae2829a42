"""Run every Serac benchmark (benchmarks/bench_*.py) one after the other.

Usage: ``.venv/bin/python benchmarks/run_all.py [--quick] [--only velocity dem ...]``

Each benchmark writes its own JSON to benchmarks/results/<topic>.json with the
machine it ran on. Run them on an otherwise idle machine: they measure wall time
and peak memory, and anything else running on the cores skews both.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--only", nargs="*", help="topics to run (default: all)")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem[len("bench_"):] in args.only]
    failures = []
    for script in scripts:
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        if subprocess.run(cmd).returncode != 0:
            failures.append(script.name)
        print(f"== {script.name} finished in {time.perf_counter() - t0:.0f} s", flush=True)
    if failures:
        sys.exit(f"benchmarks failed: {', '.join(failures)}")


if __name__ == "__main__":
    main()
