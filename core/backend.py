"""Compute backend selection (numpy, torch on CPU or CUDA, ONNX Runtime on CPU).

``auto`` means: torch on CUDA when a CUDA GPU and torch are present, else the
algorithm's CPU default (numpy for correlation, ONNX Runtime for neural
networks). The choice actually made, and why, is returned so it can be reported.
"""

from dataclasses import dataclass
import importlib.util

from .errors import DependencyMissing, InputError

BACKENDS = ("auto", "numpy", "torch-cpu", "torch-cuda", "onnxruntime")


@dataclass(frozen=True)
class BackendChoice:
    name: str  # "numpy", "torch" or "onnxruntime"
    device: str  # "cpu" or "cuda"
    reason: str

    @property
    def label(self):
        return self.name if self.name == "numpy" else f"{self.name} ({self.device})"


def has_module(name):
    return importlib.util.find_spec(name) is not None


def cuda_available():
    """True if torch is importable and sees a CUDA device."""
    if not has_module("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def select_backend(requested="auto", supported=("numpy", "torch-cpu", "torch-cuda"), cpu_default="numpy"):
    """Resolve ``requested`` (one of :data:`BACKENDS`) into a :class:`BackendChoice`.

    ``supported`` lists what the calling algorithm can run; ``cpu_default`` is what
    ``auto`` falls back to without a GPU.
    """
    requested = (requested or "auto").lower()
    if requested not in BACKENDS:
        raise InputError(f"Unknown backend '{requested}'.", f"use one of {', '.join(BACKENDS)}.")
    if requested != "auto" and requested not in supported:
        raise InputError(f"This algorithm cannot run on the '{requested}' backend.",
                         f"use one of {', '.join(('auto',) + tuple(supported))}.")
    if requested == "auto":
        if "torch-cuda" in supported and cuda_available():
            return BackendChoice("torch", "cuda", "auto: a CUDA GPU is available")
        choice = select_backend(cpu_default, supported, cpu_default)
        return BackendChoice(choice.name, choice.device, "auto: no CUDA GPU, using the CPU default")
    if requested == "numpy":
        return BackendChoice("numpy", "cpu", "requested")
    if requested.startswith("torch"):
        if not has_module("torch"):
            raise DependencyMissing("torch", "for the torch backend")
        if requested == "torch-cuda" and not cuda_available():
            raise InputError("The torch-cuda backend was requested but torch sees no CUDA GPU.",
                             "choose 'auto' or a CPU backend, or install a CUDA build of torch.")
        return BackendChoice("torch", requested.split("-")[1], "requested")
    if not has_module("onnxruntime"):
        raise DependencyMissing("onnxruntime", "to run ONNX models")
    return BackendChoice("onnxruntime", "cpu", "requested")

