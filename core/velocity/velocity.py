"""Glacier surface velocity from two georeferenced images (the pipeline behind the Processing algorithm).

:func:`glacier_velocity` reads the reference and secondary rasters (the secondary is
reprojected onto the reference grid window by window when the grids differ; a
geographic reference is replaced by a UTM grid so pixels are in metres), tracks
offsets on a point grid (:class:`~.engine.OffsetTracker`), removes the residual
offset measured on stable ground (outside the glacier outlines), converts offsets
to velocities (m/yr) with the pixel size and the date interval (days / 365.25), and
writes a multi-band GeoTIFF atomically. It returns a :class:`VelocityResult` with the
arrays, the numbers (valid fraction, stable-ground median and NMAD) and the arrow
points.

Sign conventions: ``vx`` is towards the map's +x (east for north-up grids), ``vy``
towards +y (north); ``direction`` is the azimuth of the flow in degrees clockwise
from grid north (0 = +y, 90 = +x).
"""

from dataclasses import dataclass, field, replace

import math

import numpy as np
from rasterio.warp import transform_geom
from scipy import ndimage

from ..choices import OFFSET_CORRECTIONS
from ..errors import AllNoDataError, InputError
from ..masks import glacier_mask, stable_mask
from ..progress import as_progress, warn
from ..raster_io import (RasterWriter, band_count, metric_grid_for, read_grid, read_on_grid, require_crs,
                         require_overlap)
from . import filtering
from .dates import interval_years, resolve_dates
from .engine import CorrelationParams, OffsetTracker, RasterSource, search_from_speed

#: Bands of the output GeoTIFF, in order.
BANDS = ("vx", "vy", "speed", "ncc", "peak_ratio", "chip_px", "status")
#: Scale of the peak error model (:func:`~.correlation.peak_sigma`) when no stable ground calibrates it:
#: the NMAD of the normalized stable-rock residuals on the Yahtse Landsat 8 pair is 1.7-2.5
#: (docs/validation/velocity.md).
DEFAULT_ERROR_SCALE = 2.0
BAND_UNITS = {"vx": "m/yr", "vy": "m/yr", "speed": "m/yr", "ncc": "1", "peak_ratio": "1", "chip_px": "px",
              "status": "code"}


@dataclass
class VelocityResult:
    """Velocity field on the output grid (one pixel per correlation point).

    Arrays are (rows, cols) float32 on ``grid``; ``vx``, ``vy``, ``speed`` in m/yr and NaN
    where ``status`` is not 1 (valid). ``summary`` holds the numbers reported to the user.
    """

    vx: np.ndarray
    vy: np.ndarray
    speed: np.ndarray
    ncc: np.ndarray
    ratio: np.ndarray
    chip: np.ndarray
    status: np.ndarray
    grid: object
    summary: dict = field(default_factory=dict)
    path: str = None
    error: np.ndarray = None

    @property
    def valid(self):
        return self.status == filtering.VALID

    def points(self, step=1):
        """Arrow points: dict of 1-D arrays ``x``, ``y`` (map units), ``vx``, ``vy``, ``speed`` (m/yr),
        ``direction`` (degrees clockwise from grid north), ``ncc``; valid points only, every
        ``step``-th point along rows and columns."""
        step = max(1, int(step))
        sel = np.zeros(self.status.shape, dtype=bool)
        sel[::step, ::step] = True
        sel &= self.valid
        rows, cols = np.nonzero(sel)
        x, y = self.grid.xy(rows, cols)
        vx, vy = self.vx[sel].astype(np.float64), self.vy[sel].astype(np.float64)
        return {"x": x, "y": y, "vx": vx, "vy": vy, "speed": np.hypot(vx, vy),
                "direction": np.degrees(np.arctan2(vx, vy)) % 360.0, "ncc": self.ncc[sel].astype(np.float64)}


def offsets_to_velocity(dx, dy, transform, years):
    """Velocity (vx, vy) in map units per year from offsets (px) on a grid with ``transform``."""
    vx = (transform.a * dx + transform.b * dy) / years
    vy = (transform.d * dx + transform.e * dy) / years
    return vx, vy


