"""One batch row run as a task (on a Dask worker, in a job-array task or in the calling process).

:func:`run_row` never raises: a failed row becomes a record with its error message, so the batch
goes on. It runs the row's job through :func:`serac.core.jobs.run_job` with the row's settings and a
thread count (1 on a Dask worker with one thread, so BLAS/GDAL pools do not oversubscribe the node).
"""

from __future__ import annotations

import glob
import os
import socket
import time
import traceback
from datetime import datetime, timezone

from ..core.memory import peak_rss_mb  # noqa: F401 (also used by the block tasks)
from .records import DONE, FAILED, file_facts, footprint_wkt, record_path, write_json_atomic

#: Parts of a job's report kept in the catalogue (for styling the outputs in QGIS).
REPORT_KEYS = ("display_ranges", "display_bands", "styles")


def worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _first_raster(job, inputs):
    for name, port in job.inputs.items():
        value = inputs.get(name)
        if port.kind in ("raster", "rasters") and value:
            return value[0] if isinstance(value, list) else value
    return None


def remove_stale_temporaries(outputs) -> None:
    """Remove hidden temporary files a killed run of these outputs left (``.<name>.serac-tmp-*``)."""
    for path in outputs.values():
        if isinstance(path, str):
            folder, name = os.path.split(os.path.abspath(path))
            for stale in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.serac-tmp-*")):
                try:
                    os.remove(stale)
                except OSError:
                    pass


def new_record(row, status, error="", **extra) -> dict:
    return dict({"row": row.index, "id": row.id, "job": row.job, "key": row.key(), "status": status, "error": error,
                 "outputs": {}, "files": {}, "numbers": {}, "report": {}, "seconds": 0.0, "worker": "",
                 "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "footprint": None}, **extra)


def run_row(row, catalogue: str, threads: int = 1, feedback=None) -> dict:
    """Run one manifest row; write and return its record (status done or failed, never an exception)."""
    import json

    from ..core.errors import SeracError
    from ..core.jobs import get_job, run_job
    from .console import guard_outputs
    from .main import job_arguments, make_settings

    start = time.perf_counter()
    record = new_record(row, FAILED, worker=worker_name())
    outputs = {}
    try:
        job = get_job(row.job)
        inputs, outputs, overrides = job_arguments(job, row.values, row.base)
        record["footprint"] = footprint_wkt(_first_raster(job, inputs))
        settings = make_settings(job, overrides, row.settings_file or None)
        remove_stale_temporaries(outputs)
        with guard_outputs(outputs):
            result = run_job(job.name, inputs, outputs, settings, feedback=feedback, threads=threads)
        files = {p: file_facts(p) for p in result.outputs.values() if isinstance(p, str) and os.path.isfile(p)}
        payload = json.loads(result.to_json())
        record.update(status=DONE, outputs=result.outputs, files=files, numbers=payload["numbers"],
                      report={k: payload["report"][k] for k in REPORT_KEYS if k in payload["report"]})
    except SeracError as exc:
        record["error"] = str(exc)
    except Exception as exc:  # a bug in one row must not stop the batch: record it with where it happened
        where = traceback.extract_tb(exc.__traceback__)[-1]
        record["error"] = (f"Unexpected {type(exc).__name__}: {exc} (at {os.path.basename(where.filename)}:"
                           f"{where.lineno})")
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["peak_rss_mb"] = peak_rss_mb()
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json_atomic(record_path(catalogue, row.id), record)
    return record
