"""Training data for the segmentation models: scenes, labels, spatial hold-out, random tiles.

* :func:`load_scene` — stack the bands of one or more co-registered rasters (NaN = nodata).
* :func:`load_labels` — labels on the scene's grid from an outline layer (vector file or
  GeoJSON geometries, rasterised: 1 inside, 0 outside), a line layer (e.g. reviewed fracture
  lines, buffered to a width in m) or a label raster (class values, nearest-neighbour);
  255 = unknown (ignored by the loss).
* :func:`split_holdout` — a spatially held-out block (e.g. ``"right:0.25"``: the right-most
  25 % of columns) separated from the training area by a gap, so no training tile sees
  the held-out pixels.
* :class:`TileSampler` — random training tiles lying entirely in the training area, with
  flips and 90-degree rotations.
* :func:`normalization_from_data` — per-band mean/std for the model metadata.
"""

import numpy as np

from ..core.errors import InputError
from ..core.raster_io import rasterize_geometries, read_grid, read_on_grid
from ..core.vector_io import read_geometries

IGNORE = 255
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".gml", ".kml", ".sqlite", ".fgb")


def load_scene(sources):
    """(image (bands, rows, cols) float32 with NaN nodata, grid) from ``[(path, bands or None), ...]``."""
    sources = [(s, None) if isinstance(s, str) else tuple(s) for s in sources]
    grid = read_grid(sources[0][0])
    parts = [read_on_grid(path, grid, bands=bands).data for path, bands in sources]
    return np.concatenate(parts, axis=0).astype(np.float32), grid


def is_line(geometry):
    """True for a (Multi)LineString geometry (line labels, e.g. reviewed fracture lines)."""
    return bool(geometry) and geometry.get("type") in ("LineString", "MultiLineString")


def burn_labels(geometries, grid, line_width_m=0.0):
    """0/1 labels on ``grid``: polygons filled; lines burnt along every pixel they touch and widened to
    ``line_width_m`` (m, full width: pixels within half of it from the line; 0 = the touched pixels only)."""
    from scipy import ndimage

    polygons = [g for g in geometries if g and not is_line(g)]
    lines = [g for g in geometries if is_line(g)]
    out = rasterize_geometries(polygons, grid).astype(np.uint8)
    if lines:
        burnt = rasterize_geometries(lines, grid, all_touched=True).astype(bool)
        if line_width_m > 0 and burnt.any():
            px = abs(grid.res[0])
            if grid.crs is not None and grid.crs.linear_units_factor:
                px *= grid.crs.linear_units_factor[1]
            burnt = ndimage.distance_transform_edt(~burnt) * px <= line_width_m / 2.0
        out[burnt] = 1
    return out


def load_labels(labels, grid, valid=None, line_width_m=0.0):
    """uint8 labels on ``grid``: from a vector path / list of GeoJSON geometries (0/1; polygons filled, lines
    buffered to ``line_width_m``, see :func:`burn_labels`) or a label raster."""
    vector = isinstance(labels, (list, tuple)) or str(labels).lower().endswith(VECTOR_SUFFIXES)
    if isinstance(labels, (list, tuple)):
        out = burn_labels(labels, grid, line_width_m)
    elif vector:
        out = burn_labels(read_geometries(labels, target_crs=grid.crs), grid, line_width_m)
    else:
        data = read_on_grid(labels, grid, bands=1, resampling="nearest").data[0]
        out = np.where(np.isfinite(data), data, IGNORE).astype(np.uint8)
    if valid is not None:
        out[~valid] = IGNORE
    if not (out != IGNORE).any() or (vector and not (out == 1).any()):
        raise InputError("The reference outlines (or lines) do not cover any valid pixel of the raster.",
                         "check that the label layer overlaps the raster and has the right CRS.")
    return out


