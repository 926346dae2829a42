"""Wet-snow detection and melt timing from a C-band backscatter time series of one relative orbit.

Liquid water in the snowpack absorbs the radar wave, so wet snow lowers C-band backscatter by
several dB against dry snow seen from the same geometry. Per pixel:

1. **Dry-snow reference** ``sigma_ref`` (dB): the mean in linear power (or the median in dB) of the
   acquisitions inside a reference window of dry conditions (winter), per polarisation.
2. **Ratios** ``R = sigma_t - sigma_ref`` (dB) of every date to the reference.
3. **Combined ratio** (Nagler et al. 2016, Remote Sensing 8(4), 348) of the cross- and co-polarised
   ratios, weighted by the local incidence angle ``theta`` (deg)::

       R_C = W R_VH + (1 - W) R_VV
       W = 1                                           theta < theta1 (20 deg)
       W = k (1 + (theta2 - theta) / (theta2 - theta1))  theta1 <= theta <= theta2 (45 deg), k = 0.5
       W = k                                           theta > theta2

   (at theta1 the middle branch gives 2k = 1, at theta2 it gives k: W is continuous).
4. **Wet snow** where ``R_C < -2 dB`` (dual polarisation) or, with one polarisation,
   ``R < -3 dB`` (Nagler & Rott 2000, IEEE TGRS 38(2), 754-765).
5. **Mask**: pixels whose local incidence angle is outside 15-75 deg (layover, shadow, grazing
   geometry) or that lie in layover/shadow (:mod:`.local_incidence`) are not classified.

Melt timing per pixel from the wet dates: **onset** = first date of the first run of at least
``min_run`` consecutive wet acquisitions, **end** = last date of the last such run, **count** =
number of wet dates. Dates are given as *day numbers*: the day of year of the first acquisition's
year, continuing past 365/366 into the next year (so a southern summer Nov-Feb stays increasing).
A date without a value (nodata, masked) counts as not wet.

Everything here works on arrays in float32; :func:`detect_melt` drives it block by block over rasters.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from ..timeseries.design import iso

THETA1, THETA2, K = 20.0, 45.0, 0.5
DUAL_THRESHOLD_DB = -2.0
SINGLE_THRESHOLD_DB = -3.0
VALID_ANGLES = (15.0, 75.0)
WET, DRY, NOT_CLASSIFIED = 1, 0, 255


def weight(theta, theta1=THETA1, theta2=THETA2, k=K):
    """Weight W of the cross-polarised ratio (Nagler et al. 2016) at local incidence angles ``theta`` (deg)."""
    if not theta2 > theta1:
        raise InputError(f"The weight angles must satisfy theta1 < theta2 (got {theta1:g} and {theta2:g} deg).",
                         "use e.g. theta1 = 20 deg, theta2 = 45 deg.")
    theta = np.asarray(theta, dtype=np.float32)
    w = np.float32(k) * (np.float32(1.0) + (np.float32(theta2) - theta) / np.float32(theta2 - theta1))
    w = np.where(theta < theta1, np.float32(1.0), np.where(theta > theta2, np.float32(k), w))
    return np.where(np.isfinite(theta), w, np.nan).astype(np.float32)


def combined_ratio(r_vh, r_vv, w, out=None):
    """R_C = W R_VH + (1 - W) R_VV (dB), computed as R_VV + W (R_VH - R_VV); ``out`` may be ``r_vh`` (in place)."""
    out = np.subtract(r_vh, r_vv, out=out, dtype=np.float32)
    out *= w
    out += r_vv
    return out


def dry_reference(values_db, statistic="mean"):
    """Per-pixel dry-snow reference (dB) of reference dates ``values_db`` (dates, rows, cols).

    ``mean``: mean of the linear power (10^(dB/10)) converted back to dB (the average backscatter);
    ``median``: median of the dB values (robust to a wet or disturbed date in the window).
    NaN where no reference date has a value.
    """
    with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels give NaN, as intended
        if statistic == "median":
            return np.nanmedian(values_db, axis=0).astype(np.float32)
        linear = np.power(np.float32(10.0), values_db / np.float32(10.0), dtype=np.float32)
        return (np.float32(10.0) * np.log10(np.nanmean(linear, axis=0))).astype(np.float32)


def classify(vv_db, vh_db, ref_index, theta=None, mask=None, statistic="mean", theta1=THETA1, theta2=THETA2,
             k=K, dual_threshold=DUAL_THRESHOLD_DB, single_threshold=SINGLE_THRESHOLD_DB):
    """Wet-snow classes (uint8: 1 wet, 0 dry, 255 not classified) of every date, (dates, rows, cols).

    ``vv_db``, ``vh_db`` (or None: single-polarisation rule): backscatter (dB), (dates, rows, cols);
    ``ref_index``: indexes of the dry reference dates; ``theta``: local incidence angle (deg, rows x cols;
    needed for the dual-polarisation rule); ``mask``: True where a pixel must not be classified.
    Returns (classes, ratio) with ratio the R_C (dual) or R_VV (single) in dB.
    """
    ratio = vv_db - dry_reference(vv_db[ref_index], statistic)[None]
    if vh_db is not None:
        if theta is None:
            raise InputError("The dual-polarisation rule needs the local incidence angle.",
                             "give an incidence angle raster or a Sentinel-1 annotation (and a DEM).")
        r_vh = vh_db - dry_reference(vh_db[ref_index], statistic)[None]
        ratio = combined_ratio(r_vh, ratio, weight(theta, theta1, theta2, k)[None], out=r_vh)
        threshold = dual_threshold
    else:
        threshold = single_threshold
    classes = np.where(ratio < np.float32(threshold), np.uint8(WET), np.uint8(DRY))
    invalid = ~np.isfinite(ratio)
    if mask is not None:
        invalid |= mask[None]
    classes[invalid] = NOT_CLASSIFIED
    ratio[invalid] = np.nan
    return classes, ratio


def day_numbers(dates):
    """Day numbers of ``dates`` (datetime64[D]): day of year of the first date's year, continuing past it."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    jan1 = dates.min().astype("datetime64[Y]").astype("datetime64[D]")
    return (dates - jan1).astype(np.int64) + 1


