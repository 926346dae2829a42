"""CPU threads of one call: BLAS/OpenMP pools, GDAL, FFT/torch workers, set per call, never process-wide.

:func:`thread_limits` is the one place a thread count is applied; code that starts its own
workers (GDAL creation/read options, FFT workers, ONNX Runtime sessions) asks
:func:`current_threads` / :func:`gdal_threads` instead of assuming every CPU is free, so a job
run by a batch worker next to others stays within its share.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator, Optional

_THREADS: contextvars.ContextVar = contextvars.ContextVar("serac_threads", default=None)


def current_threads() -> Optional[int]:
    """The thread count of the running job (None: not limited, use the machine)."""
    return _THREADS.get()


def gdal_threads() -> str:
    """GDAL's NUM_THREADS value for the running job: its thread count, else ALL_CPUS."""
    threads = current_threads()
    return str(threads) if threads else "ALL_CPUS"


@contextlib.contextmanager
def thread_limits(threads: Optional[int]) -> Iterator[None]:
    """Run the enclosed code on at most ``threads`` CPU threads; restore everything afterwards.

    Limits the BLAS/OpenMP pools through threadpoolctl (when installed) and GDAL through a
    ``rasterio.Env(GDAL_NUM_THREADS=...)``; the count is also visible to the core through
    :func:`current_threads` (FFT workers, torch, ONNX Runtime sessions). ``None`` or 0: no limit.
    """
    if not threads:
        yield
        return
    threads = max(1, int(threads))
    token = _THREADS.set(threads)
    try:
        with contextlib.ExitStack() as stack:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:
                pass
            else:
                stack.enter_context(threadpool_limits(limits=threads))
            import rasterio

            stack.enter_context(rasterio.Env(GDAL_NUM_THREADS=str(threads)))
            yield
    finally:
        _THREADS.reset(token)


_CONTROLLER = []


def _controller():
    """threadpoolctl's view of the thread pools loaded in this process (scanned once: BLAS is loaded with numpy)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextlib.contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """BLAS/LAPACK on ``threads`` threads inside the block (threadpoolctl), restored afterwards."""
    try:
        controller = _controller()
    except ImportError:
        from .timeseries.blas import single_threaded_blas as fallback  # no threadpoolctl: OpenBLAS directly

        with fallback() if threads == 1 else contextlib.nullcontext():
            yield
        return
    with controller.limit(limits=threads, user_api="blas"):
        yield
