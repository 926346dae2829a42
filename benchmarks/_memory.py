"""Peak memory of a benchmark process and the machine it ran on, shared by the bench_*.py scripts. The peak is
the core's :func:`serac.core.memory.peak_rss_mb`, loaded from its file (the scripts run before ``serac`` is
importable)."""

import importlib.util
import os
import platform
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("serac_core_memory",
                                               Path(__file__).resolve().parents[1] / "core" / "memory.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
peak_rss_mb = _module.peak_rss_mb


def machine_info():
    """The machine and library versions a benchmark ran with (for its JSON)."""
    import numpy
    import rasterio
    import scipy

    return {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