def melt_timing(classes, days, min_run=1):
    """Onset, end (day numbers, float32, NaN where never wet) and count of wet dates per pixel.

    ``classes`` (dates, rows, cols) from :func:`classify`, dates in increasing order; ``days`` their day
    numbers (:func:`day_numbers`). Pixels never classified (every date 255) get NaN in all three.
    """
    if min_run < 1:
        raise InputError(f"The minimum run of wet dates is {min_run}; it must be at least 1.")
    wet = classes == WET
    n = wet.shape[0]
    count = wet.sum(axis=0).astype(np.float32)
    runs = wet[: n - min_run + 1].copy() if n >= min_run else np.zeros((0,) + wet.shape[1:], bool)
    for j in range(1, min_run):
        runs &= wet[j: n - min_run + 1 + j]
    days = np.asarray(days, dtype=np.float32)
    onset = np.full(wet.shape[1:], np.nan, dtype=np.float32)
    end = np.full(wet.shape[1:], np.nan, dtype=np.float32)
    if runs.shape[0]:
        any_run = runs.any(axis=0)
        first = np.argmax(runs, axis=0)
        last = runs.shape[0] - 1 - np.argmax(runs[::-1], axis=0) + (min_run - 1)
        onset[any_run] = days[first[any_run]]
        end[any_run] = days[last[any_run]]
    never = np.all(classes == NOT_CLASSIFIED, axis=0)
    count[never] = np.nan
    return onset, end, count


def reference_indexes(dates, start=None, end=None, months=None):
    """Indexes of the dates inside [start, end] (inclusive) or, without both, in the given ``months``.

    Raises :class:`InputError` naming the window and the available dates when none falls inside.
    """
    dates = np.asarray(dates, dtype="datetime64[D]")
    if start is not None or end is not None:
        lo = np.datetime64(start, "D") if start is not None else dates.min()
        hi = np.datetime64(end, "D") if end is not None else dates.max()
        if hi < lo:
            raise InputError(f"The reference window ends ({iso(hi)}) before it starts ({iso(lo)}).",
                             "give the start date before the end date.")
        inside = np.flatnonzero((dates >= lo) & (dates <= hi))
        window = f"between {iso(lo)} and {iso(hi)}"
    else:
        month = (dates.astype("datetime64[M]").astype(np.int64) % 12) + 1
        inside = np.flatnonzero(np.isin(month, list(months)))
        window = "in months " + ", ".join(str(m) for m in months)
    if inside.size == 0:
        listing = ", ".join(iso(d) for d in dates[:8]) + (" ..." if dates.size > 8 else "")
        raise InputError(f"No acquisition lies in the dry-snow reference window ({window}); the stack has "
                         f"{dates.size} date(s): {listing}.",
                         "choose a reference window (start and end dates) that contains winter acquisitions "
                         "of the same track.")
    return inside


