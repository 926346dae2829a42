"""A crevasse and fracture map of one image, block by block: response, lines, density, orientation.

Two passes, both in blocks of about ``block`` px (a multiple of the density window), so memory is
bounded whatever the image size:

1. the response: the directional filter bank (:func:`filter_bank_response`, blocks read with a margin
   so the result does not depend on the block size) or a segmentation model through the plugin's
   tiled, blended inference (:func:`model_probability`); outside the optional glacier outlines the
   response is NaN and blocks with no glacier pixel are not computed;
2. :func:`lines_and_density`: threshold, thinning, tracing and measuring of the lines
   (:mod:`.lines`), and per-window density and orientation (:mod:`.density`). Lines are traced within
   each block, so a line crossing a block edge is split there (blocks are 2048 px by default).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import AllNoDataError
from ..masks import glacier_mask, mask_raster
from ..progress import as_progress
from ..raster_io import RasterWriter, iter_blocks, read_grid, read_raster
from .density import DENSITY_BANDS, ORIENTATION_BANDS, block_density, density_grid
from .filterbank import filter_block
from .lines import chain_properties, line_features, thin, trace_chains

RESPONSE_BANDS = ("response", "orientation_deg", "wavelength_m", "line_response")


@dataclass
class LineSummary:
    """What the line pass found: features and the numbers a user reads."""

    features: list
    total_length_km: float
    fracture_fraction: float
    mean_density: float
    dominant_orientation_deg: float
    notes: list = field(default_factory=list)


def aligned_block(block, cell_px):
    """``block`` rounded to a whole number of density cells (px)."""
    return max(1, int(round(block / cell_px))) * cell_px


def _outline_mask(outlines, grid, window):
    """Bool mask of the window inside the outlines (None: no outlines, everything counts)."""
    if outlines is None:
        return None
    return glacier_mask(outlines, grid.window_grid(window)).astype(bool)


def _read_padded(path, band, grid, inner, outer, margin):
    """The block ``outer`` of band ``band``, reflect-padded to ``margin`` px around ``inner`` at image edges."""
    data = read_raster(path, bands=band, window=outer).data[0]
    top = margin - int(inner.row_off - outer.row_off)
    left = margin - int(inner.col_off - outer.col_off)
    bottom = margin - int(outer.row_off + outer.height - inner.row_off - inner.height)
    right = margin - int(outer.col_off + outer.width - inner.col_off - inner.width)
    pads = ((top, bottom), (left, right))
    if any(p for pair in pads for p in pair):
        data = np.pad(data, pads, mode="symmetric")
    return data


def filter_bank_response(path, out_path, bank, pixel_size_m, band=1, outlines=None, block=2048, threads=None,
                         polarity="dark", threshold=None, feedback=None):
    """Write the filter-bank response, orientation (deg), wavelength (m) and line response (the response on
    crevasse centre lines of ``polarity``, tested where the response >= ``threshold``) of band ``band`` to
    ``out_path`` (:data:`RESPONSE_BANDS`). Returns the fraction of pixels computed (valid, inside the outlines).
    """
    progress = as_progress(feedback)
    grid = read_grid(path)
    margin = bank.margin_px
    blocks = list(iter_blocks(grid.shape, block, overlap=margin))
    n_valid = 0
    tags = {"SERAC_PRODUCT": "fracture_response", "SERAC_METHOD": "filter bank",
            "SERAC_WAVELENGTHS_M": ",".join(f"{w * pixel_size_m:.4g}" for w in bank.wavelengths_px),
            "SERAC_ORIENTATIONS": bank.orientations}
    with RasterWriter(out_path, grid, count=4, dtype="float32", band_names=list(RESPONSE_BANDS), tags=tags) as w:
        for i, (inner, outer) in enumerate(blocks):
            h, wd = int(inner.height), int(inner.width)
            inside = _outline_mask(outlines, grid, inner)
            out = np.full((4, h, wd), np.nan, np.float32)
            if inside is None or inside.any():
                data = _read_padded(path, band, grid, inner, outer, margin)
                response, orientation, wavelength, lines = filter_block(data, bank, threads, polarity, threshold)
                crop = (slice(margin, margin + h), slice(margin, margin + wd))
                out = np.stack([response[crop], orientation[crop], wavelength[crop] * pixel_size_m, lines[crop]])
                if inside is not None:
                    out[:, ~inside] = np.nan
                n_valid += int(np.isfinite(out[0]).sum())
            w.write(out, inner)
            progress.update((i + 1) / len(blocks))
        if n_valid == 0:
            raise AllNoDataError("No valid pixel of the image lies inside the glacier outlines."
                                 if outlines is not None else "The image holds no valid pixel.",
                                 "check the image's nodata value, the band and the outlines' extent.")
    return n_valid / float(grid.width * grid.height)


def model_probability(path, model, out_path, band=1, outlines=None, scratch=None, batch_size=8, feedback=None):
    """Run a fracture model over band ``band`` (tiled, blended inference); outside the outlines is no data and
    not computed (a masked copy of the image is segmented). Returns the SegmentationRun."""
    from ..segmentation import segment_raster

    progress = as_progress(feedback)
    source = path
    if outlines is not None:
        source = os.path.join(scratch, "inside_outlines.tif")
        mask_raster(path, source, outlines, keep="inside", feedback=progress.sub(0.0, 0.1))
    return segment_raster(source, model, out_path, bands=[band], batch_size=batch_size,
                          feedback=progress.sub(0.1 if outlines is not None else 0.0, 1.0))


def lines_and_density(response_path, threshold, cell_px, pixel_size_m, min_length_m=0.0, method="",
                      density_path=None, orientation_path=None, block=2048, band=1, feedback=None):
    """Fracture lines (features) from band ``band`` of ``response_path`` (a probability, or the filter bank's
    line response) and, if paths are given, the density and orientation rasters (:mod:`.density`).
    Returns a :class:`LineSummary`."""
    progress = as_progress(feedback)
    grid = read_grid(response_path)
    block = aligned_block(block, cell_px)
    cells = density_grid(grid, cell_px)
    blocks = list(iter_blocks(grid.shape, block))
    features = []
    above_px = valid_px = 0
    vec = 0j
    total_m = 0.0
    dens_sum = dens_n = 0.0
    with _writer(density_path, cells, DENSITY_BANDS, "fracture_density") as dw, \
            _writer(orientation_path, cells, ORIENTATION_BANDS, "fracture_orientation") as ow:
        for i, (inner, _) in enumerate(blocks):
            response = read_raster(response_path, bands=band, window=inner).data[0]
            valid = np.isfinite(response)
            above = valid & (np.nan_to_num(response) >= threshold)
            chains = [chain_properties(r, c, pixel_size_m) for r, c in trace_chains(thin(above))]
            chains = [ch for ch in chains if ch.length_m >= min_length_m and len(ch.rows) >= 2]
            features += line_features(chains, grid, response, method, min_length_m, int(inner.row_off),
                                      int(inner.col_off))
            dens, orient = block_density(chains, above, valid, cell_px, pixel_size_m)
            cell_win = (int(inner.col_off) // cell_px, int(inner.row_off) // cell_px, dens.shape[2], dens.shape[1])
            if dw is not None:
                dw.write(dens, cell_win)
            if ow is not None:
                ow.write(orient, cell_win)
            above_px += int(above.sum())
            valid_px += int(valid.sum())
            for ch in chains:
                total_m += ch.length_m
                vec += ch.length_m * np.exp(2j * math.radians(ch.orientation_deg))
            finite = np.isfinite(dens[0])
            dens_sum += float(dens[0][finite].sum())
            dens_n += int(finite.sum())
            progress.update((i + 1) / len(blocks))
    features.sort(key=lambda f: -f["properties"]["length_m"])
    for k, f in enumerate(features, start=1):
        f["properties"]["id"] = k
    orientation = float(np.mod(np.degrees(np.angle(vec)) / 2.0, 180.0)) if total_m > 0 else float("nan")
    return LineSummary(features, total_m / 1000.0, above_px / valid_px if valid_px else float("nan"),
                       dens_sum / dens_n if dens_n else float("nan"), orientation)


class _NoWriter:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _writer(path, grid, bands, product):
    if not path:
        return _NoWriter()
    return RasterWriter(path, grid, count=len(bands), dtype="float32", band_names=list(bands),
                        tags={"SERAC_PRODUCT": product})


def throughput(shape, seconds):
    """Megapixels per second of a run over ``shape`` (rows, cols)."""
    return shape[0] * shape[1] / 1e6 / seconds if seconds > 0 else float("nan")


__all__ = ["filter_bank_response", "model_probability", "lines_and_density", "LineSummary", "RESPONSE_BANDS",
           "aligned_block", "throughput"]
