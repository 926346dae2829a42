"""Raster time series from a stack of velocity pairs, written block by block.

:func:`invert_stack` reads all pairs window by window onto the first pair's grid
(:class:`~.io.PairStack`), inverts every pixel (:class:`~.inversion.PairInversion`)
and writes

* the **time series** GeoTIFF: one band per component and step, named
  ``<component>_<centre date>`` (e.g. ``vx_2018-03-15``): all vx steps, then all vy
  steps, then ``speed_<date>`` when vx and vy are given; m/yr; each band carries
  START_DATE, END_DATE, CENTRE_DATE, COMPONENT and UNITS tags, the file the
  time-grid edges, the pairs and the settings;
* optionally a **diagnostics** GeoTIFF: ``residual_rms`` (m/yr, RMS misfit of the
  pairs, robust-weighted), ``pairs_used`` (valid pairs), ``pairs_downweighted``
  (robust weight < 0.5), ``regularisation`` (the lambda used), then
  ``rms_<centre date>`` per step (m/yr, RMS misfit of the pairs overlapping the
  step, weighted by overlap);
* optionally an **error** GeoTIFF with the same band layout as the time series, bands
  ``<component>_error_<centre date>`` (m/yr, 1-sigma, from the covariance of the inversion
  with the final robust weights; the speed's from vx's and vy's).

:func:`point_series` inverts the pairs at one map point (for a plot).
"""

import os
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..progress import as_progress
from ..raster_io import RasterWriter, block_count, iter_blocks
from .design import iso
from .inversion import InversionSettings, PairInversion, invert_point, prepare_grid
from .io import PairStack, open_pairs

DIAGNOSTIC_BANDS = ("residual_rms", "pairs_used", "pairs_downweighted", "regularisation")


@dataclass
class StackResult:
    """Summary of a raster inversion (velocities in m/yr)."""

    path: str
    diagnostics_path: str
    time_grid: object
    components: tuple
    band_names: list
    n_pairs: int
    pairs_left_out: list
    pixels_solved: int
    pixels_total: int
    median_residual_rms: float
    median_regularisation: float
    weighting: str
    backend: str
    error_path: str = None

    def describe(self):
        return (f"{self.n_pairs} pairs → {self.time_grid.describe()}; {self.pixels_solved} of {self.pixels_total} "
                f"pixels solved; median residual RMS {self.median_residual_rms:.3g} m/yr; median lambda "
                f"{self.median_regularisation:g}; weighting '{self.weighting}'; backend {self.backend}.")


def as_stack(pairs, grid=None, units=None, errors=None):
    """A :class:`PairStack` from a stack, :class:`VelocityPair` list, paths or (path, date1, date2) triples."""
    if isinstance(pairs, PairStack):
        return pairs
    return PairStack(open_pairs(pairs, units=units, errors=errors), grid=grid)


def _pair_setup(stack, time_grid, step_days, settings, progress):
    """Time grid, the pairs inside it and their :class:`PairInversion`; warns about what is left out or assumed."""
    grid, inside = prepare_grid(stack.date1, stack.date2, time_grid, step_days)
    left_out = [p.name for p, keep in zip(stack.pairs, inside) if not keep]
    if left_out:
        progress.warn(f"{len(left_out)} pair(s) extend beyond the time grid and were left out: "
                      f"{', '.join(left_out[:5])}{' ...' if len(left_out) > 5 else ''}.")
    unknown = [p.name for p in stack.pairs if not p.units_known]
    if unknown:
        progress.warn(f"The units of {len(unknown)} pair(s) are not in their metadata; m/yr was assumed "
                      f"(e.g. '{unknown[0]}'). Give the units if they are m/day.")
    if grid.n_steps > 150:
        progress.warn(f"The time grid has {grid.n_steps} steps; the inversion time grows with the cube of that. "
                      "A longer time step is much faster.")
    inversion = PairInversion(stack.date1[inside], stack.date2[inside], grid, settings, stack.errors[inside])
    return grid, np.flatnonzero(inside), left_out, inversion


def _band_layout(components, grid):
    comps = list(components) + (["speed"] if set(components) == {"vx", "vy"} else [])
    names, tags = [], {}
    for comp in comps:
        for k, label in enumerate(grid.labels):
            names.append(f"{comp}_{label}")
            tags[len(names)] = {"COMPONENT": comp, "START_DATE": iso(grid.starts[k]), "END_DATE": iso(grid.ends[k]),
                                "CENTRE_DATE": label, "UNITS": "m/yr"}
    return comps, names, tags