def winter_months(latitude):
    """Default dry-snow months: December-February north of the equator, June-August south of it."""
    return (12, 1, 2) if latitude is None or latitude >= 0 else (6, 7, 8)


# -- blockwise driver -------------------------------------------------------------------------------------------


def boxcar_linear(values_db, size):
    """Boxcar (``size`` x ``size`` px) mean of the linear power of every date (dB in, dB out); NaN ignored."""
    from scipy.ndimage import uniform_filter

    linear = np.power(np.float32(10.0), values_db / np.float32(10.0), dtype=np.float32)
    finite = np.isfinite(linear)
    linear[~finite] = 0.0
    sums = uniform_filter(linear, size=(1, size, size), mode="nearest")
    weights = uniform_filter(finite.astype(np.float32), size=(1, size, size), mode="nearest")
    del linear
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(sums, weights, out=sums)
        np.log10(sums, out=sums)
    sums *= np.float32(10.0)
    sums[~finite] = np.nan
    return sums


class OutlineStats:
    """Per outline and date: classified and wet pixel counts, accumulated block by block."""

    def __init__(self, geometries, grid, n_dates):
        self.geometries = [g for g in geometries]
        self.grid = grid
        n = len(self.geometries) + 1  # label 0 = outside every outline
        self.pixels = np.zeros(n, dtype=np.int64)
        self.valid = np.zeros((n, n_dates), dtype=np.int64)
        self.wet = np.zeros((n, n_dates), dtype=np.int64)

    def add(self, classes, window):
        from rasterio.features import rasterize

        if not self.geometries:
            return
        g = self.grid.window_grid(window)
        labels = rasterize([(geom, i + 1) for i, geom in enumerate(self.geometries) if geom],
                           out_shape=g.shape, transform=g.transform, fill=0, dtype="int32").ravel()
        n = self.pixels.size
        self.pixels += np.bincount(labels, minlength=n)
        for t in range(classes.shape[0]):
            c = classes[t].ravel()
            self.valid[:, t] += np.bincount(labels, weights=c != NOT_CLASSIFIED, minlength=n).astype(np.int64)
            self.wet[:, t] += np.bincount(labels, weights=c == WET, minlength=n).astype(np.int64)

    def features(self, dates, pixel_area_km2):
        """One record per outline and date: outline id (1-based), date, wet fraction of the classified pixels,
        wet area (km²), classified fraction of the outline's pixels."""
        out = []
        for i, geom in enumerate(self.geometries):
            label = i + 1
            for t, date in enumerate(dates):
                valid, wet, total = int(self.valid[label, t]), int(self.wet[label, t]), int(self.pixels[label])
                out.append({"geometry": geom, "properties": {
                    "outline": label, "date": iso(date),
                    "wet_fraction": wet / valid if valid else float("nan"),
                    "wet_area_km2": wet * pixel_area_km2 if pixel_area_km2 else float("nan"),
                    "classified_fraction": valid / total if total else 0.0}})
        return out


