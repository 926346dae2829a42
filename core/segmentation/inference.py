"""Blockwise scene inference: tiles with overlap, blended, written window by window.

:func:`segment_raster` runs a :class:`~serac.core.segmentation.runtime.SegmentationModel`
over a raster (or several co-registered rasters whose bands are stacked) and writes the
class probabilities with :class:`~serac.core.raster_io.RasterWriter`, one block at a time,
so memory stays bounded whatever the raster size (about
``(tiles_per_block * stride + tile_size)^2 * (bands + k + 1) * 4`` bytes per block, one
batch of tiles, and the predictions of tiles shared with blocks still to come: about one
row of tiles across the scene). Tiles come from one scene-wide :class:`~.tiling.TileGrid`,
each tile runs once, and overlapping tiles are blended with :meth:`~.tiling.TileGrid.weights`
(tile margins of the network's receptive-field width discarded, see :mod:`.tiling`), so the
output is the same whatever the block size and equals a whole-image run away from the scene
border (within 0.02 in probability when the overlap is at least twice the model's
``tiling.context_px``, as the shipped models' default overlaps are).

Uncertainty (``uncertainty_path`` / ``with_uncertainty``): every tile also runs flipped
left-right, flipped up-down and rotated by 90° (test-time augmentation, deterministic, 4x the
compute); the probability written is the mean of the 4 back-transformed predictions and the
uncertainty the largest (over classes) standard deviation between them, in probability units
(0 = all agree, 0.5 at most). Tiles holding no valid pixel are skipped; nodata pixels are NaN in the output.
Progress is reported and cancellation checked after every batch; a cancelled or failed run
leaves no output file.

:func:`predict_array` does the same on an in-memory array (used by training evaluation and
tests).
"""

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from rasterio.windows import Window

from ..errors import AllNoDataError, InputError
from ..progress import as_progress
from ..raster_io import (BandReader, RasterWriter, band_count, iter_blocks, pixel_size_m, read_grid, require_crs,
                         sample_windows)
from .runtime import SegmentationModel, load_model
from .sources import source_readers
from .temporal import dated_sources
from .tiling import TileGrid, accumulate, bounding_window, extract_tile

CLASS_NODATA = 255
UNCERTAINTY_BAND = "uncertainty"
#: test-time augmentations: (forward, inverse) on the last two axes of (N, bands, rows, cols) tiles
TTA_TRANSFORMS = (
    (lambda a: a, lambda a: a),
    (lambda a: a[..., ::-1], lambda a: a[..., ::-1]),
    (lambda a: a[..., ::-1, :], lambda a: a[..., ::-1, :]),
    (lambda a: np.rot90(a, 1, axes=(-2, -1)), lambda a: np.rot90(a, -1, axes=(-2, -1))),
)


def predict_tiles(model, batch, tta=False):
    """Probabilities (N, k, rows, cols) of normalised tiles; with ``tta`` (N, k + 1, rows, cols): the mean over
    :data:`TTA_TRANSFORMS` and, last, the uncertainty (largest per-class standard deviation between them)."""
    if not tta:
        return model.predict(batch)
    runs = np.stack([inverse(model.predict(np.ascontiguousarray(forward(batch))))
                     for forward, inverse in TTA_TRANSFORMS])
    return np.concatenate([runs.mean(axis=0), runs.std(axis=0).max(axis=1, keepdims=True)], axis=1)


