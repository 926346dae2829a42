"""Single-threaded BLAS/LAPACK for batches of tiny matrices, where threadpoolctl is not installed.

The time-series inversion asks :func:`serac.core.threads.blas_threads` (threadpoolctl, scoped to the
block); this module is its fallback for a Python without threadpoolctl.

``numpy.linalg.solve`` / ``inv`` on a stack of small (tens x tens) matrices call
LAPACK once per matrix; a multi-threaded OpenBLAS then spends most of its time
starting and synchronising threads (measured here: 6x slower on 24 x 24 systems
with 2 threads than with 1). :func:`single_threaded_blas` sets the thread count of
every OpenBLAS loaded in the process to 1 for the duration of a block and restores
it afterwards. It finds OpenBLAS through the libraries mapped into the process
(Linux) or bundled with numpy (wheels on Windows/macOS); where none is found it
does nothing.
"""

import contextlib
import ctypes
import glob
import os

import numpy as np

_SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "scipy_openblas_set_num_threads64_")
_GETTERS = tuple(name.replace("set_", "get_") for name in _SETTERS)
_FOUND = []


def _candidate_libraries():
    paths = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                if "blas" in os.path.basename(path).lower():
                    paths.add(path)
    except OSError:
        pass
    np_dir = os.path.dirname(np.__file__)
    for pattern in (".libs/*blas*", ".dylibs/*blas*", os.path.join("..", "numpy.libs", "*blas*")):
        paths.update(glob.glob(os.path.join(np_dir, pattern)))
    return sorted(paths)


def _controls():
    """(set, get) function pairs of the OpenBLAS libraries in this process (looked up once)."""
    if not _FOUND:
        controls = []
        for path in _candidate_libraries():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for setter, getter in zip(_SETTERS, _GETTERS):
                if hasattr(lib, setter) and hasattr(lib, getter):
                    set_fn, get_fn = getattr(lib, setter), getattr(lib, getter)
                    set_fn.argtypes, set_fn.restype, get_fn.restype = [ctypes.c_int], None, ctypes.c_int
                    controls.append((set_fn, get_fn))
                    break
        _FOUND.append(controls)
    return _FOUND[0]


@contextlib.contextmanager
def single_threaded_blas():
    """Context in which OpenBLAS runs on one thread (no-op where OpenBLAS is not found)."""
    controls = _controls()
    previous = [get() for _, get in controls]
    for set_fn, _ in controls:
        set_fn(1)
    try:
        yield
    finally:
        for (set_fn, _), n in zip(controls, previous):
            set_fn(max(1, int(n)))