def _file_tags(grid, inversion, stack, used):
    st = inversion.settings
    pairs = [stack.pairs[i] for i in used]
    return {"SERAC_PRODUCT": "velocity time series", "UNITS": "m/yr",
            "TIME_GRID_EDGES": ",".join(iso(e) for e in grid.edges), "N_PAIRS": len(pairs),
            "PAIRS": ";".join(f"{p.name}|{iso(p.date1)}|{iso(p.date2)}" for p in pairs),
            "REGULARISATION": st.regularisation, "REGULARISATION_ORDER": st.order,
            "REGULARISATION_DESCRIPTION": inversion.describe_regularisation(), "ROBUST": st.robust,
            "WEIGHTING": inversion.weighting,
            "METHOD": "per-pixel weighted, Tikhonov-regularised least squares with robust reweighting "
                      "(after TICOI, Charrier et al. 2022, 2025)"}


def _block_pixels(stack, used, window):
    """Pair velocities of a window as (pixels, pairs, components), m/yr."""
    obs = stack.read(window)[used]
    return obs.reshape(obs.shape[0], obs.shape[1], -1).transpose(2, 0, 1)


def _diagnostic_bands(sol):
    """(4 + n_steps, P) diagnostics of a block's solution; NaN where not solved."""
    valid_pairs = np.isfinite(sol.residuals).all(-1)
    down = np.where(sol.solved, ((sol.weights < 0.5) & valid_pairs).sum(1), np.nan)
    used = np.where(sol.solved, sol.pairs_used, np.nan)
    return np.concatenate([np.stack([sol.residual_rms, used, down, sol.regularisation]), sol.step_rms.T])


def _error_bands(sol, vel, with_speed):
    """(components (+ speed), n, P) 1-sigma errors, m/yr; the speed's from vx's and vy's (``vel``: (.., n, P))."""
    err = sol.error.transpose(2, 1, 0)
    if not with_speed:
        return err
    speed = np.where(vel[-1] > 0, vel[-1], np.nan)
    speed_err = np.sqrt((vel[0] * err[0]) ** 2 + (vel[1] * err[1]) ** 2) / speed
    speed_err = np.where(np.isfinite(speed_err), speed_err, np.sqrt((err[0] ** 2 + err[1] ** 2) / 2))
    return np.concatenate([err, speed_err[None]])