def tile_grid_for(meta, shape, overlap=None):
    """The :class:`TileGrid` of a model on a scene: the model's tile size, ``overlap`` px (None: the model's),
    tiles aligned on its size multiple, margins of its ``context_px`` discarded. A scene smaller than a
    tile runs as one square tile of its larger side (rounded up to the size multiple), as a whole image."""
    m = meta.size_multiple
    tile = min(meta.tile_size, -(-max(shape) // m) * m)
    overlap = meta.overlap if overlap is None else int(overlap)
    if tile < meta.tile_size:
        overlap = min(overlap, (tile - 1) // 2)
    return TileGrid(shape, tile, overlap, multiple=m, context=meta.context_px)


@dataclass
class InputSource:
    """One input raster and the 1-based bands taken from it (None: all, in file order)."""

    path: str
    bands: list = None


@dataclass
class SegmentationRun:
    """What a run did: outputs, backend, tiles and timing."""

    probability_path: str
    class_path: str
    model_name: str
    backend: str
    output_names: list
    shape: tuple
    tiles_total: int
    tiles_run: int
    tiles_nodata: int
    seconds: float
    valid_fraction: float
    extra: dict = field(default_factory=dict)

    @property
    def megapixels(self):
        return self.shape[0] * self.shape[1] / 1e6

    @property
    def mpx_per_s(self):
        return self.megapixels / self.seconds if self.seconds > 0 else float("nan")

    def summary(self):
        return (f"Model '{self.model_name}' on {self.backend}: {self.shape[1]}x{self.shape[0]} px, "
                f"{self.tiles_run} tile(s) run, {self.tiles_nodata} nodata tile(s) skipped, "
                f"{self.seconds:.1f} s ({self.mpx_per_s:.2f} Mpx/s), valid pixels {100 * self.valid_fraction:.1f} %.")


def _check_value_range(meta, readers, grid):
    """Per-band stretch (raw low, high) when the model's declared input range says to rescale, else None;
    :class:`ModelError` when the input is outside that range (see :class:`ValueRange`)."""
    if meta.value_range is None:
        return None
    sample = np.stack([np.concatenate([r.read(grid, w).ravel() for w in sample_windows(grid.shape)])
                       for r in readers])
    for value in meta.nodata_values:
        sample[sample == value] = np.nan
    return meta.value_range.check(sample, readers[0].dtype, meta.name)


def _as_sources(sources, bands=None):
    if isinstance(sources, (str, bytes)) or hasattr(sources, "__fspath__"):
        return [InputSource(str(sources), None if bands is None else list(bands))]
    out = []
    for s in sources:
        out.append(s if isinstance(s, InputSource) else
                   InputSource(str(s[0]), s[1]) if isinstance(s, (tuple, list)) else InputSource(str(s)))
    if not out:
        raise InputError("No input raster was given.", "select the input raster(s).")
    return out


def _prepare(metadata, raw):
    """Raw block (bands, rows, cols) -> (normalised input with nodata filled, valid mask)."""
    raw = np.asarray(raw, dtype=np.float32)
    if metadata.nodata_values:
        raw = np.where(np.isin(raw, np.asarray(metadata.nodata_values, np.float32)), np.nan, raw)
    valid = np.all(np.isfinite(raw), axis=0)
    x = metadata.normalization.apply(raw)
    x[:, ~valid] = metadata.nodata_fill
    return x, valid


class _Blender:
    """Runs the tiles touching each inner window and blends them into that window.

    A tile reaching into blocks processed later is kept (its prediction, or None for a
    nodata tile) until the last block that needs it, so every tile runs once. With blocks
    in row-major order the cache holds at most about one row of tiles across the scene
    plus one block's worth (``scene width / stride + tiles_per_block`` tiles of
    ``tile_size^2 * k * 4`` bytes).
    """

    def __init__(self, model, tile_grid, batch_size, blend, windows, tta=False):
        self.model = model
        self.meta = model.metadata
        self.grid = tile_grid
        self.batch_size = max(1, int(batch_size))
        self.blend = blend
        self.tta = bool(tta)
        tile_grid.weights(next(iter(tile_grid)), blend)  # checks the blend kind before any tile runs
        self.uses = Counter(t for w in windows for t in tile_grid.tiles_in(w))
        self.cache = {}
        self.tiles_run = 0
        self.tiles_nodata = 0

    @property
    def tiles_total(self):
        return len(self.uses)

    def run(self, read, inner, on_batch):
        tiles = self.grid.tiles_in(inner)
        need = [t for t in tiles if t not in self.cache]
        src = bounding_window(need, self.grid.shape, inner)
        x, valid = _prepare(self.meta, read(src))
        origin = (int(src.row_off), int(src.col_off))
        preds = {}
        todo = []
        for t in need:
            r0, c0 = t.row - origin[0], t.col - origin[1]
            if valid[max(r0, 0):r0 + t.size, max(c0, 0):c0 + t.size].any():
                todo.append(t)
            else:
                preds[t] = None
        if len(todo) < len(need):
            self.tiles_nodata += len(need) - len(todo)
            on_batch(len(need) - len(todo))
        for i in range(0, len(todo), self.batch_size):
            batch = todo[i:i + self.batch_size]
            probs = predict_tiles(self.model, np.stack([extract_tile(x, t, origin, self.meta.nodata_fill)
                                                        for t in batch]), self.tta)
            for t, p in zip(batch, probs):
                preds[t] = np.array(p)
            self.tiles_run += len(batch)
            on_batch(len(batch))
        k = self.meta.n_outputs + self.tta
        h, w = int(inner.height), int(inner.width)
        acc = np.zeros((k, h, w), dtype=np.float32)
        wsum = np.zeros((h, w), dtype=np.float32)
        for t in tiles:
            p = preds[t] if t in preds else self.cache[t]
            if p is not None:
                accumulate(acc, wsum, p, self.grid.weights(t, self.blend), t, inner)
            self.uses[t] -= 1
            if self.uses[t] > 0:
                self.cache[t] = p
            else:
                self.cache.pop(t, None)
        r0, c0 = int(inner.row_off) - origin[0], int(inner.col_off) - origin[1]
        inner_valid = valid[r0:r0 + h, c0:c0 + w] & (wsum > 0)
        out = np.full((k, h, w), np.nan, dtype=np.float32)
        np.divide(acc, wsum, out=out, where=inner_valid[None])
        return out, int(inner_valid.sum())


def classify(probabilities, metadata):
    """Class map (uint8, :data:`CLASS_NODATA` where NaN) from probabilities (k, rows, cols).

    Sigmoid models: 1 where p >= threshold else 0; softmax models: index of the most
    probable class in ``metadata.classes``.
    """
    probabilities = np.asarray(probabilities)
    nodata = ~np.all(np.isfinite(probabilities), axis=0)
    if metadata.activation == "sigmoid":
        classes = (np.nan_to_num(probabilities[0]) >= metadata.threshold).astype(np.uint8)
    else:
        classes = np.argmax(np.nan_to_num(probabilities, nan=-1.0), axis=0).astype(np.uint8)
    classes[nodata] = CLASS_NODATA
    return classes


def predict_array(model, data, batch_size=8, blend="cosine", feedback=None, overlap=None, with_uncertainty=False):
    """Class probabilities (k, rows, cols) for an in-memory raw array (bands, rows, cols), NaN = nodata.

    ``overlap``: tile overlap in px (None: the model's). ``with_uncertainty``: return
    ``(probabilities, uncertainty (rows, cols))`` from test-time augmentation instead.
    """
    data = np.asarray(data, dtype=np.float32)
    model.metadata.check_band_count(data.shape[0])
    meta = model.metadata
    grid = tile_grid_for(meta, data.shape[1:], overlap)
    whole = Window(0, 0, data.shape[2], data.shape[1])
    blender = _Blender(model, grid, batch_size, blend, [whole], tta=with_uncertainty)
    progress = as_progress(feedback)
    done = [0]

    def on_batch(n):
        done[0] += n
        progress.update(done[0] / max(1, len(grid)))

    def read(win):
        return data[:, int(win.row_off):int(win.row_off + win.height), int(win.col_off):int(win.col_off + win.width)]

    out, _ = blender.run(read, whole, on_batch)
    return (out[:-1], out[-1]) if with_uncertainty else out


def segment_raster(sources, model, output_path, class_path=None, bands=None, backend="auto", batch_size=8,
                   tiles_per_block=8, blend="cosine", check_pixel_size=True, threads=None, feedback=None,
                   overlap=None, uncertainty_path=None):
    """Run ``model`` over a scene and write its class probabilities to ``output_path``.

    ``sources``: a raster path, or a list of paths / ``(path, bands)`` / :class:`InputSource`
    whose bands are stacked in order (rasters after the first are read onto the first
    one's grid); for a multi-source model (bands naming a ``source``), one path per source
    in the metadata's order, bands read or derived as it declares (see :mod:`.sources`). ``bands``: 1-based bands of a single path (default all). ``model``: a
    :class:`SegmentationModel` or a model path (loaded on ``backend``). ``class_path``:
    optional class map (uint8; 255 = nodata) written alongside. ``tiles_per_block``: block
    edge in tile strides (memory vs. border recomputation). ``blend``: cosine, linear or
    none. ``overlap``: tile overlap in px (None: the model's; below twice the model's
    ``tiling.context_px`` tiles may show seams, with a warning). ``uncertainty_path``: optional
    uncertainty raster (float32, probability units) from test-time augmentation; the
    probabilities are then the augmentation mean. Raises BandCountError / ModelError (pixel size) / CRSError / AllNoDataError /
    Cancelled. Returns a :class:`SegmentationRun`.
    """
    progress = as_progress(feedback)
    if not isinstance(model, SegmentationModel):
        model = load_model(model, backend=backend, threads=threads)
    meta = model.metadata
    srcs = _as_sources(sources, bands)
    grid = read_grid(srcs[0].path)
    require_crs(grid, "The input raster")
    if meta.time:  # dated rasters: date after date, oldest first
        if any(s.bands is not None for s in srcs):
            raise InputError(f"Model '{meta.name}' is a time-series model: it takes every dated band of the rasters "
                             "given, sorted by date; a band selection does not apply.",
                             "leave the bands empty and give only the dated rasters (or stack) the model needs.")
        srcs, dates = dated_sources(meta, [s.path for s in srcs])
        progress.info(f"Time series of {len(dates)} dates: {', '.join(str(d) for d in dates)}.")
    if meta.sources == [""]:
        n_bands = sum(len(s.bands) if s.bands is not None else band_count(s.path) for s in srcs)
        meta.check_band_count(n_bands)
        readers = [BandReader(s.path, b, "The input raster") for s in srcs
                   for b in (s.bands if s.bands is not None else range(1, band_count(s.path) + 1))]
    else:  # the rasters the metadata declares, one per source, onto the first one's grid (see .sources)
        readers = source_readers(meta, [s.path for s in srcs], bands)
    px = pixel_size_m(grid)
    if check_pixel_size:
        meta.check_pixel_size(px)
    progress.info(f"Model '{meta.name}' v{meta.version} ({meta.task}) on {model.backend_label} "
                  f"[{model.backend.reason}]; input {grid.describe()}, {px:.3g} m pixels.")

    tile_grid = tile_grid_for(meta, grid.shape, overlap)
    if tile_grid.margin < meta.context_px:
        progress.warn(f"Tile overlap {tile_grid.overlap} px is below twice the model's receptive-field context "
                      f"({meta.context_px} px): tile seams of up to a few tenths in probability may show; "
                      f"use an overlap of at least {2 * meta.context_px} px.")
    blocks = [inner for inner, _ in iter_blocks(grid.shape, tile_grid.block_size(tiles_per_block))]
    tta = uncertainty_path is not None
    blender = _Blender(model, tile_grid, batch_size, blend, blocks, tta=tta)
    total = blender.tiles_total
    done = [0]

    def on_batch(n):
        done[0] += n
        progress.update(done[0] / max(1, total))

    stretch = _check_value_range(meta, readers, grid)

    def read(win):
        data = np.stack([r.read(grid, win) for r in readers])
        if stretch is not None:
            vr = meta.value_range
            for b, (lo, hi) in enumerate(stretch):
                data[b] = np.clip((data[b] - lo) / max(hi - lo, 1e-12) * (vr.max - vr.min) + vr.min, vr.min, vr.max)
        return data

    tags = {"SERAC_MODEL": meta.name, "SERAC_MODEL_VERSION": meta.version, "SERAC_TASK": meta.task,
            "SERAC_BACKEND": model.backend_label, "SERAC_THRESHOLD": meta.threshold,
            "SERAC_CLASSES": ",".join(meta.classes)}
    start = time.perf_counter()
    n_valid = 0
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(RasterWriter(
            output_path, grid, count=meta.n_outputs, dtype="float32", nodata=float("nan"),
            band_names=[f"p_{n}" for n in meta.output_names], tags=tags))
        class_writer = stack.enter_context(RasterWriter(
            class_path, grid, count=1, dtype="uint8", nodata=CLASS_NODATA, band_names=["class"],
            tags=tags)) if class_path else None
        unc_writer = stack.enter_context(RasterWriter(
            uncertainty_path, grid, count=1, dtype="float32", nodata=float("nan"), band_names=[UNCERTAINTY_BAND],
            tags=dict(tags, SERAC_UNCERTAINTY="test-time augmentation spread (std, probability)"))) if tta else None
        for inner in blocks:
            probs, valid = blender.run(read, inner, on_batch)
            n_valid += valid
            if tta:
                unc_writer.write(probs[-1:], inner)
                probs = probs[:-1]
            writer.write(probs, inner)
            if class_writer is not None:
                class_writer.write(classify(probs, meta)[None], inner)
        if blender.tiles_run == 0:
            raise AllNoDataError("Every tile of the input is nodata; nothing to segment.",
                                 "check the input raster's nodata value and the bands selected.")
    seconds = time.perf_counter() - start
    run = SegmentationRun(str(output_path), str(class_path) if class_path else None, meta.name,
                          model.backend_label, meta.output_names, grid.shape, total, blender.tiles_run,
                          blender.tiles_nodata, seconds, n_valid / float(grid.width * grid.height),
                          extra={"overlap_px": tile_grid.overlap, "margin_px": tile_grid.margin,
                                 "uncertainty_path": str(uncertainty_path) if tta else None})
    progress.info(run.summary())
    return run


__all__ = ["segment_raster", "predict_array", "predict_tiles", "tile_grid_for", "classify", "pixel_size_m",
           "InputSource", "SegmentationRun", "CLASS_NODATA", "UNCERTAINTY_BAND"]
