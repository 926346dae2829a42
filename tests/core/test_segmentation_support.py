"""Shared helpers for the segmentation tests (no tests here).

Tiny randomly initialised U-Nets exported to ONNX in a temporary folder (cached per test
session), metadata dicts, and small synthetic rasters.
"""

import copy
import functools
import os
import tempfile

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from serac.core import raster_io as rio

BASE_METADATA = {
    "schema_version": 1,
    "name": "tiny_test",
    "version": "0.0.1",
    "task": "glacier_extent",
    "description": "randomly initialised test network",
    "input": {
        "bands": [{"name": "red"}, {"name": "green"}, {"name": "blue"}],
        "normalization": {"method": "mean_std", "mean": [120.0, 120.0, 120.0], "std": [60.0, 60.0, 60.0]},
        "nodata": {"values": [], "fill": 0.0},
        "pixel_size_m": 30.0,
        "pixel_size_tolerance": 0.5,
    },
    "tiling": {"tile_size": 32, "overlap": 8, "size_multiple": 4},
    "output": {"activation": "sigmoid", "classes": ["background", "glacier"], "positive_class": "glacier",
               "threshold": 0.5},
    "training": {"data": "none (random weights)"},
}

ZONES_METADATA = copy.deepcopy(BASE_METADATA)
ZONES_METADATA.update(name="tiny_zones", task="calving_front_zones")
ZONES_METADATA["input"]["bands"] = [{"name": "sigma0_hh", "units": "dB"}]
ZONES_METADATA["input"]["normalization"] = {"method": "offset_scale", "offset": [-12.0], "scale": [5.0]}
ZONES_METADATA["output"] = {"activation": "softmax", "classes": ["glacier", "ocean", "rock"],
                            "positive_class": "glacier", "threshold": 0.5, "front": ["glacier", "ocean"]}


def metadata(**changes):
    """A deep copy of :data:`BASE_METADATA` with dotted-path changes, e.g. ``{"tiling.overlap": 20}``."""
    d = copy.deepcopy(BASE_METADATA)
    for key, value in changes.items():
        *path, last = key.split("__")
        node = d
        for p in path:
            node = node[p]
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
    return d


_TMP = tempfile.mkdtemp(prefix="serac-seg-tests-")


@functools.lru_cache(maxsize=None)
def tiny_model(kind="glacier", seed=0):
    """Path of a tiny random U-Net exported to ONNX (cached); kind 'glacier' (3 bands, sigmoid) or 'zones'."""
    import torch

    from serac.models.export_onnx import export_onnx
    from serac.models.unet import UNet

    torch.manual_seed(seed)
    meta = BASE_METADATA if kind == "glacier" else ZONES_METADATA
    n_in = len(meta["input"]["bands"])
    n_out = 1 if meta["output"]["activation"] == "sigmoid" else len(meta["output"]["classes"])
    net = UNet(n_in, n_out, base_channels=4, depth=2)
    with torch.no_grad():  # non-trivial batch-norm statistics so that folding them is tested
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    path = os.path.join(_TMP, f"{kind}_{seed}.onnx")
    export_onnx(net, meta, path)
    return path


def make_grid(width, height, res=30.0, x0=478000.0, y0=3108140.0, epsg=32645):
    return rio.RasterGrid(CRS.from_epsg(epsg), Affine(res, 0, x0, 0, -res, y0), width, height)


def write_image(path, width=150, height=110, bands=3, res=30.0, seed=0, dtype="uint8", nodata=None, crs=True):
    """A smooth random image (bands, rows, cols) written to ``path``; returns (data, grid)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    data = np.stack([100 + 80 * np.sin(xx / (7.0 + b) + rng.uniform(0, 6)) * np.cos(yy / (9.0 + b))
                     + rng.normal(0, 5, (height, width)) for b in range(bands)])
    data = np.clip(data, 1, 255).astype(dtype)
    grid = make_grid(width, height, res)
    if not crs:
        grid = rio.RasterGrid(None, grid.transform, width, height)
    rio.write_raster(path, data, grid, nodata=nodata, dtype=dtype, cog=False)
    return data, grid
