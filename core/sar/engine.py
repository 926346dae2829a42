"""Blockwise raster driver: backscatter + incidence angle (+ beta) -> normalized backscatter (dB).

Everything runs window by window (:func:`~serac.core.raster_io.iter_blocks`) in float32 with
in-place numpy operations, so memory stays at a few blocks whatever the raster size. The
output is written atomically (:class:`~serac.core.raster_io.RasterWriter`): one band per
input band (polarisation), in dB, NaN nodata.

Before the loop the unit of the backscatter (linear/dB) is decided from a parameter,
metadata or a sample of the values (:mod:`.units`) and the angle source is checked on a
sample (degrees, within 0-90 deg). During the loop a regular subsample of pixels is kept to
report the apparent angle dependence (slope of backscatter against angle, dB/deg) before and
after normalization, and the 2-98 % range of the output for display.
"""

import os
from dataclasses import dataclass, field

import numpy as np
from rasterio.windows import Window

from .. import raster_io
from ..raster_io import sample_windows
from ..errors import InputError
from ..progress import as_progress
from . import units
from .normalization import check_angles, looks_like_radians
from .ranges import amplitude_warning, check_angle_coverage, check_beta_sample
from .regression import fit_line
from .sources import ConstantSource, as_source

DEFAULT_BLOCK = 1024


def decide_raster_unit(path, requested="auto", bands=None, progress=None, what="The backscatter raster"):
    """:class:`~.units.UnitDecision` for a raster, from ``requested``, its metadata and a sample of values.

    A warning goes to ``progress`` when the values look like the other unit.
    """
    progress = as_progress(progress)
    grid = raster_io.read_grid(path)
    values = np.concatenate([raster_io.read_raster(path, bands=bands, window=w).data.ravel()
                             for w in sample_windows(grid.shape)])
    texts = units.raster_metadata_texts(path, bands)
    decision = units.decide_unit(requested, values, texts, what)
    amplitude_warning(values, texts, decision.unit, what)
    progress.info(f"{what}: backscatter unit {decision.unit} ({decision.source}: {decision.evidence}).")
    if decision.warning:
        progress.warn(decision.warning)
    return decision


def read_db(path, grid, bands, window, unit):
    """Backscatter bands of ``path`` on ``grid`` at ``window`` as float32 dB (bands, rows, cols)."""
    data = raster_io.read_on_grid(path, grid, bands=bands, window=window).data
    if unit == units.LINEAR:
        units.to_db(data, out=data)
    return data


def check_angle_source(source, grid, what="The incidence angle", backscatter=None, bands=None):
    """Check a sample of an angle source: degrees (not radians), within 0-90 deg, and (given the
    ``backscatter`` path) covering the backscatter's valid pixels. Returns (min, max) deg."""
    windows = sample_windows(grid.shape)
    sample = np.concatenate([source.read(w).ravel() for w in windows])
    if backscatter is not None:
        values = np.concatenate([raster_io.read_raster(backscatter, bands=(bands or [1])[0], window=w).data.ravel()
                                 for w in windows])
        check_angle_coverage(sample, values, source.description)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    if looks_like_radians(finite):
        raise InputError(f"{what} ({source.description}) is between {finite.min():.3g} and {finite.max():.3g}: "
                         "radians, not degrees.",
                         "convert it to degrees (multiply by 57.2958) or give an angle raster in degrees.")
    check_angles(finite, what)
    return (float(finite.min()), float(finite.max()))


@dataclass
class NormalizationResult:
    """What :func:`normalize_raster` did.

    ``slope_before``/``slope_after``: least-squares slope of backscatter (dB) against incidence
    angle (deg) over a regular pixel subsample, per band, in dB/deg -- the apparent angle
    dependence (it also contains any correlation of scene content with angle).
    ``display_range``: 2 and 98 % percentiles (dB) of the output per band.
    """

    path: str
    method: str
    theta_ref: float
    unit: units.UnitDecision
    band_names: list
    angle_source: str
    angle_range: tuple
    slope_before: list
    slope_after: list
    display_range: list
    valid_pixels: int
    pixels_without_angle: int
    warnings: list = field(default_factory=list)

    def summary(self):
        lines = [f"Normalized {len(self.band_names)} band(s) with {self.method}; input unit {self.unit.unit} "
                 f"({self.unit.source}); angles {self.angle_range[0]:.2f}-{self.angle_range[1]:.2f} deg "
                 f"from {self.angle_source}."]
        for name, b, a in zip(self.band_names, self.slope_before, self.slope_after):
            lines.append(f"  {name}: apparent angle slope {b:+.4f} dB/deg before, {a:+.4f} dB/deg after.")
        return "\n".join(lines)


class _Subsample:
    """A regular subsample (every ``step`` px) of angle and per-band backscatter, for slopes and ranges."""

    def __init__(self, n_bands, step):
        self.step = step
        self.theta, self.before, self.after = [], [[] for _ in range(n_bands)], [[] for _ in range(n_bands)]

    def add_theta(self, theta):
        self.theta.append(theta[:: self.step, :: self.step].ravel().copy())

    def add(self, store, band, values):
        store[band].append(values[:: self.step, :: self.step].ravel().copy())

    def slopes(self, store):
        theta = np.concatenate(self.theta) if self.theta else np.empty(0)
        return [fit_line(theta, np.concatenate(v) if v else np.empty(0)).slope for v in store]

    def ranges(self):
        return [raster_io.display_range(np.concatenate(v) if v else np.empty(0)) or (float("nan"),) * 2
                for v in self.after]


