"""A time-series row split in space: blocks of pixels as tasks, then one task mosaicking them.

The inversion of every pixel is independent of the others and the time grid and pair weights
depend on the pairs' dates only, so a ``velocity_timeseries`` row over a large area runs as one task
per block of ``block_size`` px (``run(..., window=...)`` of the job) writing hidden block files beside
the output, and a last task writes the outputs (atomically, through the core's raster writer) from
them with the same values, band names and tags as a single run. Numbers: pixels solved summed over
the blocks; the median residual RMS and lambda over every solved pixel (from the blocks'
diagnostics, float32); pairs and steps as any block's. The per-step 1-sigma errors are mosaicked the same way.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from ..core.errors import InputError

JOB = "velocity_timeseries"
#: Outputs a split run writes from blocks (a row asking for a point table runs as one task).
BLOCK_OUTPUTS = ("output", "diagnostics", "error")


@dataclass(frozen=True)
class BlockPlan:
    """The blocks of one row: windows (col_off, row_off, width, height px), the grid size and the block folder."""

    windows: tuple
    width: int
    height: int
    folder: str

    def block_paths(self, index: int) -> dict:
        return {name: os.path.join(self.folder, f"block{index:05d}_{name}.tif") for name in BLOCK_OUTPUTS}


def plan_blocks(row, block_size: int):
    """The :class:`BlockPlan` of a time-series row, or None when it runs as one task (another job, a point
    table asked for, a grid of one block). Reads only the pairs' metadata."""
    from ..core.jobs import get_job
    from ..core.jobs.timeseries import pair_items
    from ..core.timeseries import PairStack, open_pairs
    from .main import job_arguments

    if row.job != JOB or block_size <= 0:
        return None
    job = get_job(JOB)
    inputs, outputs, overrides = job_arguments(job, row.values, row.base)
    if overrides.get("point") or outputs.get("point_csv") or "output" not in outputs:
        return None
    stack = PairStack(open_pairs(pair_items(inputs.get("input"), overrides.get("dates"))))
    width, height = stack.grid.width, stack.grid.height
    if width <= block_size and height <= block_size:
        return None
    windows = tuple((c, r, min(block_size, width - c), min(block_size, height - r))
                    for r in range(0, height, block_size) for c in range(0, width, block_size))
    folder, name = os.path.split(os.path.abspath(outputs["output"]))
    return BlockPlan(windows, width, height, os.path.join(folder, f".{name}.serac-blocks-{row.key()}"))


def run_block(row, plan: BlockPlan, index: int, threads: int = 1) -> dict:
    """Invert one block of a time-series row into its block files; {'numbers': ...} or {'error': text}."""
    from ..core.errors import SeracError
    from ..core.jobs import get_job
    from .main import job_arguments, make_settings
    from .tasks import peak_rss_mb

    start = time.perf_counter()
    try:
        job = get_job(JOB)
        inputs, _, overrides = job_arguments(job, row.values, row.base)
        settings = make_settings(job, overrides, row.settings_file or None)
        os.makedirs(plan.folder, exist_ok=True)
        result = job.run(inputs, plan.block_paths(index), settings, threads=threads, window=plan.windows[index])
        out = {"numbers": result.numbers}
    except SeracError as exc:
        out = {"error": str(exc)}
    except Exception as exc:  # recorded by the mosaic task as the row's error
        out = {"error": f"Unexpected {type(exc).__name__}: {exc}"}
    return dict(out, seconds=time.perf_counter() - start, peak_rss_mb=peak_rss_mb())


def _mosaic(plan: BlockPlan, name: str, path: str):
    """Write the blocks of output ``name`` into ``path`` (atomically); returns the band names."""
    import rasterio

    from ..core.raster_io import RasterGrid, RasterWriter

    first = plan.block_paths(0)[name]
    with rasterio.open(first) as ds:
        grid0 = RasterGrid.from_dataset(ds)
        count, names, tags = ds.count, list(ds.descriptions), ds.tags()
        band_tags = {b: ds.tags(b) for b in range(1, count + 1)}
    c0, r0 = plan.windows[0][:2]
    transform = grid0.transform * grid0.transform.translation(-c0, -r0)
    grid = RasterGrid(grid0.crs, transform, plan.width, plan.height)
    with RasterWriter(path, grid, count=count, band_names=names, tags=tags, band_tags=band_tags) as writer:
        for index, window in enumerate(plan.windows):
            with rasterio.open(plan.block_paths(index)[name]) as ds:
                writer.write(ds.read().astype("float32"), rasterio.windows.Window(*window))
    return names