def velocity_to_offsets(vx, vy, transform, years):
    """Offsets (dx, dy) in px from velocities (map units per year): the inverse of :func:`offsets_to_velocity`."""
    a, b, d, e = transform.a, transform.b, transform.d, transform.e
    det = a * e - b * d
    mx, my = vx * years, vy * years
    return (e * mx - b * my) / det, (a * my - d * mx) / det


def _read_prior(prior, out_grid, work_transform, years):
    """Prior offsets (dy, dx) in px on the output grid from a prior velocity (m/yr)."""
    if isinstance(prior, (list, tuple)):
        if len(prior) != 2:
            raise InputError("A prior velocity needs two rasters (vx, vy) or one raster with two bands.")
        vx = read_on_grid(prior[0], out_grid, bands=1).data[0]
        vy = read_on_grid(prior[1], out_grid, bands=1).data[0]
    else:
        if band_count(prior) < 2:
            raise InputError("The prior velocity raster has one band; vx and vy are needed.",
                             "give a two-band (vx, vy) raster, or the vx and vy rasters separately.")
        data = read_on_grid(prior, out_grid, bands=[1, 2]).data
        vx, vy = data[0], data[1]
    dx, dy = velocity_to_offsets(vx.astype(np.float64), vy.astype(np.float64), work_transform, years)
    return dy, dx


def stable_points(outlines, out_grid, params, chip=None, stable_areas=None):
    """Points on stable ground (boolean, on the output grid): chips entirely outside the glacier outlines.

    The outlines are burnt with ``all_touched`` and grown by the part of the chip that
    reaches beyond its output pixel (in points), so no chip used on "stable" ground sees
    moving ice. ``chip`` (px per point, e.g. :attr:`OffsetField.chip`) gives the chip
    actually used at each point; without it the largest chip size is assumed.
    ``stable_areas`` (polygons of stable ground, e.g. bare rock; with or instead of the
    outlines): the point itself (its output pixel's centre) must also lie in them. Rock
    outcrops are often smaller than a chip, so chips may reach beyond them; their texture
    (rock) usually dominates the match.
    """
    sizes = params.chip_sizes()
    stable = np.ones(out_grid.shape, dtype=bool)
    if stable_areas:
        stable &= glacier_mask(stable_areas, out_grid, all_touched=False) == 1
    if not outlines:
        return stable
    glacier = ~stable_mask(outlines, out_grid, all_touched=True)
    chip = np.full(glacier.shape, max(sizes)) if chip is None else np.asarray(chip)
    outside = np.zeros(glacier.shape, dtype=bool)
    for size in sizes:
        grow = int(math.ceil((size - params.spacing) / 2.0 / params.spacing))
        grown = glacier
        if grow > 0 and glacier.any():
            grown = ndimage.binary_dilation(glacier, structure=np.ones((3, 3), bool), iterations=grow)
        outside |= (chip == size) & ~grown
    return stable & outside


