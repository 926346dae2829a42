"""Peak memory of a benchmark process and the machine it ran on, shared by the bench_*.py scripts."""

import os
import platform
import resource
import time


def peak_rss_mb():
    """Peak resident memory of this process (MiB): VmHWM, which starts afresh at exec (ru_maxrss would
    carry over the parent's peak on Linux); ru_maxrss where /proc is absent."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine_info():
    """The machine and library versions a benchmark ran with (for its JSON)."""
    import numpy
    import rasterio
    import scipy

    return {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