def invert_stack(pairs, output_path, time_grid=None, step_days=30, settings=None, diagnostics_path=None,
                 units=None, errors=None, grid=None, block_size=256, feedback=None, window=None,
                 error_path=None):
    """Invert a stack of velocity pairs into a raster time series; returns a :class:`StackResult`.

    ``pairs``: a :class:`PairStack`, or anything :func:`~.io.open_pairs` takes (with
    ``units`` / ``errors``); ``grid`` the output grid (default: the first pair's).
    The time grid is ``time_grid`` or steps of ``step_days`` days spanning the
    pairs (``None``/0: the acquisition dates). Pairs beyond a given time grid are
    left out (with a warning). Cancelling through ``feedback`` leaves no output.

    ``window`` (col_off, row_off, width, height; px of the grid): invert only that block; the outputs
    cover the block, with the same values as the same pixels of a whole-grid run (the time grid and pair
    weights depend on the pairs' dates, not on the pixels; bit-identical with the automatic smoothing, to
    rounding with a fixed one, see :mod:`.patterns`), so batch runners can split a large area into block
    tasks and mosaic them.
    ``error_path``: optional GeoTIFF of the 1-sigma error of every band (m/yr).
    """
    progress = as_progress(feedback)
    settings = settings or InversionSettings()
    stack = as_stack(pairs, grid, units, errors)
    tgrid, used, left_out, inversion = _pair_setup(stack, time_grid, step_days, settings, progress)
    comps, names, band_tags = _band_layout(stack.components, tgrid)
    c, n = len(stack.components), tgrid.n_steps
    progress.info(f"{len(used)} pairs ({inversion.weighting} weighting) → {tgrid.describe()}; regularisation: "
                  f"{inversion.describe_regularisation()}; backend {inversion.backend.label}.")

    raster, row0, col0 = stack.grid, 0, 0
    if window is not None:
        col0, row0, width, height = (int(v) for v in window)
        if width < 1 or height < 1 or col0 < 0 or row0 < 0 or col0 + width > raster.width or \
                row0 + height > raster.height:
            raise InputError(f"The block {tuple(window)} (col, row, width, height px) is not inside the "
                             f"{raster.width}x{raster.height} px grid of the pairs.", "give a block inside the grid.")
        raster = raster.window_grid((col0, row0, width, height))
    tags = _file_tags(tgrid, inversion, stack, used)
    diag_names = list(DIAGNOSTIC_BANDS) + [f"rms_{label}" for label in tgrid.labels]
    diag_writer = (nullcontext() if diagnostics_path is None else
                   RasterWriter(diagnostics_path, raster, count=len(diag_names), band_names=diag_names, tags=tags))
    solved, rms_values, lam_values = 0, [np.empty(0)], [np.empty(0)]
    total = block_count(raster.shape, block_size)
    error_names = [name.replace("_", "_error_", 1) for name in names]
    error_writer = (nullcontext() if error_path is None else
                    RasterWriter(error_path, raster, count=len(names), band_names=error_names, tags=tags,
                                 band_tags=band_tags))
    with error_writer as err_out, \
            diag_writer as diag, RasterWriter(output_path, raster, count=len(names), band_names=names, tags=tags,
                                           band_tags=band_tags) as writer:
        for b, (block, _) in enumerate(iter_blocks(raster.shape, block_size)):
            rows, cols = int(block.height), int(block.width)
            read = (int(block.col_off) + col0, int(block.row_off) + row0, cols, rows)
            sol = inversion.solve(_block_pixels(stack, used, read))
            vel = sol.velocity.transpose(2, 1, 0)  # (c, n, P)
            if len(comps) > c:
                vel = np.concatenate([vel, np.sqrt((vel**2).sum(0, keepdims=True))])
            writer.write(vel.reshape(len(comps) * n, rows, cols).astype(np.float32), block)
            if err_out is not None:
                err_out.write(_error_bands(sol, vel, len(comps) > c).reshape(len(comps) * n, rows, cols)
                              .astype(np.float32), block)
            if diag is not None:
                diag.write(_diagnostic_bands(sol).reshape(-1, rows, cols).astype(np.float32), block)
            solved += int(sol.solved.sum())
            rms_values.append(sol.residual_rms[sol.solved])
            lam_values.append(sol.regularisation[sol.solved])
            progress.update((b + 1) / total)
    if solved == 0:
        progress.warn(f"No pixel has {settings.min_pairs} or more valid pairs; the output is empty (NaN).")
    rms, lam = np.concatenate(rms_values), np.concatenate(lam_values)
    nan = float("nan")
    return StackResult(os.fspath(output_path), None if diagnostics_path is None else os.fspath(diagnostics_path),
                       tgrid, tuple(comps), names, len(used), left_out, solved, raster.width * raster.height,
                       float(np.median(rms)) if rms.size else nan, float(np.median(lam)) if lam.size else nan,
                       inversion.weighting, inversion.backend.label,
                       None if error_path is None else os.fspath(error_path))


def point_series(pairs, x, y, time_grid=None, step_days=30, settings=None, units=None, errors=None):
    """The :class:`~.inversion.PointSeries` at map coordinates (x, y) (CRS of the first pair).

    Reads one pixel of every pair and inverts it like :func:`invert_stack` does.
    Raises :class:`InputError` if the point has fewer valid pairs than ``settings.min_pairs``.
    """
    settings = settings or InversionSettings()
    stack = as_stack(pairs, None, units, errors)
    values = stack.read_point(x, y)
    n_valid = int(np.all(np.isfinite(values), axis=1).sum())
    if n_valid < settings.min_pairs:
        raise InputError(f"The point ({x:g}, {y:g}) has {n_valid} valid pair(s); {settings.min_pairs} are needed.",
                         "pick a point where the velocity pairs have values.")
    series = invert_point(values, stack.date1, stack.date2, time_grid, step_days, settings, stack.errors,
                          stack.components)
    inside = series.time_grid.covers(stack.date1, stack.date2)
    series.extra.update(x=float(x), y=float(y), pixel=stack.pixel_of(x, y),
                        names=[p.name for p, keep in zip(stack.pairs, inside) if keep])
    return series