def detect_melt(vv, vh, geometry, ref_index, outputs, outlines=(), statistic="mean", theta1=THETA1,
                theta2=THETA2, k=K, dual_threshold=DUAL_THRESHOLD_DB, single_threshold=SINGLE_THRESHOLD_DB,
                min_run=1, speckle_size=1, block_size=256, progress=None):
    """Classify every date of the stacks block by block and write the requested outputs.

    ``vv``, ``vh`` (or None): :class:`~.stack.DatedStack` of the same dates and grid; ``geometry``: a source
    with ``read_all(window) -> (local angle deg, mask codes, ellipsoid angle)`` (:mod:`.local_incidence`) or
    None (no angle: single-polarisation rule, no mask); ``outputs``: name -> path for ``wet_snow`` (one uint8
    band per date), ``melt_onset``, ``melt_end``, ``wet_count`` (float32) and ``local_angle`` (float32 deg),
    ``layover_shadow`` (uint8 codes); missing names are not written. Memory: about
    ``8 x dates x block_size^2`` float32 values per polarisation at once.
    Returns a dict of statistics (wet fraction per date over the classified pixels, pixel counts, features).
    """
    import contextlib

    from rasterio.windows import Window

    from .. import raster_io
    from ..progress import as_progress
    from . import local_incidence as li

    progress = as_progress(progress)
    grid = vv.grid
    dates = vv.dates
    days = day_numbers(dates)
    n = len(dates)
    names = [f"wet_{iso(d)}" for d in dates]
    common = {"SERAC_PRODUCT": "sar_wet_snow", "DATES": ",".join(iso(d) for d in dates),
              "RULE": "dual-pol combined ratio (Nagler et al. 2016)" if vh is not None else
              "single-pol ratio (Nagler & Rott 2000)",
              "DAY_NUMBER_ORIGIN": f"{iso(dates.min().astype('datetime64[Y]'))} is day 1"}
    specs = {
        "wet_snow": dict(count=n, dtype="uint8", nodata=NOT_CLASSIFIED, band_names=names,
                         band_tags={i + 1: {"DATE": iso(d)} for i, d in enumerate(dates)}),
        "melt_onset": dict(count=1, dtype="float32", band_names=["melt_onset_day"]),
        "melt_end": dict(count=1, dtype="float32", band_names=["melt_end_day"]),
        "wet_count": dict(count=1, dtype="float32", band_names=["wet_dates"]),
        "local_angle": dict(count=1, dtype="float32", band_names=["local_incidence_angle_deg"]),
        "layover_shadow": dict(count=1, dtype="uint8", nodata=li.NODATA, band_names=["layover_shadow_code"]),
    }
    half = speckle_size // 2 if speckle_size > 1 else 0
    stats = OutlineStats(outlines, grid, n)
    wet_total = np.zeros(n, dtype=np.int64)
    valid_total = np.zeros(n, dtype=np.int64)
    code_counts = np.zeros(256, dtype=np.int64)
    blocks = list(raster_io.iter_blocks(grid.shape, block_size, overlap=half))
    with contextlib.ExitStack() as stack:
        writers = {name: stack.enter_context(raster_io.RasterWriter(path, grid, tags=common, **specs[name]))
                   for name, path in outputs.items() if path}
        for i, (win, outer) in enumerate(blocks):
            inner = (slice(int(win.row_off - outer.row_off), int(win.row_off - outer.row_off + win.height)),
                     slice(int(win.col_off - outer.col_off), int(win.col_off - outer.col_off + win.width)))
            pols = []
            for s in (vv, vh):
                if s is None:
                    pols.append(None)
                    continue
                data = s.read(outer if half else win)
                if half:
                    data = boxcar_linear(data, speckle_size)[(slice(None),) + inner]
                pols.append(data)
            if geometry is not None:
                theta, codes, _ = geometry.read_all(win)
                mask = codes != li.VALID
                code_counts += np.bincount(codes.ravel(), minlength=256)
            else:
                theta, codes, mask = None, None, None
            classes, _ = classify(pols[0], pols[1], ref_index, theta, mask, statistic, theta1, theta2, k,
                                  dual_threshold, single_threshold)
            del pols
            wet_total += np.count_nonzero(classes == WET, axis=(1, 2))
            valid_total += np.count_nonzero(classes != NOT_CLASSIFIED, axis=(1, 2))
            stats.add(classes, win)
            onset, end, count = melt_timing(classes, days, min_run) if (
                {"melt_onset", "melt_end", "wet_count"} & set(writers)) else (None,) * 3
            blocks_out = {"wet_snow": classes, "melt_onset": onset, "melt_end": end, "wet_count": count,
                          "local_angle": theta, "layover_shadow": codes}
            for name, writer in writers.items():
                data = blocks_out[name]
                if data is None:  # no angle source: the angle outputs stay nodata
                    data = np.full((int(win.height), int(win.width)),
                                   np.nan if specs[name]["dtype"] == "float32" else li.NODATA,
                                   dtype=specs[name]["dtype"])
                writer.write(data, Window(win.col_off, win.row_off, win.width, win.height))
            progress.update((i + 1) / len(blocks))
    # per-outline areas in a projected CRS only (degrees: one pixel area would not hold across a scene)
    pixel_area_km2 = raster_io.pixel_area_m2(grid) / 1e6 if grid.crs is not None and not grid.is_geographic else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(valid_total > 0, wet_total / np.maximum(valid_total, 1), np.nan)
    return {"dates": [iso(d) for d in dates], "day_numbers": days.tolist(), "wet_fraction": fraction.tolist(),
            "classified_pixels": valid_total.tolist(), "wet_pixels": wet_total.tolist(),
            "mask_counts": {li.MASK_LABELS.get(c, "nodata"): int(code_counts[c])
                            for c in (li.VALID, li.LAYOVER, li.SHADOW, li.OUT_OF_RANGE, li.NODATA)
                            if code_counts[c]},
            "features": stats.features(dates, pixel_area_km2) if stats.geometries else []}
