"""Whole-scene offset tracking: walks the images in windows and correlates every grid point.

Pieces:

* :class:`CorrelationParams` — chip size, search range, grid spacing, prefilter, thresholds (px).
* :class:`PointLayout` — where the correlation points sit on the reference image and
  the georeferencing of the output grid (one output pixel per point).
* :class:`ArraySource` / :class:`RasterSource` — read a window of an image (an array, or a
  raster file reprojected onto the reference grid), NaN outside it.
* :class:`OffsetTracker` — the windowed driver: for each block of points it reads only
  the image window those points need (chips + search range + prior offsets +
  prefilter halo, via :func:`serac.core.raster_io.iter_blocks` over the point grid),
  prefilters it, and correlates all points in batches on the chosen backend. Points
  that fail with the first chip size are tried again with larger chips (chip-size
  fallback). The per-point results (a grid ``spacing`` times coarser than the image)
  are the only thing kept for the whole scene, so memory stays bounded whatever the
  scene size. Returns an :class:`OffsetField` (px).

The georeferenced pipeline (dates, velocities in m/yr, stable ground, GeoTIFF and
arrow points) is in :mod:`.velocity`.
"""

import math
import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.windows import Window

from ..errors import InputError
from ..progress import as_progress
from ..raster_io import BandReader, RasterGrid, iter_blocks
from . import filtering
from .backends import make_ops
from .correlation import (box_moments, box_variance, boxed_match_batch, mask_boxes, masked_match_batch,
                          match_batch, peak_sigma)
from .prefilters import Prefilter, as_channels
from .subpixel import METHODS

#: Working-memory budget (bytes) of one correlation batch on CPU (256 points of 64 px windows:
#: small batches stay in cache and keep both threads busy) and on a GPU.
BATCH_MEMORY = 48 * 2**20
GPU_BATCH_MEMORY = 1024 * 2**20