def glacier_velocity(reference, secondary, output=None, reference_date=None, secondary_date=None, params=None,
                     max_speed=None, outlines=None, prior=None, reference_band=1, secondary_band=1,
                     backend="auto", threads=None, feedback=None, stable_areas=None, offset_correction="auto",
                     error_output=None):
    """Velocity (m/yr) between two rasters; writes ``output`` (GeoTIFF) if given; returns a :class:`VelocityResult`.

    ``reference``/``secondary``: raster paths (optical band or SAR amplitude), any grids and
    CRSs that overlap. ``reference_date``/``secondary_date``: dates (``datetime.date`` or
    ``YYYY-MM-DD``); read from metadata or file names when omitted. ``params``: a
    :class:`~.engine.CorrelationParams` (px). ``max_speed`` (m/yr): sets the search
    range from the interval and pixel size instead of ``params.search``. ``outlines``:
    glacier polygons (GeoJSON-like mappings in the reference CRS); points whose chips lie
    wholly outside them are stable ground (:func:`stable_points`), used to remove the
    residual offset and estimate the error. ``stable_areas``: polygons of stable ground (bare
    rock), with or instead of the outlines.
    ``offset_correction`` (:data:`~serac.core.choices.OFFSET_CORRECTIONS`): where the residual
    offset (misregistration) is measured and removed: ``auto`` — on the stable points of the
    polygons when given, else on the slow-moving population
    (:func:`~.filtering.slow_population`); ``polygons``; ``slow``; ``none``. A warning is issued
    when it cannot be measured. ``error_output``: optional GeoTIFF of the per-point error (m/yr).
    ``prior``: a prior velocity (m/yr) to centre the searches: a two-band raster path or
    a (vx path, vy path) pair. ``backend``: ``auto``, ``numpy``, ``torch-cpu`` or ``torch-cuda``.
    """
    progress = as_progress(feedback)
    params = params or CorrelationParams()
    if offset_correction not in dict(OFFSET_CORRECTIONS):
        raise InputError(f"Unknown offset correction '{offset_correction}'.",
                         f"use one of {', '.join(dict(OFFSET_CORRECTIONS))}.")
    ref_date, sec_date = resolve_dates(reference, secondary, reference_date, secondary_date)
    years = interval_years(ref_date, sec_date)
    if years < 0:
        progress.info("The secondary image is older than the reference: velocities still point along the flow.")
    ref_grid = read_grid(reference)
    require_crs(ref_grid, "The reference raster")
    work_grid = metric_grid_for(ref_grid)
    if work_grid is not ref_grid:
        progress.info(f"The reference CRS is not in metres; working on {work_grid.describe()}.")
    sec_grid = read_grid(secondary)
    require_crs(sec_grid, "The secondary raster")
    for path, band, what in ((reference, reference_band, "reference"), (secondary, secondary_band, "secondary")):
        count = band_count(path)
        if not 1 <= int(band) <= count:
            raise InputError(f"Band {band} of the {what} raster was asked for, but it has {count} band(s).",
                             f"choose a band between 1 and {count}.")
    require_overlap(sec_grid, work_grid, "The reference and secondary rasters")
    pixel = min(work_grid.res)
    if max_speed is not None:
        params = replace(params, search=search_from_speed(max_speed, years, pixel))
        progress.info(f"Search range ±{params.search} px for speeds up to {max_speed:g} m/yr over "
                      f"{abs(years) * 365.25:.0f} days.")
    tracker = OffsetTracker(params, backend, threads)
    progress.info(f"Correlating on {tracker.backend.label} ({tracker.backend.reason}); chips "
                  f"{'/'.join(map(str, params.chip_sizes()))} px, search ±{params.search} px, "
                  f"grid {params.spacing} px, prefilter {params.filter.describe()}.")
    params.check_image(work_grid.shape)
    layout = tracker.layout_for(work_grid.shape)
    out_grid = layout.grid(work_grid)
    prior_offsets = None if prior is None else _read_prior(prior, out_grid, work_grid.transform, years)
    resampling_ref = "nearest" if work_grid is ref_grid else "cubic"
    field_px = tracker.track(RasterSource(reference, work_grid, reference_band, resampling_ref),
                             RasterSource(secondary, work_grid, secondary_band, "cubic"),
                             prior=prior_offsets, feedback=progress.sub(0.0, 0.95), layout=layout)
    valid = field_px.valid
    if not valid.any():
        counts = field_px.status_counts()
        raise AllNoDataError(
            "No point could be matched between the two images "
            f"({counts['nodata']} without data, {counts['low_quality']} low quality, "
            f"{counts['search_edge']} at the edge of the search range, {counts['outlier']} outliers).",
            "check that the images overlap with valid data, that the dates are right, and try a larger chip, "
            "a larger search range (or maximum speed) or another prefilter.")
    vx, vy = offsets_to_velocity(np.where(valid, field_px.dx, np.nan), np.where(valid, field_px.dy, np.nan),
                                 work_grid.transform, years)
    stable, method = _stable_population(field_px, outlines, stable_areas, offset_correction, ref_grid, work_grid,
                                        out_grid, params, progress)
    correction = filtering.StableGround(0, np.nan, np.nan, np.nan, np.nan)
    if stable is not None:
        stable &= valid
        correction = filtering.stable_ground(vx, vy, stable, estimator="mode" if method == "slow" else "median")
        if correction.usable:
            vx, vy = vx - correction.median_dx, vy - correction.median_dy
            after = filtering.stable_ground(vx, vy, stable)
            correction = replace(correction, nmad_dx=after.nmad_dx, nmad_dy=after.nmad_dy)
        else:
            warn(f"Only {correction.count} valid point(s) on stable ground: no offset correction and no error "
                 "estimate.", "The velocities include any misregistration of the images.")
    error, error_scale = _point_error(field_px, stable if correction.usable else None, work_grid.transform, years)
    vx, vy = vx.astype(np.float32), vy.astype(np.float32)
    speed = np.hypot(vx, vy)
    summary = _summary(field_px, params, tracker, ref_date, sec_date, years, correction, speed, stable)
    pixel_years = years
    summary.update(offset_method=method if correction.usable else "none",
                   offset_x_px=correction.median_dx * pixel_years / work_grid.transform.a if correction.usable else 0.0,
                   offset_y_px=correction.median_dy * pixel_years / work_grid.transform.e if correction.usable else 0.0,
                   error_scale=error_scale, median_error=float(np.nanmedian(error)) if valid.any() else float("nan"))
    result = VelocityResult(vx, vy, speed, field_px.ncc, field_px.ratio, field_px.chip, field_px.status, out_grid,
                            summary, output, error)
    progress.check_cancelled()
    if output:
        write_velocity(output, result)
    if error_output:
        write_error(error_output, result)
    progress.update(1.0)
    return result


