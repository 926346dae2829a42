"""``serac batch MANIFEST``: run the rows of a manifest as tasks on Dask distributed.

Where the rows run:

- ``--scheduler local`` (default): a LocalCluster of ``--workers`` processes, one thread each,
  ``--memory-limit`` each; every task gets ``--threads`` (default 1) so BLAS/GDAL pools do not
  oversubscribe the node;
- ``--scheduler tcp://host:port``: a running Dask scheduler (its workers need Serac installed);
- ``--cluster slurm|oar --cluster-config FILE --jobs N``: a dask-jobqueue cluster of N batch jobs;
- ``--array slurm|oar``: no Dask at all: write a job-array script running one row per array task
  (``serac batch MANIFEST --row I``); ``--collect`` writes the catalogue afterwards.

Robust like a batch system: a failed row is recorded with its error and the others go on; rows that
read the outputs of other rows (e.g. a time series over velocity pairs of the same manifest) wait for
them and fail with a clear message if one failed; a rerun skips the rows already complete (see
:mod:`.records`); the catalogue GeoPackage is rewritten as rows finish; one progress line per row.

Exit status: 0 every row done (or skipped), 3 some rows failed, 2 the manifest or options are
unusable, 130 cancelled (SIGINT/SIGTERM: the workers are stopped; nothing half-written is kept).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from ..core.errors import Cancelled, InputError
from .manifest import read_manifest
from .records import DONE, FAILED, SKIPPED, is_complete, read_record, record_path, write_catalogue, \
    write_json_atomic

EXIT_OK, EXIT_ROWS_FAILED = 0, 3
CATALOGUE_EVERY_S = 2.0


def add_batch_parser(subparsers, common=None):
    p = subparsers.add_parser(
        "batch", help="run a manifest (CSV/GeoPackage, one row per pair, scene or tile) on Dask",
        description=__doc__.split("\n\n")[0] + " Columns: job, optional id and settings (a JSON file), then the "
        "job's inputs, outputs and settings by name; several paths in one cell separated by ';'.")
    p.add_argument("manifest", help="CSV or GeoPackage manifest")
    p.add_argument("--catalogue", metavar="FILE.gpkg", help="results catalogue (default: <manifest>.catalogue.gpkg)")
    where = p.add_argument_group("where the rows run")
    where.add_argument("--scheduler", default="local", metavar="local|tcp://HOST:PORT",
                       help="a local cluster (default) or the address of a running Dask scheduler")
    where.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)), metavar="N",
                       help="local cluster: worker processes, one thread each (default: the CPU count)")
    where.add_argument("--memory-limit", default="4GB", metavar="SIZE",
                       help="local cluster: memory limit per worker, e.g. 4GB (default 4GB)")
    where.add_argument("--threads", type=int, default=1, metavar="N",
                       help="CPU threads per task (BLAS, GDAL, FFT, ONNX; default 1)")
    where.add_argument("--cluster", choices=("slurm", "oar"), help="a SLURM or OAR cluster through dask-jobqueue")
    where.add_argument("--cluster-config", metavar="FILE", help="YAML/TOML: cores, memory, walltime, account, queue")
    where.add_argument("--jobs", type=int, default=1, metavar="N", help="--cluster: batch jobs to start (default 1)")
    where.add_argument("--array", choices=("slurm", "oar"), help="write a job-array script instead of running")
    where.add_argument("--array-script", metavar="FILE", help="--array: script path (default: <manifest>.<kind>.sh)")
    rows = p.add_argument_group("which rows")
    rows.add_argument("--row", type=int, metavar="I", help="run only row I (0-based) in this process (job arrays)")
    rows.add_argument("--collect", action="store_true", help="only write the catalogue from the rows' records")
    rows.add_argument("--force", action="store_true", help="run every row again, complete or not")
    rows.add_argument("--verify", action="store_true",
                      help="check complete rows' outputs against their SHA-256 too (not just size and time)")
    where.add_argument("--block-size", type=int, default=1024, metavar="PX",
                       help="split each velocity_timeseries row into blocks of PX x PX pixels run as tasks, then "
                       "mosaic them (same values; 0: one task per row; default 1024)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error")
    return p


def default_catalogue(manifest: str) -> str:
    return os.path.splitext(os.path.abspath(manifest))[0] + ".catalogue.gpkg"


def say(text: str) -> None:
    print(text, flush=True)


def batch_command(args) -> int:
    rows = read_manifest(args.manifest)
    catalogue = os.path.abspath(args.catalogue or default_catalogue(args.manifest))
    if args.array:
        return write_array_script(args, rows, catalogue)
    if args.collect:
        records = [read_record(catalogue, r.id) or _pending(r) for r in rows]
        say(f"Catalogue: {write_catalogue(catalogue, records)} ({_counts(records)}).")
        return EXIT_OK if all(r["status"] == DONE for r in records) else EXIT_ROWS_FAILED
    if args.row is not None:
        return run_one_row(args, rows, catalogue)
    return run_batch(args, rows, catalogue)


def _pending(row) -> dict:
    from .tasks import new_record

    return new_record(row, "pending")


def _counts(records) -> str:
    from collections import Counter

    return ", ".join(f"{n} {status}" for status, n in sorted(Counter(r["status"] for r in records).items()))


def write_array_script(args, rows, catalogue) -> int:
    from .clusters import array_script, read_config

    config = read_config(args.cluster_config)
    # the scheduler opens the log files before the script runs: their folder must exist (beside the manifest)
    config["log_dir"] = os.path.join(os.path.dirname(os.path.abspath(args.manifest)), config["log_dir"])
    os.makedirs(config["log_dir"], exist_ok=True)
    path = args.array_script or f"{os.path.abspath(args.manifest)}.{args.array}.sh"
    text = array_script(args.array, args.manifest, len(rows), catalogue, config)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o755)
    say(f"Job-array script for {len(rows)} rows: {path}")
    return EXIT_OK


def run_one_row(args, rows, catalogue) -> int:
    from .console import ConsoleFeedback, cancel_on_signals
    from .tasks import run_row

    if not 0 <= args.row < len(rows):
        raise InputError(f"Row {args.row} is not in the manifest ({len(rows)} rows, numbered from 0).",
                         f"give a row from 0 to {len(rows) - 1}.")
    row = rows[args.row]
    if not args.force and is_complete(read_record(catalogue, row.id), row.key(), args.verify):
        say(f"Row {row.index} (id {row.id}) {row.job}: already complete, skipped.")
        return EXIT_OK
    feedback = ConsoleFeedback(prefix=f"row {row.index}: ")
    with cancel_on_signals(feedback.cancelled):
        record = run_row(row, catalogue, args.threads, feedback=feedback)
    if feedback.is_cancelled() and record["status"] != DONE:
        raise Cancelled()
    say(progress_line(record, 1, 1))
    return EXIT_OK if record["status"] == DONE else EXIT_ROWS_FAILED


def progress_line(record, k, n) -> str:
    head = f"[{k}/{n}] row {record['row']} (id {record['id']}) {record['job']}"
    if record["status"] == DONE:
        return f"{head}: done in {record['seconds']:.1f} s on {record.get('worker') or '?'}"
    if record["status"] == SKIPPED:
        return f"{head}: already complete, skipped"
    return f"{head}: FAILED: {record['error']}"


def dependencies(rows) -> dict:
    """Row id -> ids of the rows whose outputs it reads (by resolved path)."""
    from ..core.jobs import get_job
    from .main import job_arguments

    def paths(row, which):
        try:
            job = get_job(row.job)
            inputs, outputs, _ = job_arguments(job, row.values, row.base)
        except Exception:  # an unusable row fails when it runs, with its message
            return set()
        found = set()
        for value in (inputs if which == "in" else outputs).values():
            for p in value if isinstance(value, list) else [value]:
                if isinstance(p, str):
                    found.add(os.path.abspath(p))
        return found

    producers = {p: r.id for r in rows for p in paths(r, "out")}
    return {r.id: sorted({producers[p] for p in paths(r, "in") if p in producers} - {r.id}) for r in rows}


def open_client(args):
    """(client, cluster or None, description) for the options."""
    from .clusters import _require, jobqueue_cluster, local_cluster, read_config

    distributed = _require("distributed", "to run a batch on Dask")
    if args.cluster:
        cluster = jobqueue_cluster(args.cluster, read_config(args.cluster_config), args.jobs)
        return distributed.Client(cluster), cluster, f"{args.cluster.upper()} cluster of {args.jobs} job(s)"
    if args.scheduler and args.scheduler != "local":
        return distributed.Client(args.scheduler, timeout="30s"), None, f"scheduler {args.scheduler}"
    _export_package_path()
    cluster = local_cluster(args.workers, args.memory_limit)
    return distributed.Client(cluster), cluster, \
        f"local cluster of {args.workers} worker(s), 1 thread and {args.memory_limit} each"


def _export_package_path():
    """Let worker processes import ``serac`` from where this process found it (a checkout, not installed)."""
    package = sys.modules[__name__.split(".")[0]]
    parent = os.path.dirname(os.path.dirname(os.path.abspath(package.__file__)))
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if parent not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([parent] + [p for p in paths if p])


def run_batch(args, rows, catalogue) -> int:
    from ..core.errors import SeracError
    from .blocks import merge_blocks, plan_blocks, run_block
    from .console import cancel_on_signals
    from .tasks import new_record, run_row

    records, todo = {}, []
    for row in rows:
        old = read_record(catalogue, row.id)
        if not args.force and is_complete(old, row.key(), args.verify):
            records[row.id] = dict(old, row=row.index)
        else:
            todo.append(row)
            records[row.id] = old or _pending(row)
    skipped = len(rows) - len(todo)
    by_id = {r.id: r for r in rows}
    deps = dependencies(rows)
    waiting = {r.id: [d for d in deps[r.id] if records[d]["status"] != DONE or by_id[d] in todo] for r in todo}
    total = len(rows)
    say(f"Batch {os.path.basename(args.manifest)}: {total} rows, {skipped} already complete (skipped), "
        f"{len(todo)} to run.")
    for k, row in enumerate([r for r in rows if r not in todo], start=1):
        say(progress_line(dict(records[row.id], status=SKIPPED), k, total))
    write_catalogue(catalogue, list(records.values()))
    if not todo:
        say(f"Catalogue: {catalogue} ({_counts(records.values())}).")
        return EXIT_OK
    import threading

    stop = threading.Event()
    client, cluster, where = open_client(args)
    say(f"Running on {where}.")
    futures, state = {}, {"finished": skipped, "written": 0.0}

    def finish(row, record):
        records[row.id] = record
        state["finished"] += 1
        say(progress_line(record, state["finished"], total))
        for other in todo:  # rows reading this row's outputs
            if row.id in waiting.get(other.id, []):
                waiting[other.id].remove(row.id)
                if record["status"] != DONE:
                    waiting.pop(other.id)
                    failed = new_record(other, FAILED, f"Row {row.index} (id {row.id}), whose outputs this row "
                                        f"reads, failed: {record['error']}")
                    write_json_atomic(record_path(catalogue, other.id), failed)
                    finish(other, failed)
                elif not waiting[other.id]:
                    submit(other)

    def submit(row):
        key = f"serac-{row.id}-{row.key()}"
        try:
            plan = plan_blocks(row, args.block_size)
        except Exception as exc:  # the row's inputs cannot be read: record it, go on
            record = new_record(row, FAILED, str(exc) if isinstance(exc, SeracError) else
                                f"Unexpected {type(exc).__name__}: {exc}")
            write_json_atomic(record_path(catalogue, row.id), record)
            finish(row, record)
            return
        if plan is None:
            futures[client.submit(run_row, row, catalogue, args.threads, key=key, pure=False)] = row
            return
        say(f"Row {row.index} (id {row.id}) {row.job}: {len(plan.windows)} blocks of up to {args.block_size} px.")
        blocks = [client.submit(run_block, row, plan, i, args.threads, key=f"{key}-block{i}", pure=False)
                  for i in range(len(plan.windows))]
        futures[client.submit(merge_blocks, row, plan, catalogue, *blocks, key=f"{key}-mosaic", pure=False)] = row

    try:
        with cancel_on_signals(stop):
            for row in todo:
                if not waiting[row.id]:
                    submit(row)
            from distributed import wait

            while futures and not stop.is_set():
                try:
                    done, _ = wait(list(futures), timeout=0.5, return_when="FIRST_COMPLETED")
                except (TimeoutError, asyncio.TimeoutError):  # distinct types before Python 3.11
                    continue
                for future in done:
                    row = futures.pop(future)
                    finish(row, _result(future, row, catalogue))
                if time.monotonic() - state["written"] > CATALOGUE_EVERY_S or not futures:
                    write_catalogue(catalogue, list(records.values()))
                    state["written"] = time.monotonic()
            if stop.is_set():
                client.cancel(list(futures))
                raise Cancelled()
    finally:
        write_catalogue(catalogue, list(records.values()))
        close(client, cluster)
    say(f"Catalogue: {catalogue} ({_counts(records.values())}).")
    return EXIT_OK if all(r["status"] == DONE for r in records.values()) else EXIT_ROWS_FAILED


def close(client, cluster):
    """Close the client and the cluster this run started (its workers stop; a worker still busy with a
    cancelled task is killed, which the nanny reports: that expected message is kept quiet). A close that
    fails (e.g. times out on an overloaded node) does not hide the batch's outcome; the local worker
    processes it leaves, children of this process, are then killed by their ids."""
    import logging

    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)
    try:
        client.close()
        if cluster is not None:
            cluster.close()
    except Exception as exc:
        print(f"The Dask cluster did not close cleanly ({type(exc).__name__}: {exc}).", file=sys.stderr)
    finally:
        nanny.setLevel(level)
        if cluster is not None:
            _kill_children()


def _kill_children():
    try:
        import psutil
    except ImportError:
        return
    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass


def _result(future, row, catalogue) -> dict:
    """The record a task returned, or a failed record when the task itself was lost (worker killed, ...)."""
    from .tasks import new_record

    try:
        return future.result()
    except Exception as exc:
        record = new_record(row, FAILED, f"The task was lost ({type(exc).__name__}: {exc}); e.g. its worker was "
                            "killed for exceeding its memory limit. Nothing of it is kept; rerun to retry.")
        write_json_atomic(record_path(catalogue, row.id), record)
        return record
