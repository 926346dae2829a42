"""Jobs: glacier mask from outlines (rasterize) and a raster masked with outlines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import MASK_KEEP
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, require_input, require_vector, setting, thread_limits

KEEP = MASK_KEEP


@dataclass(frozen=True)
class RasterizeOutlinesSettings(Settings):
    all_touched: bool = setting(False, "Include every pixel an outline touches")


@dataclass(frozen=True)
class MaskRasterSettings(Settings):
    keep: str = setting("inside", "Keep the values", choices=KEEP)
    all_touched: bool = setting(False, "Count every pixel an outline touches as inside")


def _grid_and_outlines(inputs, what):
    from ..raster_io import read_grid

    path = require_input(inputs, "input", what)
    grid = read_grid(path)
    outlines = require_vector(inputs, "outlines", "glacier outlines layer", grid.crs)
    return path, grid, outlines


def run_rasterize(inputs: Mapping, outputs: Mapping, settings: RasterizeOutlinesSettings, feedback=None,
                  threads: Optional[int] = None) -> Result:
    """Burn ``inputs['outlines']`` onto the grid of ``inputs['input']``: 1 glacier, 0 outside."""
    from ..masks import write_glacier_mask

    progress = Progress(core_feedback(feedback))
    _, grid, outlines = _grid_and_outlines(inputs, "reference raster")
    out = str(require_input(outputs, "output", "glacier mask output"))
    with thread_limits(threads):
        summary = write_glacier_mask(grid, out, outlines, all_touched=settings.all_touched,
                                     feedback=progress.feedback)
    progress.info(f"Glacier area {summary.glacier_area_km2:.3f} km² ({100 * summary.glacier_fraction:.1f} % of "
                  "the grid).")
    return Result({"output": out}, {"glacier_area_km2": summary.glacier_area_km2,
                                    "glacier_fraction": summary.glacier_fraction},
                  {"glacier_px": summary.glacier_px, "total_px": summary.total_px})


def run_mask(inputs: Mapping, outputs: Mapping, settings: MaskRasterSettings, feedback=None,
             threads: Optional[int] = None) -> Result:
    """Copy ``inputs['input']`` keeping its values only inside (or outside) the outlines."""
    from ..masks import mask_raster

    progress = Progress(core_feedback(feedback))
    path, _, outlines = _grid_and_outlines(inputs, "raster to mask")
    out = str(require_input(outputs, "output", "masked raster output"))
    with thread_limits(threads):
        summary = mask_raster(path, out, outlines, keep=settings.keep, all_touched=settings.all_touched,
                              feedback=progress.feedback)
    return Result({"output": out}, {"glacier_area_km2": summary.glacier_area_km2},
                  {"glacier_px": summary.glacier_px, "total_px": summary.total_px, "keep": settings.keep})


RASTERIZE = Job("rasterize_outlines", "Glacier mask from outlines", RasterizeOutlinesSettings, run_rasterize,
                {"input": Port("raster", "Reference raster (grid of the mask)"),
                 "outlines": Port("polygons", "Glacier outlines")},
                {"output": Port("raster", "Glacier mask", style="glacier_mask")},
                dict(glacier_area_km2="Glacier area (km²)",
                     glacier_fraction="Fraction of the grid covered by glaciers (0-1)"))
MASK = Job("mask_raster", "Mask raster with outlines", MaskRasterSettings, run_mask,
           {"input": Port("raster", "Raster to mask"), "outlines": Port("polygons", "Glacier outlines")},
           {"output": Port("raster", "Masked raster")},
           dict(glacier_area_km2="Glacier area on the raster's grid (km²)"))
JOBS = {job.name: job for job in (RASTERIZE, MASK)}