def split_holdout(shape, spec="right:0.25", gap_px=16):
    """(train_mask, test_mask) for a held-out block ``side:fraction`` (side: left/right/top/bottom).

    ``gap_px`` pixels between the two belong to neither.
    """
    try:
        side, frac = spec.split(":")
        frac = float(frac)
    except ValueError:
        raise InputError(f"Hold-out '{spec}' is not of the form side:fraction.", "use e.g. 'right:0.25'.") from None
    if side not in ("left", "right", "top", "bottom") or not 0 < frac < 1:
        raise InputError(f"Hold-out '{spec}' is invalid.", "side is left/right/top/bottom, fraction in (0, 1).")
    rows, cols = shape
    train = np.zeros(shape, bool)
    test = np.zeros(shape, bool)
    n = cols if side in ("left", "right") else rows
    k = int(round(n * frac))
    if side == "right":
        test[:, n - k:] = True
        train[:, :max(0, n - k - gap_px)] = True
    elif side == "left":
        test[:, :k] = True
        train[:, k + gap_px:] = True
    elif side == "bottom":
        test[n - k:] = True
        train[:max(0, n - k - gap_px)] = True
    else:
        test[:k] = True
        train[k + gap_px:] = True
    return train, test


def normalization_from_data(image, mask, clip=6.0):
    """Per-band mean/std (mean_std normalisation dict) over finite pixels in ``mask``."""
    means, stds = [], []
    for band in image:
        v = band[mask & np.isfinite(band)]
        if v.size == 0:
            raise InputError("The training area holds no valid pixel.", "check the raster's nodata and the labels.")
        means.append(round(float(v.mean()), 4))
        stds.append(round(max(float(v.std()), 1e-6), 4))
    return {"method": "mean_std", "mean": means, "std": stds, "clip": [-clip, clip]}


def _window_sums(mask, size):
    """Number of True pixels in every size x size window, indexed by its top-left corner."""
    s = np.pad(np.cumsum(np.cumsum(mask.astype(np.int64), 0), 1), ((1, 0), (1, 0)))
    return s[size:, size:] - s[:-size, size:] - s[size:, :-size] + s[:-size, :-size]


class TileSampler:
    """Random ``tile_size`` tiles lying entirely inside ``region`` (bool), with augmentation.

    ``x`` (bands, rows, cols), ``labels`` and ``region`` may also be lists (one entry per
    scene); tiles are then drawn from all scenes.
    """

    def __init__(self, x, labels, region, tile_size, rng, min_labelled=0.5, jitter=0.0):
        self.xs = list(x) if isinstance(x, (list, tuple)) else [x]
        self.labels = list(labels) if isinstance(labels, (list, tuple)) else [labels]
        regions = list(region) if isinstance(region, (list, tuple)) else [region]
        self.tile = int(tile_size)
        self.rng = rng
        self.jitter = float(jitter)
        origins = []
        for i, (lab, reg) in enumerate(zip(self.labels, regions)):
            if min(lab.shape) < self.tile:
                continue
            inside = _window_sums(reg, self.tile) == self.tile ** 2
            labelled = _window_sums(lab != IGNORE, self.tile) >= min_labelled * self.tile ** 2
            rc = np.argwhere(inside & labelled)
            origins.append(np.column_stack([np.full(len(rc), i), rc]))
        self.origins = np.concatenate(origins) if origins else np.zeros((0, 3), int)
        if len(self.origins) == 0:
            raise InputError(f"The training area has no {self.tile}x{self.tile} px window with enough labels.",
                             "use a larger raster or training area, or a smaller tile size.")

    def sample(self, n):
        """(x (n, bands, t, t) float32, y (n, t, t) uint8) with random flips / 90-degree rotations.

        With ``jitter`` > 0 each tile's bands also get a random gain (1 + N(0, jitter)) and
        offset (N(0, jitter), normalised units): robustness to illumination and calibration.
        """
        idx = self.rng.integers(0, len(self.origins), n)
        xs, ys = [], []
        t = self.tile
        for i, r, c in self.origins[idx]:
            x = self.xs[i][:, r:r + t, c:c + t]
            y = self.labels[i][r:r + t, c:c + t]
            k = int(self.rng.integers(0, 4))
            x, y = np.rot90(x, k, axes=(1, 2)), np.rot90(y, k)
            if self.rng.random() < 0.5:
                x, y = x[:, :, ::-1], y[:, ::-1]
            if self.jitter > 0:
                nb = x.shape[0]
                x = x * (1 + self.rng.normal(0, self.jitter, (nb, 1, 1))) + self.rng.normal(0, self.jitter, (nb, 1, 1))
            xs.append(np.ascontiguousarray(x))
            ys.append(np.ascontiguousarray(y))
        return np.stack(xs).astype(np.float32), np.stack(ys)