def _stable_population(field_px, outlines, stable_areas, mode, ref_grid, work_grid, out_grid, params, progress):
    """(stable points or None, how they were found) for the offset correction (see :func:`glacier_velocity`)."""
    polygons = bool(outlines) or bool(stable_areas)
    if mode == "none":
        return None, "none"
    if polygons and mode in ("auto", "polygons"):
        if work_grid is not ref_grid:
            outlines = [transform_geom(ref_grid.crs, work_grid.crs, g) for g in outlines or []]
            stable_areas = [transform_geom(ref_grid.crs, work_grid.crs, g) for g in stable_areas or []]
        return stable_points(outlines, out_grid, params, field_px.chip, stable_areas), "polygons"
    if mode == "polygons":
        warn("No glacier outlines or stable areas were given for the offset correction.",
             "The velocities include any misregistration of the images.")
        return None, "none"
    slow = filtering.slow_population(field_px.dx, field_px.dy, field_px.valid)
    if not slow.any():
        warn("No stable population was found (no cluster of slow points within 2 px of zero offset) and no glacier "
             "outlines or stable areas were given: the misregistration of the images was not removed.",
             "Give glacier outlines or stable areas to measure it.")
        return None, "none"
    progress.info(f"Offset correction on the slow-moving population ({int(slow.sum())} points in the densest "
                  "cluster of offsets near zero; give outlines or stable areas to measure it on known ground).")
    return slow, "slow"


def _point_error(field_px, stable, transform, years):
    """Per-point 1-sigma velocity error (m/yr) and the model scale (calibrated on ``stable`` when given)."""
    sx, sy = field_px.sigma_x.astype(np.float64), field_px.sigma_y.astype(np.float64)
    scale = None
    if stable is not None:
        scale = filtering.error_scale(field_px.dx, field_px.dy, sx, sy, stable)
    scale = scale or DEFAULT_ERROR_SCALE
    ex, ey = offsets_to_velocity(scale * sx, scale * sy, transform, years)  # axis-aligned pixels: |a|, |e|
    error = np.where(field_px.valid, np.hypot(ex, ey), np.nan).astype(np.float32)
    return error, float(scale)


