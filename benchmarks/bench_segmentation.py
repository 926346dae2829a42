"""Benchmark of deep-learning segmentation inference: throughput and peak memory per backend.

Cases (each in its own subprocess, so peak RSS is clean):

* ``onnxruntime-cpu`` / ``torch-cpu`` / ``torch-cuda`` (when a GPU is present): the shipped
  glacier model (models/glacier_landsat_v1.onnx) over an N x N px scene, via
  ``segment_raster`` (read, tile, blend, write a COG): wall time, Mpx/s, peak RSS.
* ``agreement``: max |p_onnxruntime - p_torch| over the whole scene.
* ``large``: a 10000 x 10000 px scene (quick: 4096 x 4096) on ONNX Runtime: peak RSS with
  GDAL's default block cache (5 % of RAM, which GDAL fills while writing the output).
* ``large_gdal_cache_256mb``: the same with ``GDAL_CACHEMAX=256`` (MB): what the engine itself
  needs, to be compared with the 381 MB a float32 copy of one band would take.
* ``onnxruntime-cpu-uncertainty`` / ``large_uncertainty_gdal_cache_256mb``: the N x N and the
  large scene with the uncertainty raster on (test-time augmentation: 4 runs per tile), to be
  compared with ``onnxruntime-cpu`` / ``large_gdal_cache_256mb`` (uncertainty off).

All cases use the model's default (seamless) tile overlap.

Scenes are mosaics of the real Landsat 7 RGB scene of Everest (mirrored copies), written
once to a temporary folder. Results go to benchmarks/results/segmentation.json.

    python benchmarks/bench_segmentation.py [--quick] [--model PATH]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _checkout  # noqa: F401 (benchmarks/ is on sys.path as the script folder; makes serac importable)
from _memory import machine_info, peak_rss_mb, write_result  # noqa: E402 (benchmarks/ is on sys.path as the script folder)
from _scenes import mirror_mosaic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
EVEREST_RGB = os.path.join(SHARED, "optical", "everest_landsat", "LE71400412000304SGS00_RGB.tif")
SAMPLE_RGB = os.path.join(ROOT, "resources", "sample_data", "segmentation", "everest_landsat_rgb_heldout.tif")
DEFAULT_MODEL = os.path.join(ROOT, "models", "glacier_landsat_v1.onnx")
RESULTS = os.path.join(ROOT, "benchmarks", "results", "segmentation.json")




def make_scene(path, size):
    """An N x N px, 3-band uint8 mosaic of mirrored copies of the real Everest RGB scene."""
    import numpy as np

    from serac.core import raster_io as rio

    src = rio.read_raster(EVEREST_RGB if os.path.exists(EVEREST_RGB) else SAMPLE_RGB)
    data = np.nan_to_num(src.data).astype("uint8")
    return mirror_mosaic(path, data, rio.RasterGrid(src.grid.crs, src.grid.transform, size, size), "uint8")


class _Clock:
    """Feedback that records the progress and cancels the run after ``limit`` s (None: never)."""

    def __init__(self, limit, start):
        self.limit, self.start, self.fraction = limit, start, 0.0

    def setProgress(self, percent):  # noqa: N802
        self.fraction = percent / 100.0

    def isCanceled(self):  # noqa: N802
        return self.limit is not None and time.perf_counter() - self.start > self.limit

    def pushInfo(self, text):  # noqa: N802
        pass

    pushWarning = pushInfo  # noqa: N815 (QGIS naming)


def run_case(case, scene, model_path, outdir, threads, time_limit=None):
    """Run one case in this process; returns a dict of measurements."""
    import numpy as np

    from serac.core.errors import Cancelled

    from serac.core import raster_io as rio
    from serac.core.segmentation import load_model, segment_raster

    backend = {"onnxruntime-cpu": "onnxruntime", "torch-cpu": "torch-cpu", "torch-cuda": "torch-cuda",
               "large": "onnxruntime", "large_gdal_cache_256mb": "onnxruntime"}.get(case, "onnxruntime")
    uncertainty = "uncertainty" in case
    if case == "agreement":
        a = os.path.join(outdir, "agree_ort.tif")
        b = os.path.join(outdir, "agree_torch.tif")
        segment_raster(scene, load_model(model_path, "onnxruntime", threads=threads), a)
        segment_raster(scene, load_model(model_path, "torch-cpu", threads=threads), b)
        pa, pb = rio.read_raster(a).data, rio.read_raster(b).data
        diff = np.abs(pa - pb)
        return {"max_abs_diff_probability": float(np.nanmax(diff)),
                "mean_abs_diff_probability": float(np.nanmean(diff)),
                "class_agreement": float(np.mean((pa >= 0.5) == (pb >= 0.5)))}
    model = load_model(model_path, backend, threads=threads)
    rss_loaded = peak_rss_mb()
    out = os.path.join(outdir, f"{case}.tif")
    t0 = time.perf_counter()
    clock = _Clock(time_limit, t0)
    try:
        run = segment_raster(scene, model, out, batch_size=8, tiles_per_block=8, feedback=clock,
                             uncertainty_path=os.path.join(outdir, f"{case}_uncertainty.tif") if uncertainty else None)
    except Cancelled:  # the time limit: throughput and peak memory of the part done (memory peaks in the first row)
        wall = time.perf_counter() - t0
        import rasterio

        with rasterio.open(scene) as ds:
            mpx = ds.width * ds.height / 1e6
        return {"partial": True, "time_limit_s": time_limit, "fraction_done": round(clock.fraction, 4),
                "uncertainty": uncertainty, "megapixels": round(mpx, 3), "wall_s": round(wall, 2),
                "mpx_per_s": round(mpx * clock.fraction / wall, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
                "rss_after_model_load_mb": round(rss_loaded, 1),
                "gdal_cachemax": os.environ.get("GDAL_CACHEMAX", "GDAL default (5 % of RAM)")}
    wall = time.perf_counter() - t0
    cuda_peak = None
    if backend == "torch-cuda":
        import torch

        cuda_peak = torch.cuda.max_memory_allocated() / 2 ** 20
    return {"backend": run.backend, "uncertainty": uncertainty, "overlap_px": run.extra.get("overlap_px"),
            "width": run.shape[1], "height": run.shape[0],
            "megapixels": round(run.megapixels, 3), "wall_s": round(wall, 2),
            "mpx_per_s": round(run.megapixels / wall, 3), "tiles": run.tiles_run,
            "peak_rss_mb": round(peak_rss_mb(), 1), "rss_after_model_load_mb": round(rss_loaded, 1),
            "cuda_peak_allocated_mb": None if cuda_peak is None else round(cuda_peak, 1),
            "float32_band_mb": round(run.shape[0] * run.shape[1] * 4 / 2 ** 20, 1),
            "output_mb": round(os.path.getsize(out) / 2 ** 20, 1),
            "gdal_cachemax": os.environ.get("GDAL_CACHEMAX", "GDAL default (5 % of RAM)")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small scenes (about a minute)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--time-limit", type=float, default=None,
                        help="stop each large case after this many s and report the part done (partial)")
    parser.add_argument("--cases", help="comma-separated subset of the cases to run (default: all)")
    parser.add_argument("--note", default="", help="a note stored with the results (e.g. machine load)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # child process
        print(json.dumps(run_case(args.case, args.scene, args.model, args.outdir, args.threads,
                                  args.time_limit if args.case.startswith("large") else None)))
        return 0

    size = 1024 if args.quick else 2048
    large = 4096 if args.quick else 10000
    with tempfile.TemporaryDirectory(prefix="serac-bench-seg-") as tmp:
        t0 = time.perf_counter()
        scene = make_scene(os.path.join(tmp, f"scene_{size}.tif"), size)
        big = make_scene(os.path.join(tmp, f"scene_{large}.tif"), large)
        prep = time.perf_counter() - t0
        cases = [("onnxruntime-cpu", scene), ("onnxruntime-cpu-uncertainty", scene), ("torch-cpu", scene),
                 ("agreement", scene), ("large", big), ("large_gdal_cache_256mb", big),
                 ("large_uncertainty_gdal_cache_256mb", big)]
        try:
            import torch

            if torch.cuda.is_available():
                cases.insert(2, ("torch-cuda", scene))
        except ImportError:
            cases = [c for c in cases if c[0] not in ("torch-cpu", "agreement")]
        if args.cases:
            cases = [c for c in cases if c[0] in args.cases.split(",")]
        results = {}
        for case, path in cases:
            cmd = [sys.executable, os.path.abspath(__file__), "--case", case, "--scene", path, "--outdir", tmp,
                   "--model", args.model] + (["--threads", str(args.threads)] if args.threads else []) + \
                (["--time-limit", str(args.time_limit)] if args.time_limit else [])
            env = dict(os.environ, **({"GDAL_CACHEMAX": "256"} if case.endswith("cache_256mb") else {}))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                results[case] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
            else:
                results[case] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(case, json.dumps(results[case]), flush=True)
    doc = {"topic": "segmentation", "quick": args.quick, "model": os.path.relpath(args.model, ROOT),
           "scene": f"mosaic of the real Landsat 7 RGB scene of Everest (30 m), {size}x{size} px; large case "
                    f"{large}x{large} px", "scene_preparation_s": round(prep, 1), "machine": machine_info("onnxruntime", "torch"), "note": args.note,
           "results": results}
    write_result(args.output, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
