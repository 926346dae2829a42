"""Python dependencies of Serac: what is missing, and installing it with pip (with consent).

Plugin loading never needs these packages; algorithms that do report what is
missing (``SeracAlgorithm.canExecute``). The plugin menu's "Check dependencies"
lists them and, if the user agrees, runs pip for QGIS's own Python.
"""

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    module: str  # import name
    pip: str  # pip requirement (pinned where the core needs a known-good version)
    purpose: str
    required: bool = True

    @property
    def installed(self):
        return importlib.util.find_spec(self.module) is not None


REQUIREMENTS = (
    Requirement("numpy", "numpy<2", "arrays (all algorithms)"),
    Requirement("scipy", "scipy", "filters, interpolation, FFT (all algorithms)"),
    Requirement("rasterio", "rasterio", "raster input/output (all algorithms)"),
    Requirement("onnxruntime", "onnxruntime", "running segmentation models on the CPU"),
    Requirement("torch", "torch", "GPU inference, training segmentation models, torch correlation backend",
                required=False),
)


def missing(include_optional=False):
    """Requirements that cannot be imported (optional ones only if asked)."""
    return [r for r in REQUIREMENTS if not r.installed and (r.required or include_optional)]


def python_executable():
    """The Python interpreter of this QGIS (``sys.executable`` is QGIS itself on some platforms)."""
    exe = sys.executable or ""
    if os.path.basename(exe).lower().startswith("python"):
        return exe
    candidates = [os.path.join(sys.exec_prefix, "python.exe"), os.path.join(sys.exec_prefix, "bin", "python3"),
                  shutil.which("python3"), shutil.which("python")]
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    return "python3"


def pip_command(requirements, user=True):
    """The pip command line (list) that installs ``requirements`` for this QGIS's Python."""
    cmd = [python_executable(), "-m", "pip", "install"]
    if user and sys.prefix == sys.base_prefix:  # not in a venv: install into the user site
        cmd.append("--user")
    return cmd + [r.pip for r in requirements]