def normalize_raster(src_path, out_path, method, angles, bands=None, unit="auto", block_size=DEFAULT_BLOCK,
                     sample_step=8, tags=None, feedback=None):
    """Normalize backscatter to ``method.theta_ref`` and write it in dB.

    ``src_path``: backscatter raster (one band per polarisation, linear power or dB).
    ``method``: :class:`~.normalization.CosineLaw` or :class:`~.normalization.LinearDB`.
    ``angles``: incidence angle (deg) as a number, raster path (band 1, reprojected onto the
    backscatter grid if needed), annotation XML path, or a source (:mod:`.sources`).
    ``bands``: 1-based band indexes (default all). ``unit``: 'auto', 'dB' or 'linear'.
    Returns a :class:`NormalizationResult`.
    """
    progress = as_progress(feedback)
    src_path = os.fspath(src_path)
    grid = raster_io.read_grid(src_path)
    n_all = raster_io.band_count(src_path)
    bands = list(range(1, n_all + 1)) if bands is None else ([bands] if np.isscalar(bands) else list(bands))
    names = raster_io.read_raster(src_path, bands=bands, window=Window(0, 0, 1, 1)).band_names  # checks bands
    decision = decide_raster_unit(src_path, unit, bands, progress)
    angle_source = as_source(angles, grid, "incidence angle")
    angle_range = check_angle_source(angle_source, grid, backscatter=src_path, bands=bands)
    betas = ([as_source(method.beta_for_band(i, len(bands)), grid, "beta (dB/deg)") for i in range(len(bands))]
             if method.needs_beta else None)
    for beta in betas or []:
        if not isinstance(beta, ConstantSource):
            check_beta_sample(np.concatenate([beta.read(w).ravel() for w in sample_windows(grid.shape)]),
                              f"beta ({beta.description})")
    out_names = [f"{n}_norm{method.theta_ref:g}_dB" for n in names]
    sub = _Subsample(len(bands), sample_step)
    valid = missing_angle = 0
    lo, hi = np.inf, -np.inf
    blocks = list(raster_io.iter_blocks(grid.shape, block_size))
    all_tags = {"SERAC_PRODUCT": "sar_normalized_backscatter", "UNIT": "dB", "METHOD": method.label,
                "THETA_REF_DEG": f"{method.theta_ref:g}", "INPUT_UNIT": decision.unit, **(tags or {})}
    with raster_io.RasterWriter(out_path, grid, count=len(bands), dtype="float32", band_names=out_names,
                                tags=all_tags) as writer:
        for i, (win, _) in enumerate(blocks):
            sigma = read_db(src_path, grid, bands, win, decision.unit)
            theta = angle_source.read(win)
            check_angles(theta)
            missing_angle += int(np.count_nonzero(np.isnan(theta) & np.isfinite(sigma[0])))
            sub.add_theta(theta)
            lo = min(lo, float(np.nanmin(theta, initial=np.inf)))
            hi = max(hi, float(np.nanmax(theta, initial=-np.inf)))
            # computed once per block, shared by all bands
            shared = theta - np.float32(method.theta_ref) if method.needs_beta else method.correction_db(theta)
            for b in range(len(bands)):
                sub.add(sub.before, b, sigma[b])
                if method.needs_beta:
                    method.apply(sigma[b], theta, _block_value(betas[b], win), delta=shared)
                else:
                    method.apply(sigma[b], theta, correction=shared)
                sub.add(sub.after, b, sigma[b])
            valid += int(np.count_nonzero(np.isfinite(sigma[0])))
            writer.write(sigma, win)
            progress.update((i + 1) / len(blocks))
    result = NormalizationResult(
        path=os.fspath(out_path), method=method.label, theta_ref=method.theta_ref, unit=decision, band_names=out_names,
        angle_source=angle_source.description, angle_range=(lo, hi) if np.isfinite(lo) else angle_range,
        slope_before=sub.slopes(sub.before), slope_after=sub.slopes(sub.after), display_range=sub.ranges(),
        valid_pixels=valid, pixels_without_angle=missing_angle,
        warnings=[decision.warning] if decision.warning else [])
    if missing_angle:
        result.warnings.append(f"{missing_angle} backscatter pixel(s) have no incidence angle (outside the angle "
                               "source) and are nodata in the output.")
        progress.warn(result.warnings[-1])
    progress.info(result.summary())
    return result


def _block_value(source, window):
    """A constant source's number (no array needed), else the source's block."""
    return source.value if isinstance(source, ConstantSource) else source.read(window)


def write_sources(path, grid, sources, band_names, tags=None, block_size=DEFAULT_BLOCK, feedback=None):
    """Write sources (e.g. an incidence-angle or beta map) as a float32 raster on ``grid``, blockwise.

    Returns ``path``.
    """
    progress = as_progress(feedback)
    blocks = list(raster_io.iter_blocks(grid.shape, block_size))
    with raster_io.RasterWriter(path, grid, count=len(sources), dtype="float32", band_names=band_names,
                                tags=tags) as writer:
        for i, (win, _) in enumerate(blocks):
            writer.write(np.stack([s.read(win) for s in sources]), win)
            progress.update((i + 1) / len(blocks))
    return os.fspath(path)