def _summary(field_px, params, tracker, ref_date, sec_date, years, correction, speed, stable):
    counts = field_px.status_counts()
    stable_speed = speed[stable] if stable is not None else np.array([])
    return {
        "reference_date": ref_date.isoformat(),
        "secondary_date": sec_date.isoformat(),
        "interval_days": int(round(years * 365.25)),
        "point_count": int(field_px.status.size),
        "valid_count": counts["valid"],
        "valid_fraction": field_px.valid_fraction,
        "status_counts": counts,
        "stable_count": int(correction.count),
        "stable_median_vx": correction.median_dx,
        "stable_median_vy": correction.median_dy,
        "stable_nmad_vx": correction.nmad_dx,
        "stable_nmad_vy": correction.nmad_dy,
        "stable_median_speed": float(np.median(stable_speed)) if stable_speed.size else float("nan"),
        "median_speed": float(np.nanmedian(speed)) if np.isfinite(speed).any() else float("nan"),
        "backend": tracker.backend.label,
        "chip_px": params.chip,
        "chip_sizes_px": params.chip_sizes(),
        "search_px": params.search,
        "spacing_px": params.spacing,
        "prefilter": params.filter.describe(),
        "subpixel": params.subpixel,
    }


def write_error(path, result):
    """Write the per-point velocity error (m/yr, 1 sigma) of a :class:`VelocityResult` as a GeoTIFF, atomically."""
    s = result.summary
    with RasterWriter(path, result.grid, count=1, dtype="float32", nodata=float("nan"), band_names=["error"],
                      tags={"SERAC_PRODUCT": "glacier_velocity_error", "UNITS": "m/yr",
                            "REFERENCE_DATE": s.get("reference_date"), "SECONDARY_DATE": s.get("secondary_date"),
                            "ERROR_SCALE": s.get("error_scale")},
                      band_tags={1: {"UNITS": "m/yr"}}) as writer:
        writer.write(result.error[None])
    return path


def write_velocity(path, result):
    """Write a :class:`VelocityResult` as a 7-band float32 GeoTIFF (:data:`BANDS`), atomically."""
    s = result.summary
    tags = {"SERAC_PRODUCT": "glacier_velocity", "UNITS": "m/yr", "REFERENCE_DATE": s.get("reference_date"),
            "SECONDARY_DATE": s.get("secondary_date"), "INTERVAL_DAYS": s.get("interval_days"),
            "CHIP_PX": s.get("chip_px"), "CHIP_SIZES_PX": ",".join(map(str, s.get("chip_sizes_px", []))),
            "SEARCH_PX": s.get("search_px"), "SPACING_PX": s.get("spacing_px"), "PREFILTER": s.get("prefilter"),
            "SUBPIXEL": s.get("subpixel"), "BACKEND": s.get("backend"),
            "VALID_FRACTION": f"{s.get('valid_fraction', float('nan')):.4f}",
            "STABLE_COUNT": s.get("stable_count"),
            "STABLE_MEDIAN_VX": s.get("stable_median_vx"), "STABLE_MEDIAN_VY": s.get("stable_median_vy"),
            "STABLE_NMAD_VX": s.get("stable_nmad_vx"), "STABLE_NMAD_VY": s.get("stable_nmad_vy"),
            "STATUS_CODES": ", ".join(f"{k}={v}" for k, v in filtering.STATUS.items()),
            "DIRECTION": "vx towards grid +x (east), vy towards grid +y (north)"}
    band_tags = {i + 1: {"UNITS": BAND_UNITS[name]} for i, name in enumerate(BANDS)}
    data = np.stack([result.vx, result.vy, result.speed, result.ncc, result.ratio,
                     result.chip.astype(np.float32), result.status.astype(np.float32)])
    with RasterWriter(path, result.grid, count=len(BANDS), dtype="float32", nodata=float("nan"),
                      band_names=list(BANDS), tags={k: v for k, v in tags.items() if v is not None},
                      band_tags=band_tags) as writer:
        writer.write(data)
    return path
