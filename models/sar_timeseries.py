"""Simulated Sentinel-1 time series on real terrain, and a time-series glacier model trained on it.

NO REAL LABELLED SENTINEL-1 TIME SERIES IS AVAILABLE HERE: ``../shared/data/sar`` holds one real
backscatter image (pyroSAR's VV scene of the Camargue, 2015, not glacier) and annotation files.
What this builds is a simulation on real ingredients, to show the time-series path end to end
(dated rasters -> training -> ONNX -> tiled inference on both backends), not a measured accuracy:

* terrain and labels: the real Longyearbyen (Svalbard) 20 m DEM and the glacier mask derived
  from the 1990 outlines (``../shared/data/dem/longyearbyen_partial``, Norwegian Polar Institute);
* dry backscatter: the real pyroSAR VV image (dB), mirror-tiled over the scene (its texture and
  value distribution are real; its geography is not glacier);
* the signal over time (after the wet-snow behaviour Maslov et al., IGARSS 2024, exploit with
  3D convolutions): every pixel gets wet snow (a 2-6 dB drop, :func:`serac.core.sar.synthetic.wet_drop_db`)
  from an onset that is later the higher it lies; snow on land melts off within weeks and the
  ground returns to its dry backscatter, while glacier pixels stay wet to the end of the series.
  Each date has independent speckle (4 looks) and a calibration offset
  (:func:`serac.core.sar.synthetic.melt_series`).

A single date cannot tell early-melting glacier from late snow on land; the sequence can. The
script trains a :class:`~serac.core.segmentation.unet.TemporalUNet` on the dated rasters and,
for comparison, a U-Net on the last date alone, with the same steps and held-out block.

    python -m models.sar_timeseries --output /tmp/sar_ts --steps 300
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("sar_timeseries")

import argparse
import os

import numpy as np

from ..core import raster_io as rio
from ..core.sar.synthetic import melt_series

SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
DEM = "dem/longyearbyen_partial/DEM_1995.tif"
MASK = "dem/longyearbyen_partial/glacier_mask_1990_derived.tif"
PYROSAR = "sar/pyrosar/S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"
#: the crop of the Longyearbyen grid used (row, col, rows, cols): valleys, glaciers and plateaus
CROP = (300, 400, 256, 384)
START, SPACING_DAYS, N_DATES = "2021-06-01", 12, 6
LOCAL_ANGLE_DEG = 39.0  # no incidence-angle band in the real image: a mid-swath local angle


def _tile_to(image, shape):
    """``image`` mirror-tiled (reflected copies) to cover ``shape``."""
    reps = (-(-shape[0] // image.shape[0]) + 1, -(-shape[1] // image.shape[1]) + 1)
    row = np.concatenate([image if i % 2 == 0 else image[:, ::-1] for i in range(reps[1])], axis=1)
    full = np.concatenate([row if i % 2 == 0 else row[::-1] for i in range(reps[0])], axis=0)
    return full[:shape[0], :shape[1]]


def melt_timing(dem, glacier, first_day, snow_off_days=(12, 30)):
    """(start, stop) day numbers of wet snow per pixel: onset from ``first_day`` (lowest pixels) to 40 days
    later (highest); land melts off ``snow_off_days`` after onset (the higher, the longer), glacier stays wet."""
    z = (dem - np.nanmin(dem)) / max(float(np.nanmax(dem) - np.nanmin(dem)), 1e-9)
    start = (first_day + 40.0 * z).astype(np.float32)
    stop = (start + snow_off_days[0] + (snow_off_days[1] - snow_off_days[0]) * z).astype(np.float32)
    stop[glacier] = np.float32(first_day + 1000)
    return start, stop


def build_scene(folder, shared_data=SHARED_DATA, crop=CROP, dates=None, seed=0, looks=4):
    """Write the dated VV rasters (dB, one per date, the date in the file name) and the label raster into
    ``folder``; returns (paths of the dated rasters oldest first, label path, dates)."""
    from rasterio.windows import Window

    from ..core.sar.melt import day_numbers

    os.makedirs(folder, exist_ok=True)
    r0, c0, h, w = crop
    window = Window(c0, r0, w, h)
    dem_raster = rio.read_raster(os.path.join(shared_data, DEM), window=window)
    grid = dem_raster.grid
    dem = dem_raster.data[0]
    glacier = rio.read_raster(os.path.join(shared_data, MASK), window=window).data[0] == 1
    real = rio.read_raster(os.path.join(shared_data, PYROSAR)).data[0]
    real = np.where(np.isfinite(real), real, np.nanmedian(real)).astype(np.float32)
    base = _tile_to(real, dem.shape).astype(np.float32)
    dates = np.arange(np.datetime64(START), np.datetime64(START) + N_DATES * SPACING_DAYS, SPACING_DAYS) \
        if dates is None else np.asarray(dates, dtype="datetime64[D]")
    period = melt_timing(dem, glacier, int(day_numbers(dates)[0]) - 10)
    theta = np.full(dem.shape, LOCAL_ANGLE_DEG, np.float32)
    paths = []
    for i, vv, _, _ in melt_series(base, dates, theta, period, looks=looks, seed=seed):
        name = str(dates[i]).replace("-", "")
        paths.append(os.path.join(folder, f"s1_sim_VV_{name}.tif"))
        rio.write_raster(paths[-1], vv[None], grid, band_names=[f"VV_{name}"], tags={"UNIT": "dB"}, cog=False)
    label_path = os.path.join(folder, "glacier_mask.tif")
    rio.write_raster(label_path, glacier.astype(np.uint8)[None], grid, nodata=255, dtype="uint8", cog=False)
    return paths, label_path, dates


def train_pair(paths, label_path, output, steps=300, seed=0, threads=2, tile_size=64, base_channels=8, depth=2,
               temporal_channels=8):
    """Train the time-series model on ``paths`` and a single-date U-Net on the last date; returns both
    :class:`~models.train.TrainResult` s (held-out IoU in ``.metrics['held_out']['iou']``)."""
    from .train import TrainConfig, train

    common = dict(labels=label_path, holdout="right:0.3", gap_px=8, tile_size=tile_size, inference_tile=128,
                  inference_overlap=32, base_channels=base_channels, depth=depth, steps=steps, batch_size=8,
                  seed=seed, threads=threads, device="cpu", band_names=["sigma0_vv"], sensor="Sentinel-1 (simulated)",
                  log_every=max(1, steps // 10),
                  provenance={"data": "SIMULATED S1 VV time series on the real Longyearbyen DEM and 1990 glacier "
                                      "mask, dry backscatter from the real pyroSAR VV image (see "
                                      "models/sar_timeseries.py); no real labelled S1 time series"})
    temporal = train(TrainConfig(rasters=list(paths), output=os.path.join(output, "sar_timeseries_sim.onnx"),
                                 name="sar_timeseries_sim", time={"dates": len(paths), "spacing_days": SPACING_DAYS,
                                                                  "spacing_tolerance_days": 3},
                                 temporal_channels=temporal_channels, **common))
    single = train(TrainConfig(rasters=[paths[-1]], output=os.path.join(output, "sar_single_date_sim.onnx"),
                               name="sar_single_date_sim", **common))
    return temporal, single


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", required=True, help="folder for the scene and the two models")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shared-data", default=SHARED_DATA)
    a = p.parse_args(argv)
    paths, labels, dates = build_scene(os.path.join(a.output, "scene"), a.shared_data, seed=a.seed)
    temporal, single = train_pair(paths, labels, a.output, a.steps, a.seed, a.threads)
    for what, r in (("time series (%d dates)" % len(dates), temporal), ("last date only", single)):
        m = r.metrics["held_out"]
        print(f"{what}: held-out IoU {m['iou']:.3f}, precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
              f"torch-ONNX max |diff| {r.torch_onnx_max_abs_diff:.2g}, {r.seconds:.0f} s")


if __name__ == "__main__":
    main()