@dataclass
class CorrelationParams:
    """Settings of the correlation (sizes in px of the reference image).

    ``chip``: template size; ``search``: search range ± around the prior offset (0 without
    prior), so the search window is ``chip + 2 search``; ``spacing``: distance between
    grid points; ``max_chip``: largest chip of the fallback (chips double from ``chip`` up
    to it; default ``2 chip``; equal to ``chip`` disables the fallback); ``min_ncc`` and
    ``min_ratio``: quality thresholds (ZNCC peak, peak-to-second-peak ratio);
    ``min_valid``: fraction of valid pixels a chip and its search window need (lower it, e.g.
    to 0.6, for Landsat 7 SLC-off scenes: gaps are then ignored by the masked correlation);
    ``max_featureless``: largest fraction of a chip (or search window) that may be
    saturated or featureless (pixels whose 3 x 3 neighbourhood is constant in the raw
    image: saturated snow, clipped or quantized-flat areas); more gives ``low_quality``
    (1 disables the rule);
    ``median_*``: normalized median test (radius in points, threshold — None disables the
    test —, epsilon in px);
    ``block``: points per side of the blocks the scene is processed in; ``batch``:
    points per FFT batch (default: from :data:`BATCH_MEMORY`).
    """

    chip: int = 32
    search: int = 16
    spacing: int = 12
    prefilter: str = "wallis"
    prefilter_size: float = None
    subpixel: str = "dft"
    max_chip: int = None
    min_ncc: float = 0.2
    min_ratio: float = 1.1
    min_valid: float = 0.9
    max_featureless: float = 0.75
    median_radius: int = 1
    median_threshold: float = 3.0
    median_epsilon: float = 0.1
    block: int = 64
    batch: int = None

    def __post_init__(self):
        for name in ("chip", "search", "spacing", "block"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise InputError(f"The {name} must be a positive whole number of pixels (got {value}).")
            setattr(self, name, int(value))
        if self.chip < 8:
            raise InputError(f"A chip of {self.chip} px is too small to correlate.", "use a chip of at least 8 px.")
        if self.search < 2:
            raise InputError(f"A search range of ±{self.search} px is too small.", "use at least ±2 px.")
        if not 0 < self.min_valid <= 1:
            raise InputError("min_valid must be a fraction in (0, 1].")
        if not 0 < self.max_featureless <= 1:
            raise InputError("max_featureless must be a fraction in (0, 1].")
        if self.subpixel not in METHODS:
            raise InputError(f"Unknown sub-pixel method '{self.subpixel}'.", f"use one of {', '.join(METHODS)}.")
        Prefilter(self.prefilter, self.prefilter_size)  # validates the name

    @property
    def filter(self):
        return Prefilter(self.prefilter, self.prefilter_size)

    def chip_sizes(self):
        """Chip sizes tried in turn (px): ``chip``, then doubled (same parity) up to ``max_chip``."""
        top = self.max_chip if self.max_chip is not None else 2 * self.chip
        sizes = [self.chip]
        while 2 * sizes[-1] + sizes[-1] % 2 <= top:
            sizes.append(2 * sizes[-1] + sizes[-1] % 2)
        return sizes

    def window_size(self, chip=None):
        """Search window size (px) for a chip size."""
        return (chip or self.chip) + 2 * self.search

    def check_image(self, shape):
        """Raise :class:`InputError` if the first chip and its search window do not fit in ``shape``."""
        need = self.window_size()
        if min(shape) < need:
            raise InputError(f"A {self.chip} px chip with a ±{self.search} px search needs {need} x {need} px, but the "
                             f"image is only {shape[1]} x {shape[0]} px.",
                             "use a smaller chip or search range (or a lower maximum speed), or larger images.")
        if min(shape) < self.spacing:
            raise InputError(f"The grid spacing ({self.spacing} px) is larger than the image.", "use a smaller spacing.")


@dataclass(frozen=True)
class PointLayout:
    """Correlation points on a regular grid of the reference image.

    Point (i, j) is centred at ``origin + (i + 0.5, j + 0.5) * spacing`` in pixel-edge
    coordinates (px); ``origin`` is 0 or 0.5 px so that chips of the chosen parity have
    whole-pixel corners. Each point is one pixel of the output grid (:meth:`grid`).
    """

    image_shape: tuple
    spacing: int
    origin: float

    @classmethod
    def create(cls, image_shape, spacing, chip):
        return cls(tuple(int(v) for v in image_shape), int(spacing), ((chip - spacing) / 2.0) % 1.0)

    @property
    def shape(self):
        """(rows, cols) of points."""
        return tuple(max(0, int((n - self.origin) // self.spacing)) for n in self.image_shape)

    def centre(self, index):
        """Centre (pixel-edge coordinate, px) of points with ``index`` along one axis."""
        return self.origin + (np.asarray(index, dtype=np.float64) + 0.5) * self.spacing

    def corner(self, index, size):
        """Top-left pixel index of a ``size`` px box centred on points ``index`` along one axis."""
        return np.rint(self.centre(index) - size / 2.0).astype(np.int64)

    def grid(self, image_grid):
        """The output :class:`RasterGrid`: one pixel per point, on the reference grid's CRS."""
        transform = image_grid.transform * Affine.translation(self.origin, self.origin) * Affine.scale(self.spacing)
        rows, cols = self.shape
        return RasterGrid(image_grid.crs, transform, cols, rows)


class ArraySource:
    """An image held in memory (2-D array, NaN = nodata), in pixel units."""

    def __init__(self, array):
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2:
            raise InputError(f"An image must be a 2-D array (got shape {array.shape}).", "pass one band.")
        self.array = array
        self.shape = array.shape

    def read(self, window):
        r0, c0 = int(window.row_off), int(window.col_off)
        return self.array[r0:r0 + int(window.height), c0:c0 + int(window.width)]


class RasterSource:
    """One band of a raster file read window by window onto ``grid`` (reprojected if needed),
    through the one grid reader :class:`~serac.core.raster_io.BandReader`."""

    def __init__(self, path, grid, band=1, resampling="cubic"):
        self.path = path
        self.grid = grid
        self.band = band
        self.resampling = resampling
        self.shape = grid.shape
        self.reader = BandReader(path, band, "The image")

    def read(self, window):
        return self.reader.read(self.grid, window, self.resampling)


def read_padded(source, row0, col0, height, width):
    """``height`` x ``width`` px of ``source`` from (row0, col0), NaN where outside the image."""
    out = np.full((height, width), np.nan, dtype=np.float32)
    rows, cols = source.shape
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + height, rows), min(col0 + width, cols)
    if r1 > r0 and c1 > c0:
        out[r0 - row0:r1 - row0, c0 - col0:c1 - col0] = source.read(Window(c0, r0, c1 - c0, r1 - r0))
    return out


@dataclass
class OffsetField:
    """Offsets from the reference to the secondary image on a :class:`PointLayout` (px).

    ``dx``: along columns (towards increasing column), ``dy``: along rows (downwards);
    a feature at (row, col) in the reference is at (row + dy, col + dx) in the
    secondary. ``ncc``, ``ratio``: peak ZNCC and peak-to-second-peak ratio; ``chip``:
    chip size used (px, 0 where none); ``status``: :data:`filtering.STATUS` codes;
    ``sigma_y``/``sigma_x``: uncalibrated 1-sigma error model of each offset (px,
    :func:`~.correlation.peak_sigma`; the pipeline scales it on stable ground).
    ``dx``/``dy`` are NaN where no match was made; use ``valid`` to select kept points.
    """

    dx: np.ndarray
    dy: np.ndarray
    ncc: np.ndarray
    ratio: np.ndarray
    chip: np.ndarray
    status: np.ndarray
    layout: PointLayout
    sigma_y: np.ndarray = None
    sigma_x: np.ndarray = None

    @classmethod
    def empty(cls, layout):
        shape = layout.shape
        nan = lambda: np.full(shape, np.nan, dtype=np.float32)  # noqa: E731
        return cls(nan(), nan(), nan(), nan(), np.zeros(shape, np.int16),
                   np.full(shape, filtering.NODATA, np.uint8), layout, nan(), nan())

    @property
    def valid(self):
        return self.status == filtering.VALID

    @property
    def valid_fraction(self):
        return float(self.valid.mean()) if self.status.size else 0.0

    def status_counts(self):
        return {name: int((self.status == code).sum()) for code, name in filtering.STATUS.items()}


class OffsetTracker:
    """Tracks offsets between two images on a point grid, window by window, on a backend.

    >>> tracker = OffsetTracker(CorrelationParams(chip=32, search=16, spacing=12), backend="numpy")
    >>> field = tracker.track(ArraySource(ref), ArraySource(sec))
    """

    def __init__(self, params=None, backend="auto", threads=None):
        self.params = params or CorrelationParams()
        self.threads = max(1, int(threads or os.cpu_count() or 1))
        # On CPU, batches run in parallel threads (numpy, pocketfft and torch release the GIL),
        # each op single-threaded; on a GPU one batch at a time, parallel inside the device.
        self.ops, self.backend = make_ops(backend)
        self.parallel = self.threads if self.ops.is_cpu else 1

    def layout_for(self, shape):
        return PointLayout.create(shape, self.params.spacing, self.params.chip)

    def batch_size(self, chip):
        """Points per correlation batch: from :data:`BATCH_MEMORY` (CPU) or :data:`GPU_BATCH_MEMORY`."""
        if self.params.batch:
            return int(self.params.batch)
        s = self.params.window_size(chip)
        channels = 2 if self.params.prefilter == "orientation" else 1
        per_point = channels * s * s * 4 * 12  # ~12 window-sized float32 arrays alive per point
        budget = BATCH_MEMORY if self.ops.is_cpu else GPU_BATCH_MEMORY
        return int(min(65536, max(16, budget // per_point)))

    def track(self, reference, secondary, prior=None, feedback=None, layout=None):
        """:class:`OffsetField` of ``secondary`` relative to ``reference`` (sources of the same shape).

        ``prior`` is an optional (dy, dx) pair of arrays on the point grid (px, NaN = none)
        that centres each search window (as autoRIFT does with a reference velocity).
        """
        if tuple(reference.shape) != tuple(secondary.shape):
            raise InputError(f"The images differ in size ({reference.shape} vs {secondary.shape}).",
                             "read them onto the same grid first.")
        self.params.check_image(reference.shape)
        layout = layout or self.layout_for(reference.shape)
        progress = as_progress(feedback)
        field = OffsetField.empty(layout)
        prior_r = prior_c = None
        if prior is not None:
            prior_r, prior_c = (np.rint(np.nan_to_num(np.asarray(p, dtype=np.float64))).astype(np.int64)
                                for p in prior)
        specs = [self._block_spec(layout, inner, prior_r, prior_c)
                 for inner, _ in iter_blocks(layout.shape, self.params.block)]
        # the next block's image window is read and prefiltered in the background while the
        # current block correlates: at most two blocks' windows are in memory at any time
        with self.ops.one_thread_per_call(), ThreadPoolExecutor(1) as reader, \
                (ThreadPoolExecutor(self.parallel) if self.parallel > 1 else _InlineExecutor()) as pool:
            pending = reader.submit(self._prepare, reference, secondary, specs[0]) if specs else None
            for b, spec in enumerate(specs):
                tiles = _result(pending, progress)
                pending = (reader.submit(self._prepare, reference, secondary, specs[b + 1])
                           if b + 1 < len(specs) else None)
                if tiles is not None:
                    self._track_block(pool, spec, tiles, field, progress)
                progress.update((b + 1) / len(specs))
        self._remove_outliers(field)
        return field

    # -- one block of points ----------------------------------------------------------
    def _block_spec(self, layout, inner, prior_r, prior_c):
        """Points of one block (indices, prior shifts, chip corners per size) and the image window they need."""
        p = self.params
        rows = np.arange(int(inner.row_off), int(inner.row_off + inner.height))
        cols = np.arange(int(inner.col_off), int(inner.col_off + inner.width))
        ii, jj = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        shift_r = prior_r[ii, jj] if prior_r is not None else np.zeros(ii.size, np.int64)
        shift_c = prior_c[ii, jj] if prior_c is not None else np.zeros(ii.size, np.int64)
        sizes = p.chip_sizes()
        corners = {k: (layout.corner(ii, k), layout.corner(jj, k)) for k in sizes}
        top = min(min(corners[k][0].min(), (corners[k][0] - p.search + shift_r).min()) for k in sizes)
        left = min(min(corners[k][1].min(), (corners[k][1] - p.search + shift_c).min()) for k in sizes)
        bottom = max(max((corners[k][0] + k).max(), (corners[k][0] - p.search + shift_r + p.window_size(k)).max())
                     for k in sizes)
        right = max(max((corners[k][1] + k).max(), (corners[k][1] - p.search + shift_c + p.window_size(k)).max())
                    for k in sizes)
        halo = p.filter.halo
        window = (int(top) - halo, int(left) - halo, int(bottom - top) + 2 * halo, int(right - left) + 2 * halo)
        return _BlockSpec(ii, jj, shift_r, shift_c, corners, window)

    def _prepare(self, reference, secondary, spec):
        """Read and prefilter the image window of a block: per image (channels, valid, featureless), or None."""
        top, left, height, width = spec.window
        rows, cols = reference.shape
        if top + height <= 0 or left + width <= 0 or top >= rows or left >= cols:
            return None
        tiles = []
        for source in (reference, secondary):
            tile = read_padded(source, top, left, height, width)
            if not np.isfinite(tile).any():
                return None
            featureless = featureless_pixels(tile) if self.params.max_featureless < 1 else None
            tiles.append(as_channels(self.params.filter.apply(tile)) + (featureless,))
        return tiles

    def _track_block(self, pool, spec, tiles, field, progress):
        p = self.params
        sizes = p.chip_sizes()
        ii, jj, shift_r, shift_c, corners = spec.ii, spec.jj, spec.shift_r, spec.shift_c, spec.corners
        top, left = spec.window[:2]
        (ref_ch, ref_valid, ref_flat), (sec_ch, sec_valid, sec_flat) = tiles
        ops = self.ops
        ref_b, sec_b = ops.asarray(ref_ch), ops.asarray(sec_ch)
        masks = None  # the tiles' validity as backend float32, made once some point needs the FFT masked NCC
        todo = np.ones(ii.size, dtype=bool)
        for k in sizes:
            s = p.window_size(k)
            chip_r, chip_c = corners[k][0] - top, corners[k][1] - left
            win_r, win_c = chip_r - p.search + shift_r, chip_c - p.search + shift_c
            max_bad_chip = (1.0 - p.min_valid) * k * k + 0.5
            max_bad_win = (1.0 - p.min_valid) * s * s + 0.5
            bad_chip = _invalid_count(ref_valid, k, chip_r, chip_c)
            bad_win = _invalid_count(sec_valid, s, win_r, win_c)
            usable = todo & (bad_chip <= max_bad_chip) & (bad_win <= max_bad_win)
            if not usable.any():
                break
            featureless = usable & self._featureless(ref_flat, sec_flat, k, s, chip_r, chip_c, win_r, win_c)
            if featureless.any():
                if k == sizes[0]:  # larger chips of the fallback may still find texture
                    field.status[ii[featureless], jj[featureless]] = filtering.LOW_QUALITY
                    field.chip[ii[featureless], jj[featureless]] = k
                usable &= ~featureless
            moments = box_moments(sec_ch, k)
            var_b = ops.asarray(box_variance(sec_ch, k, moments).sum(axis=0))
            gappy = (bad_chip > 0) | (bad_win > 0)
            batch = self.batch_size(k)
            first = k == sizes[0]
            # points with gaps: the masked NCC, by box sums where the chip has none and the window's valid
            # pixels are one rectangle (a window across the image edge), by FFTs otherwise (stripes, ...)
            gaps = np.flatnonzero(usable & gappy)
            win_box = np.zeros((ii.size, 4), np.int64)
            boxed, win_box[gaps] = _valid_boxes(sec_valid, s, win_r[gaps], win_c[gaps])
            boxed &= bad_chip[gaps] == 0
            moments_b = ops.asarray(np.concatenate(moments), ops.double) if boxed.any() else None
            if masks is None and not boxed.all():
                masks = (ops.asarray(ref_valid.astype(np.float32)), ops.asarray(sec_valid.astype(np.float32)))
            jobs = []
            for idx, kind, step in ((np.flatnonzero(usable & ~gappy), None, batch),
                                    (gaps[boxed], "boxes", batch),
                                    (gaps[~boxed], "masks", max(1, batch // 4))):  # the masked NCC needs more memory
                jobs += [pool.submit(self._match, ref_b, sec_b, var_b, k, s, chip_r[sel], chip_c[sel], win_r[sel],
                                     win_c[sel], field, ii[sel], jj[sel], first,
                                     masks if kind == "masks" else None,
                                     (win_box[sel], moments_b) if kind == "boxes" else None)
                         for sel in (idx[i:i + step] for i in range(0, idx.size, step))]
            _wait_all(jobs, progress)
            todo = field.status[ii, jj] != filtering.VALID
            todo &= field.status[ii, jj] != filtering.NODATA

    def _featureless(self, ref_flat, sec_flat, k, s, chip_r, chip_c, win_r, win_c):
        """Points whose chip (or search window) has more than ``max_featureless`` saturated/featureless pixels."""
        limit = self.params.max_featureless
        out = np.zeros(len(chip_r), dtype=bool)
        if ref_flat is not None and ref_flat.any():
            out |= box_counts(ref_flat, k, chip_r, chip_c) > limit * k * k
        if sec_flat is not None and sec_flat.any():
            out |= box_counts(sec_flat, s, win_r, win_c) > limit * s * s
        return out

    def _match(self, ref_b, sec_b, var_b, k, s, chip_r, chip_c, win_r, win_c, field, ii, jj, first, masks=None,
               boxes=None):
        """Correlate points: by the ordinary NCC; the masked NCC by box sums given ``boxes`` (the windows' valid
        rectangles (N, 4) and the tile's :func:`box_moments`, backend float64 (2 C, H, W)), by FFTs given
        ``masks`` (the tiles' validity, backend float32)."""
        ops, p = self.ops, self.params
        m = s - k + 1
        wr, wc = ops.index(win_r), ops.index(win_c)
        cr, cc = ops.index(chip_r), ops.index(chip_c)
        chips = ops.windows(ref_b, cr, cc, k, k)
        windows = ops.windows(sec_b, wr, wc, s, s)
        if boxes is not None:
            window_moments = ops.windows(boxes[1], wr, wc, m, m)
            peaks = boxed_match_batch(ops, chips, windows, boxes[0],
                                      window_moments.reshape(len(win_r), 2, -1, m, m), subpixel=p.subpixel)
        elif masks is None:
            window_var = ops.windows(var_b, wr, wc, m, m)
            peaks = match_batch(ops, chips, windows, window_var, subpixel=p.subpixel)
        else:  # chips or windows with gaps of any shape: the masked NCC by FFTs
            peaks = masked_match_batch(ops, chips, windows, ops.windows(masks[0], cr, cc, k, k),
                                       ops.windows(masks[1], wr, wc, s, s), subpixel=p.subpixel)
        status = filtering.quality_status(peaks.ncc, peaks.ratio, peaks.on_edge, peaks.flat, p.min_ncc, p.min_ratio)
        # positions in the surface are the chip's top-left inside the window
        dy = (peaks.row + (win_r - chip_r)).astype(np.float32)
        dx = (peaks.col + (win_c - chip_c)).astype(np.float32)
        take = np.ones(len(peaks), bool) if first else (status == filtering.VALID)
        ti, tj = ii[take], jj[take]
        field.dy[ti, tj], field.dx[ti, tj] = dy[take], dx[take]
        field.ncc[ti, tj], field.ratio[ti, tj] = peaks.ncc[take], peaks.ratio[take]
        field.chip[ti, tj] = k
        field.status[ti, tj] = status[take]
        sigma = peak_sigma(peaks.ncc[take], peaks.curvature[take], k).astype(np.float32)
        field.sigma_y[ti, tj], field.sigma_x[ti, tj] = sigma[:, 0], sigma[:, 1]

    def _remove_outliers(self, field):
        p = self.params
        if p.median_threshold is None or not math.isfinite(p.median_threshold):
            return
        outliers = filtering.normalized_median_test(field.dx, field.dy, field.valid, radius=p.median_radius,
                                                    threshold=p.median_threshold, epsilon=p.median_epsilon)
        field.status[outliers] = filtering.OUTLIER


@dataclass
class _BlockSpec:
    """One block of points: flat indices (ii, jj), prior shifts (px), chip corners per chip size,
    and the image window (top, left, height, width) they need, prefilter halo included."""

    ii: np.ndarray
    jj: np.ndarray
    shift_r: np.ndarray
    shift_c: np.ndarray
    corners: dict
    window: tuple


def _result(job, progress):
    """The result of a future, checking for cancellation while waiting."""
    while True:
        try:
            return job.result(timeout=0.5)
        except FutureTimeout:
            progress.check_cancelled()


class _InlineExecutor(Executor):
    """Runs submitted calls at once in the calling thread (one worker, no thread hand-off)."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


def _wait_all(jobs, progress):
    """Wait for ``jobs`` (futures), re-raising their errors; on cancellation drop the rest and raise."""
    try:
        for job in jobs:
            _result(job, progress)
            progress.check_cancelled()
    except BaseException:
        for job in jobs:
            job.cancel()
        wait(jobs)
        raise


def featureless_pixels(image):
    """Saturated or featureless pixels of a raw image (boolean): their 3 x 3 neighbourhood is constant.

    Saturated snow, clipped shadows and quantized-flat areas have no texture to match; a chip
    made mostly of them gives a confident but wrong peak after a local-contrast prefilter.
    NaN (nodata) pixels and their neighbours are not flagged (they are handled as invalid);
    nor are the image's outermost pixels. A neighbourhood is constant when its three rows are
    and its centre column is: a few comparisons, with an early exit when no two neighbours
    along a row are equal (as in most non-quantized images).
    """
    a = np.asarray(image)
    flat = np.zeros(a.shape, dtype=bool)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return flat
    pairs = a[:, 1:] == a[:, :-1]  # equal horizontal neighbours
    if not pairs.any():
        return flat
    rows = pairs[:, 1:] & pairs[:, :-1]  # (H, W-2): the row triplet centred on column j+1 is constant
    column = (a[1:-1, 1:-1] == a[:-2, 1:-1]) & (a[1:-1, 1:-1] == a[2:, 1:-1])
    flat[1:-1, 1:-1] = rows[:-2] & rows[1:-1] & rows[2:] & column
    return flat


def _invalid_count(valid, size, rows, cols):
    """Number of invalid pixels in the ``size`` px boxes with top-left (rows, cols)."""
    if valid.all():
        return np.zeros(len(rows), np.int64)
    return box_counts(~valid, size, rows, cols)


def box_counts(mask, size, rows, cols):
    """Number of True pixels of ``mask`` (H, W) in the ``size`` x ``size`` boxes with top-left (rows, cols).

    Exact integer counts at those boxes only: cumulative sums down the columns (vectorized along the rows),
    differenced at the distinct first rows, then cumulated along those few rows.
    """
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    if rows.size == 0:
        return np.zeros(0, np.int64)
    down = np.zeros((mask.shape[0] + 1, mask.shape[1]), np.int32)
    np.cumsum(mask, axis=0, dtype=np.int32, out=down[1:])
    first, row_of = np.unique(rows, return_inverse=True)
    across = np.zeros((first.size, mask.shape[1] + 1), np.int64)
    np.cumsum(down[first + size] - down[first], axis=1, out=across[:, 1:])
    return across[row_of, cols + size] - across[row_of, cols]


def _valid_boxes(valid, size, rows, cols):
    """Of the ``size`` px boxes of ``valid`` with top-left (rows, cols): which hold their valid pixels as one
    rectangle, and that rectangle in box coordinates ((N,) bool, (N, 4) int; :func:`.correlation.mask_boxes`)."""
    if len(rows) == 0:
        return np.zeros(0, bool), np.zeros((0, 4), np.int64)
    return mask_boxes(np.lib.stride_tricks.sliding_window_view(valid, (size, size))[rows, cols])


def track_arrays(reference, secondary, params=None, backend="auto", prior=None, feedback=None):
    """Offsets (px) between two 2-D arrays of the same shape (NaN = nodata): an :class:`OffsetField`."""
    tracker = OffsetTracker(params, backend)
    return tracker.track(ArraySource(reference), ArraySource(secondary), prior=prior, feedback=feedback)


def search_from_speed(max_speed, years, pixel_size, margin=2):
    """Search range (px) that covers ``max_speed`` (m/yr) over ``years`` on ``pixel_size`` (m) pixels."""
    if max_speed is None or max_speed <= 0:
        raise InputError("The maximum expected speed must be positive (m/yr).")
    return max(2, int(math.ceil(abs(max_speed * years) / pixel_size)) + margin)
