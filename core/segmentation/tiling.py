"""Scene-wide tile grid with overlap, and the weights that blend overlapping tiles.

Tiles of ``tile_size`` px start every ``stride = tile_size - overlap`` px; the last tile on
each axis is shifted back to end at the scene edge (so no tile reaches outside a scene at
least one tile large). The grid is defined on the whole scene, not per processing block:
a block computes every tile that touches it and keeps only its own pixels, so the result
does not depend on the block size (at the cost of computing tiles on block borders twice).

Blending: each tile's prediction is weighted by :func:`blend_weights`, which ramps from
almost 0 at the tile edge to 1 over ``overlap`` px. With the cosine ramp, the weights of
two tiles overlapping by exactly ``overlap`` px sum to 1 (sin^2 + cos^2), so predictions
cross-fade without seams; the blended value is sum(w * p) / sum(w).
"""

import math
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from ..errors import InvalidSetting

BLEND_KINDS = ("cosine", "linear", "none")


def axis_starts(length, tile_size, stride):
    """Start offsets (px) of tiles covering ``length`` px; the last is aligned with the end."""
    if length <= tile_size:
        return [0]
    starts = list(range(0, length - tile_size + 1, stride))
    if starts[-1] + tile_size < length:
        starts.append(length - tile_size)
    return starts


def blend_weights(tile_size, overlap, kind="cosine", floor=1e-3):
    """(tile_size, tile_size) float32 weights ramping up over ``overlap`` px at every edge.

    ``kind``: ``cosine`` (sin^2 ramp, partition of unity between neighbours), ``linear``
    or ``none`` (all ones). ``floor`` keeps edge weights positive so pixels covered by a
    single tile (scene edges) are still defined.
    """
    if kind not in BLEND_KINDS:
        raise InvalidSetting(f"Unknown blend kind {kind!r}.", f"use one of {BLEND_KINDS}.")
    w = np.ones(tile_size, dtype=np.float64)
    if overlap > 0 and kind != "none":
        t = (np.arange(overlap) + 0.5) / overlap
        ramp = np.sin(0.5 * math.pi * t) ** 2 if kind == "cosine" else t
        w[:overlap] = ramp
        w[tile_size - overlap:] = ramp[::-1]
    w = np.maximum(w, floor)
    return np.outer(w, w).astype(np.float32)


@dataclass(frozen=True)
class Tile:
    """One tile: top-left (row, col) in scene px and its size (may exceed a small scene)."""

    row: int
    col: int
    size: int

    @property
    def window(self):
        return Window(self.col, self.row, self.size, self.size)


class TileGrid:
    """The tiles covering a (rows, cols) scene with ``tile_size`` px tiles overlapping by ``overlap`` px."""

    def __init__(self, shape, tile_size, overlap):
        if tile_size <= 0 or not 0 <= 2 * overlap < tile_size:
            raise InvalidSetting(f"Tile size {tile_size} px with overlap {overlap} px cannot tile a scene.",
                                 "use a tile size > 0 and 0 <= overlap < tile size / 2.")
        self.shape = tuple(int(s) for s in shape)
        self.tile_size = int(tile_size)
        self.overlap = int(overlap)
        self.stride = self.tile_size - self.overlap
        self.row_starts = axis_starts(self.shape[0], self.tile_size, self.stride)
        self.col_starts = axis_starts(self.shape[1], self.tile_size, self.stride)

    def __len__(self):
        return len(self.row_starts) * len(self.col_starts)

    def __iter__(self):
        for r in self.row_starts:
            for c in self.col_starts:
                yield Tile(r, c, self.tile_size)

    def tiles_in(self, window):
        """Tiles that intersect ``window`` (a rasterio Window in scene px), row-major."""
        r0, c0 = int(window.row_off), int(window.col_off)
        r1, c1 = r0 + int(window.height), c0 + int(window.width)
        rows = [r for r in self.row_starts if r < r1 and r + self.tile_size > r0]
        cols = [c for c in self.col_starts if c < c1 and c + self.tile_size > c0]
        return [Tile(r, c, self.tile_size) for r in rows for c in cols]

    def block_size(self, tiles_per_block):
        """An inner block size (px) aligned with the tile stride."""
        return max(1, int(tiles_per_block)) * self.stride


def bounding_window(tiles, shape, window=None):
    """Smallest window of the scene (clipped to ``shape``) holding all ``tiles`` (and ``window``)."""
    boxes = [(t.row, t.col, t.row + t.size, t.col + t.size) for t in tiles]
    if window is not None:
        r, c = int(window.row_off), int(window.col_off)
        boxes.append((r, c, r + int(window.height), c + int(window.width)))
    r0 = max(0, min(b[0] for b in boxes))
    c0 = max(0, min(b[1] for b in boxes))
    r1 = min(shape[0], max(b[2] for b in boxes))
    c1 = min(shape[1], max(b[3] for b in boxes))
    return Window(c0, r0, c1 - c0, r1 - r0)


def extract_tile(array, tile, origin, fill):
    """The ``tile`` (scene px) cut from ``array`` (bands, rows, cols) whose top-left is ``origin``.

    Parts of the tile outside ``array`` (only when the scene is smaller than a tile) are
    set to ``fill``.
    """
    bands, rows, cols = array.shape
    out = np.full((bands, tile.size, tile.size), fill, dtype=array.dtype)
    r0, c0 = tile.row - origin[0], tile.col - origin[1]
    rr = slice(max(r0, 0), min(r0 + tile.size, rows))
    cc = slice(max(c0, 0), min(c0 + tile.size, cols))
    out[:, rr.start - r0:rr.stop - r0, cc.start - c0:cc.stop - c0] = array[:, rr, cc]
    return out


def accumulate(acc, wsum, prediction, weights, tile, window):
    """Add ``weights * prediction`` of ``tile`` into ``acc``/``wsum`` covering ``window`` (scene px).

    ``acc`` is (k, window rows, window cols), ``wsum`` (window rows, window cols); only the
    part of the tile inside the window (and inside the scene) is added.
    """
    w_r0, w_c0 = int(window.row_off), int(window.col_off)
    r0 = max(tile.row, w_r0)
    c0 = max(tile.col, w_c0)
    r1 = min(tile.row + tile.size, w_r0 + acc.shape[1])
    c1 = min(tile.col + tile.size, w_c0 + acc.shape[2])
    if r1 <= r0 or c1 <= c0:
        return
    tr = slice(r0 - tile.row, r1 - tile.row)
    tc = slice(c0 - tile.col, c1 - tile.col)
    ar = slice(r0 - w_r0, r1 - w_r0)
    ac = slice(c0 - w_c0, c1 - w_c0)
    w = weights[tr, tc]
    acc[:, ar, ac] += prediction[:, tr, tc] * w
    wsum[ar, ac] += w
