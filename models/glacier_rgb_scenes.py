"""The two real scenes of the glacier_rgb models (Landsat 7 and Sentinel-2 true colour of Everest at 30 m), their
RGI labels and regions (training area, held-out block). No torch: the shipped model's card figures are checked on
them where torch is not installed (see models/train_glacier_rgb.py for the training)."""

import dataclasses
import os

import numpy as np

from ..core.errors import InputError
from ..core.raster_io import RasterGrid, read_raster
from .datasets import load_labels

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(os.path.dirname(HERE), "..", "shared", "data", "optical")
LANDSAT = os.path.join(SHARED, "everest_landsat", "LE71400412000304SGS00_RGB.tif")
RGI = os.path.join(SHARED, "everest_landsat", "15_rgi60_glacier_outlines.gpkg")
SENTINEL2 = os.path.join(SHARED, "khumbu_s2",
                         "S2B_MSIL1C_20200407T044659_N0209_R076_T45RVL_20200407T082519_Visual_clip.tif")
V1 = os.path.join(HERE, "glacier_landsat_v1.onnx")
PIXEL_SIZE_M = 30.0
#: held-out ground on both scenes: pixel centres with x below this (m, EPSG:32645)
HOLDOUT_X_M = 484000.0
#: training pixel centres lie at least this far east of the held-out block (m; 16 px)
GAP_M = 480.0
SENSOR = ("8-bit true colour: Landsat 7 ETM+ bands 3/2/1 DN, or Sentinel-2 L1C true-colour visual product (TCI) "
          "averaged to 30 m")


@dataclasses.dataclass
class Scene:
    """One training / test scene: raw 8-bit values (bands, rows, cols; NaN = nodata), its grid, labels
    (0/1, 255 unknown) and the regions: training area, held-out block, and the held-out block's top half
    (temperature fit) and bottom half (calibration error)."""

    name: str
    title: str
    image: np.ndarray
    grid: RasterGrid
    labels: np.ndarray
    train: np.ndarray
    test: np.ndarray
    fit: np.ndarray
    report: np.ndarray


def load_sentinel2_30m(path=SENTINEL2):
    """(rgb (3, rows, cols) float32 8-bit values, NaN = nodata, 30 m grid): the 10 m TCI clip averaged over
    3 x 3 pixels and rounded (a 30 m pixel is nodata if any of its nine is: alpha 0 or a 0 in a band)."""
    r = read_raster(path, bands=[1, 2, 3, 4])
    t = r.grid.transform
    lattice = read_raster(LANDSAT, bands=[1]).grid.transform
    if abs(t.a - 10) > 1e-6 or abs(t.e + 10) > 1e-6 or (t.c - lattice.c) % PIXEL_SIZE_M or \
            (lattice.f - t.f) % PIXEL_SIZE_M:
        raise InputError("The Sentinel-2 clip is not on the 10 m grid of the Landsat scene's 30 m lattice.",
                         "use the clip of ../shared/data/optical/khumbu_s2 as distributed.")
    rows, cols = r.grid.height // 3, r.grid.width // 3
    blocks = r.data[:, :rows * 3, :cols * 3].reshape(4, rows, 3, cols, 3)
    valid = np.all(blocks[3] == 255, axis=(1, 3)) & np.all(blocks[:3] > 0, axis=(0, 2, 4))
    rgb = np.round(blocks[:3].mean(axis=(2, 4))).astype(np.float32)
    rgb[:, ~valid] = np.nan
    grid = RasterGrid(r.grid.crs, type(t)(PIXEL_SIZE_M, 0, t.c, 0, -PIXEL_SIZE_M, t.f), cols, rows)
    return rgb, grid


def _scene(name, title, image, grid):
    valid = np.all(np.isfinite(image) & (image != 0), axis=0)
    image = np.where(valid, image, np.nan).astype(np.float32)
    labels = load_labels(RGI, grid, valid)
    x = grid.xy(np.zeros(grid.width), np.arange(grid.width))[0]
    test = np.broadcast_to(x < HOLDOUT_X_M, grid.shape).copy()
    train = np.broadcast_to(x >= HOLDOUT_X_M + GAP_M, grid.shape).copy()
    top = np.zeros(grid.shape, bool)
    top[:(grid.height + 1) // 2] = True
    return Scene(name, title, image, grid, labels, train, test, test & top, test & ~top)


def load_scenes():
    """The Landsat 7 scene and the Sentinel-2 clip at 30 m, with labels and regions (see the module)."""
    landsat = read_raster(LANDSAT)
    return [_scene("landsat7_2000", "Landsat 7 ETM+ 2000-10-30 (8-bit DN, 30 m)", landsat.data, landsat.grid),
            _scene("sentinel2_2020", "Sentinel-2B TCI 2020-04-07 (8-bit, 10 m averaged to 30 m)",
                   *load_sentinel2_30m())]