def _diagnostic_medians(plan: BlockPlan):
    """(median residual RMS, median lambda) over the solved pixels of every block (NaN if none)."""
    import numpy as np
    import rasterio

    rms, lam = [], []
    for index in range(len(plan.windows)):
        with rasterio.open(plan.block_paths(index)["diagnostics"]) as ds:
            r, used, lam_b = ds.read(1), ds.read(2), ds.read(4)
        solved = np.isfinite(used)
        rms.append(r[solved].astype(np.float64))
        lam.append(lam_b[solved].astype(np.float64))
    rms, lam = np.concatenate(rms), np.concatenate(lam)
    nan = float("nan")
    return (float(np.median(rms)) if rms.size else nan), (float(np.median(lam)) if lam.size else nan)


def merge_blocks(row, plan: BlockPlan, catalogue: str, *blocks) -> dict:
    """Mosaic a split row's blocks into its outputs; write and return the row's record (never raises)."""
    import json

    from ..core.errors import SeracError
    from ..core.jobs import get_job
    from ..core.jobs.base import Result
    from ..core.raster_io import display_range
    from .console import guard_outputs
    from .main import job_arguments
    from .records import DONE, FAILED, file_facts, footprint_wkt, record_path, write_json_atomic
    from .tasks import REPORT_KEYS, new_record, peak_rss_mb, worker_name

    start = time.perf_counter()
    record = new_record(row, FAILED, worker=worker_name(), blocks=len(plan.windows))
    try:
        errors = [b["error"] for b in blocks if "error" in b]
        if errors:
            raise InputError(f"{len(errors)} of {len(blocks)} blocks failed; the first: {errors[0]}")
        job = get_job(JOB)
        inputs, outputs, _ = job_arguments(job, row.values, row.base)
        record["footprint"] = footprint_wkt(inputs["input"][0])
        numbers = dict(blocks[0]["numbers"])
        numbers["pixels_solved"] = sum(int(b["numbers"]["pixels_solved"]) for b in blocks)
        numbers["median_residual_rms"], numbers["median_lambda"] = _diagnostic_medians(plan)
        written, bands = {}, {}
        with guard_outputs(outputs):
            for name in BLOCK_OUTPUTS:
                if outputs.get(name):
                    bands[name] = _mosaic(plan, name, outputs[name])
                    written[name] = outputs[name]
        speed_band = next((i + 1 for i, n in enumerate(bands["output"]) if (n or "").startswith("speed_")), 1)
        ranges = {"output": display_range(written["output"], speed_band, stretch="from zero")}
        if "diagnostics" in written:
            ranges["diagnostics"] = display_range(written["diagnostics"], 1, stretch="from zero")
        if "error" in written:
            ranges["error"] = display_range(written["error"], speed_band, stretch="from zero")
        report = {"display_ranges": {k: v for k, v in ranges.items() if v is not None},
                  "display_bands": {"output": speed_band, "diagnostics": 1, "error": speed_band}}
        payload = json.loads(Result(written, numbers, report).to_json())
        record.update(status=DONE, outputs=written, numbers=payload["numbers"],
                      files={p: file_facts(p) for p in written.values()},
                      report={k: payload["report"][k] for k in REPORT_KEYS if k in payload["report"]})
    except SeracError as exc:
        record["error"] = str(exc)
    except Exception as exc:
        record["error"] = f"Unexpected {type(exc).__name__} while mosaicking the blocks: {exc}"
    finally:
        shutil.rmtree(plan.folder, ignore_errors=True)
    # task time of the row: its blocks' and the mosaic's
    record["seconds"] = round(time.perf_counter() - start + sum(b.get("seconds", 0.0) for b in blocks), 3)
    record["peak_rss_mb"] = max([peak_rss_mb()] + [b.get("peak_rss_mb", 0.0) for b in blocks])
    write_json_atomic(record_path(catalogue, row.id), record)
    return record
