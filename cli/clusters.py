"""Where a batch runs: a local Dask cluster, a running scheduler, a SLURM/OAR cluster through
dask-jobqueue, or a job-array script for SLURM or OAR.

Cluster resources come from a small YAML or TOML file (one job of the cluster)::

    cores: 8            # CPU cores per job
    memory: 32GB        # memory per job
    walltime: "02:00:00"
    account: glacier    # SLURM account / OAR project (optional)
    queue: normal       # SLURM partition / OAR queue (optional)
    processes: 8        # Dask workers per job (default: cores, i.e. one thread each)
    python: /path/to/venv/bin/python   # interpreter on the nodes (default: this one)
    job_extra_directives: ["--constraint=skylake"]   # optional, added as given
    max_parallel: 50    # job arrays: most array tasks at once (optional)
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Optional

from ..core.errors import DependencyMissing, InputError

DEFAULTS = {"cores": 1, "memory": "4GB", "walltime": "01:00:00", "account": "", "queue": "", "processes": None,
            "python": "", "job_extra_directives": [], "max_parallel": 0, "log_dir": "serac-logs"}


def read_config(path: Optional[str]) -> dict:
    """Cluster resources from a YAML or TOML file (missing keys take :data:`DEFAULTS`)."""
    values = {}
    if path:
        if not os.path.isfile(path):
            raise InputError(f"The cluster configuration '{path}' does not exist.", "give a YAML or TOML file.")
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            if path.lower().endswith(".toml"):
                try:
                    import tomllib
                except ImportError:  # Python < 3.11
                    import tomli as tomllib
                values = tomllib.loads(data.decode("utf-8"))
            else:
                import yaml

                values = yaml.safe_load(data) or {}
        except Exception as exc:
            raise InputError(f"The cluster configuration '{path}' cannot be read ({exc}).",
                             "write key: value lines (YAML) or key = value (TOML).") from None
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise InputError(f"Unknown cluster setting(s) {', '.join(unknown)} in '{path}'.",
                         f"use only {', '.join(sorted(DEFAULTS))}.")
    config = dict(DEFAULTS, **values)
    config["cores"] = int(config["cores"])
    config["processes"] = int(config["processes"] or config["cores"])
    return config


def _require(module, purpose):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DependencyMissing(module.split(".")[0], purpose,
                                pip_name={"dask_jobqueue": "dask-jobqueue"}.get(module, module)) from None


def local_cluster(workers: int, memory_limit: str):
    """A LocalCluster of ``workers`` processes with one thread each and ``memory_limit`` each.

    Dask's own log lines are kept to critical ones: a row's error is recorded with the row, a lost worker as
    the lost task's error, and an expected shutdown (after Ctrl+C, SIGTERM or the end of the batch) must not
    print the tracebacks of heartbeats cut short."""
    import logging

    distributed = _require("distributed", "to run a batch on Dask")
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    memory_limit=memory_limit, dashboard_address=None,
                                    silence_logs=logging.CRITICAL)


def jobqueue_cluster(kind: str, config: dict, jobs: int):
    """A SLURMCluster or OARCluster from ``config``, scaled to ``jobs`` jobs."""
    jq = _require("dask_jobqueue", f"to run a batch on {kind.upper()}")
    common = dict(cores=config["cores"], memory=str(config["memory"]), processes=config["processes"],
                  walltime=str(config["walltime"]), queue=config["queue"] or None,
                  job_extra_directives=list(config["job_extra_directives"]),
                  python=config["python"] or sys.executable, log_directory=config["log_dir"])
    if kind == "slurm":
        cluster = jq.SLURMCluster(account=config["account"] or None, **common)
    elif kind == "oar":
        cluster = jq.OARCluster(project=config["account"] or None, **common)
    else:
        raise InputError(f"Unknown cluster '{kind}'.", "use slurm or oar.")
    if jobs:
        cluster.scale(jobs=jobs)
    return cluster


def array_script(kind: str, manifest: str, n_rows: int, catalogue: str, config: dict,
                 extra_args: tuple = ()) -> str:
    """A SLURM or OAR job-array script running one manifest row per array task through ``serac batch --row``.

    SLURM array indices run 0..n-1 (the row numbers); OAR's ``$OAR_ARRAY_INDEX`` runs 1..n, so row =
    index - 1. When the array has finished, ``serac batch MANIFEST --collect`` writes the catalogue.
    """
    python = config["python"] or sys.executable
    command = [python, "-m", "serac.cli", "batch", os.path.abspath(manifest), "--catalogue",
               os.path.abspath(catalogue), "--threads", str(config["cores"]), *extra_args]
    run = " ".join(shlex.quote(c) for c in command)
    logs = config["log_dir"]
    threads = f"export OMP_NUM_THREADS={config['cores']} OPENBLAS_NUM_THREADS={config['cores']} " \
              f"MKL_NUM_THREADS={config['cores']} GDAL_NUM_THREADS={config['cores']}"
    if kind == "slurm":
        limit = f"%{config['max_parallel']}" if config["max_parallel"] else ""
        lines = ["#!/bin/bash", "#SBATCH --job-name=serac-batch", f"#SBATCH --array=0-{n_rows - 1}{limit}",
                 "#SBATCH --ntasks=1", f"#SBATCH --cpus-per-task={config['cores']}",
                 f"#SBATCH --mem={config['memory']}", f"#SBATCH --time={config['walltime']}",
                 f"#SBATCH --output={logs}/serac-%A_%a.out"]
        if config["account"]:
            lines.append(f"#SBATCH --account={config['account']}")
        if config["queue"]:
            lines.append(f"#SBATCH --partition={config['queue']}")
        lines += [f"#SBATCH {d}" for d in config["job_extra_directives"]]
        row = '"$SLURM_ARRAY_TASK_ID"'
        submit = "sbatch"
    elif kind == "oar":
        lines = ["#!/bin/bash", "#OAR -n serac-batch", f"#OAR --array {n_rows}",
                 f"#OAR -l /nodes=1/core={config['cores']},walltime={config['walltime']}",
                 f"#OAR -O {logs}/serac-%jobid%.out", f"#OAR -E {logs}/serac-%jobid%.err"]
        if config["account"]:
            lines.append(f"#OAR --project {config['account']}")
        if config["queue"]:
            lines.append(f"#OAR -q {config['queue']}")
        lines += [f"#OAR {d}" for d in config["job_extra_directives"]]
        lines.append(f"# memory: OAR has no per-job memory directive; {config['memory']} asked (choose nodes "
                     "with enough memory per core)")
        row = '"$((OAR_ARRAY_INDEX - 1))"'
        submit = "oarsub -S"
    else:
        raise InputError(f"Unknown job-array system '{kind}'.", "use slurm or oar.")
    lines += ["", f"# Submit with: {submit} {shlex.quote(os.path.basename(manifest))}.{kind}.sh ; when every task "
              "has ended,", f"# write the catalogue with: {run} --collect", "set -u", f"mkdir -p {shlex.quote(logs)}",
              threads, f"{run} --row {row}", ""]
    return "\n".join(lines)
