"""Opt-in: a small batch through a real single-node SLURM (``--array slurm`` with sbatch, ``--cluster slurm``
through dask-jobqueue). Start SLURM with ``scripts/slurm_single_node.sh`` (root; Debian's slurmctld, slurmd,
munge) and run with ``SERAC_SLURM_TEST=1``; skipped otherwise."""

import json
import os
import shutil
import subprocess

import pytest

from serac.cli.manifest import write_manifest

from .conftest import ROOT, serac
from .test_batch import VELOCITY, catalogue

pytestmark = pytest.mark.skipif(os.environ.get("SERAC_SLURM_TEST") != "1" or shutil.which("sbatch") is None,
                                reason="opt-in (SERAC_SLURM_TEST=1 and a running SLURM: scripts/slurm_single_node.sh)")
CONFIG = "cores: 1\nmemory: 2GB\nwalltime: '00:10:00'\nqueue: debug\n"


def rows(tmp_path, pairs):
    return [dict(VELOCITY, id=f"pair{i}", reference=a, secondary=b, output=f"out/v{i}.tif")
            for i, (a, b) in enumerate(pairs)]


def test_job_array_on_slurm(tmp_path, pairs):
    path = write_manifest(str(tmp_path / "arr.csv"), rows(tmp_path, pairs))
    (tmp_path / "hpc.yaml").write_text(CONFIG)
    assert serac("batch", path, "--array", "slurm", "--cluster-config", tmp_path / "hpc.yaml").returncode == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "pluginpath"))
    proc = subprocess.run(["sbatch", "--wait", str(tmp_path / "arr.csv.slurm.sh")], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr + "".join(
        p.read_text() for p in (tmp_path / "serac-logs").glob("*"))
    proc = serac("batch", path, "--collect")
    assert proc.returncode == 0 and "(2 done)" in proc.stdout
    cat = catalogue(tmp_path / "arr.catalogue.gpkg")
    assert all(json.loads(r["numbers"])["interval_days"] == 16 for r in cat.values())


def test_dask_jobqueue_cluster_on_slurm(tmp_path, pairs):
    path = write_manifest(str(tmp_path / "jq.csv"), rows(tmp_path, pairs))
    (tmp_path / "hpc.yaml").write_text(CONFIG + f"log_dir: {tmp_path / 'logs'}\n")
    proc = serac("batch", path, "--cluster", "slurm", "--cluster-config", tmp_path / "hpc.yaml", "--jobs", 2,
                 timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Running on SLURM cluster of 2 job(s)" in proc.stdout and proc.stdout.count(": done in ") == 2
