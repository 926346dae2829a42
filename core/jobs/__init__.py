"""Every capability of the core as a job called the same way (see :mod:`.base`).

``JOBS`` maps a job name (the Processing algorithm id) to the module defining it; :func:`get_job`
imports it on first use, so listing jobs needs no compute dependency. Training lives in
``models/`` (it needs torch); its job is found there by name, the one entry outside the core.
"""

from __future__ import annotations

import importlib
from typing import Mapping, Optional

from .base import Feedback, Job, Result, Settings, thread_limits  # noqa: F401 (the public API)

#: job name -> module (relative to the package root ``serac``) holding ``JOB``
JOBS = {
    "glacier_velocity": "core.jobs.velocity",
    "velocity_timeseries": "core.jobs.timeseries",
    "dem_coregistration": "core.jobs.dem",
    "dem_points_coregistration": "core.jobs.dem_points",
    "dem_change_uncertainty": "core.jobs.dem_change",
    "dem_change_rate": "core.jobs.dem_change",
    "sar_normalization": "core.jobs.sar",
    "segmentation_glacier_outlines": "core.jobs.segmentation",
    "segmentation_calving_front": "core.jobs.segmentation",
    "segmentation_evaluate": "core.jobs.evaluate",
    "segmentation_train": "models.train_job",
    "rasterize_outlines": "core.jobs.masks",
    "mask_raster": "core.jobs.masks",
}
_ROOT = __name__.rsplit(".", 2)[0]  # the package holding core/ (``serac``)


def get_job(name: str) -> Job:
    """The :class:`Job` named ``name`` (one of :data:`JOBS`)."""
    from ..errors import InputError

    if name not in JOBS:
        raise InputError(f"There is no job '{name}'.", f"use one of {', '.join(sorted(JOBS))}.")
    module = importlib.import_module(f"{_ROOT}.{JOBS[name]}")
    jobs = getattr(module, "JOBS", None) or {module.JOB.name: module.JOB}
    return jobs[name]


def run_job(name: str, inputs: Mapping, outputs: Mapping, settings=None, feedback=None,
            threads: Optional[int] = None) -> Result:
    """Run job ``name``; ``settings`` as a Settings object, mapping, JSON text or JSON file path.

    Vector outputs given as file paths are written (GeoPackage).
    """
    from .base import write_vector_outputs

    job = get_job(name)
    result = job(inputs, outputs, settings, feedback=feedback, threads=threads)
    write_vector_outputs(result, outputs)
    return result
