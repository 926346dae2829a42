"""Peak memory of a benchmark process, the machine it ran on and the writing of its JSON, shared by the bench_*.py
scripts. The peak is the core's :func:`serac.core.memory.peak_rss_mb`, loaded from its file (the scripts run before
``serac`` is importable)."""

import importlib
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("serac_core_memory",
                                               Path(__file__).resolve().parents[1] / "core" / "memory.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
peak_rss_mb = _module.peak_rss_mb


def machine_info(*modules):
    """The machine and library versions a benchmark ran with (for its JSON).

    Always: platform, CPU count and model, Python, numpy, scipy, rasterio and its GDAL, date. ``modules``
    (e.g. "torch", "onnxruntime", "dask", "distributed"): their versions, None where they cannot be
    imported; with torch also its thread count and the CUDA device (None without one).
    """
    import numpy
    import rasterio
    import scipy

    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "cpu_model": _cpu_model(),
            "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            info[name] = None
            continue
        info[name] = getattr(module, "__version__", None)
        if name == "torch":
            info["torch_threads"] = module.get_num_threads()
            info["cuda"] = module.cuda.get_device_name(0) if module.cuda.is_available() else None
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), None)
    except OSError:
        return platform.processor() or None


def write_result(path, data):
    """Writes a benchmark's results ``data`` as JSON to ``path`` (its folder made if needed) and says so on stderr.

    The file is written beside and renamed into place: a run stopped while writing leaves the earlier results."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(partial, path)
    print(f"wrote {path}", file=sys.stderr)
