"""Array backends for the batched correlator: numpy (scipy.fft) and torch (CPU or CUDA).

The correlation kernel (:mod:`.correlation`, :mod:`.subpixel`) is written once against
the small set of operations below, so the numpy and torch paths run the same
algorithm op for op and differ only in the FFT library and the device. Arrays
are float32 / complex64 on the backend; :meth:`to_numpy` brings results back.
"""

import contextlib
import os

import numpy as np
import scipy.fft

from ..backend import select_backend
from ..errors import DependencyMissing
from ..rows import distinct_rows


class NumpyOps:
    """numpy arrays; FFTs by scipy.fft (pocketfft) with ``workers`` threads."""

    name = "numpy"
    device = "cpu"

    def __init__(self, workers=None):
        self.workers = workers or os.cpu_count() or 1
        self.float = np.float32
        self.double = np.float64
        self.complex = np.complex64

    is_cpu = True

    @contextlib.contextmanager
    def one_thread_per_call(self):
        """FFTs use one thread while inside (the engine parallelizes over batches instead)."""
        before = self.workers
        self.workers = 1
        try:
            yield
        finally:
            self.workers = before

    # -- conversion -----------------------------------------------------------------
    def asarray(self, a, dtype=None):
        return np.ascontiguousarray(a, dtype=dtype or self.float)

    def to_numpy(self, a):
        return np.asarray(a)

    def arange(self, n, dtype=None):
        return np.arange(n, dtype=dtype or self.float)

    def index(self, a):
        """Integer index array (int64) on the backend."""
        return np.asarray(a, dtype=np.int64)

    # -- gathering ------------------------------------------------------------------
    def windows(self, image, rows, cols, height, width):
        """Stack of ``image[..., r:r+height, c:c+width]`` for each (r, c): (N, *lead, height, width).

        ``image`` is (C, H, W) or (H, W); ``rows``/``cols`` are top-left corners (int, in bounds).
        """
        view = np.lib.stride_tricks.sliding_window_view(image, (height, width), axis=(-2, -1))
        if image.ndim == 2:
            return view[rows, cols]
        return np.moveaxis(view[:, rows, cols], 0, 1)

    # -- correlation by FFT -------------------------------------------------------------
    def cross_spectrum(self, chips, windows):
        """conj(FFT(chip zero-padded to s x s)) * FFT(window), summed over channels: (N, s, s//2+1).

        ``chips`` (N, C, c, c) and ``windows`` (N, C, s, s). Real FFTs; the chip transform
        skips the all-zero padding rows (row transforms of the c chip rows only).
        """
        ft = self.chip_spectrum(chips, windows.shape[-1])
        np.conjugate(ft, out=ft)
        ft *= self.window_spectrum(windows)
        return ft[:, 0] if ft.shape[1] == 1 else ft.sum(axis=1)

    def window_spectrum(self, windows):
        """Real FFT of windows (..., s, s): (..., s, s//2+1) complex64."""
        return scipy.fft.rfft2(windows, workers=self.workers)

    def chip_spectrum(self, chips, s):
        """Real FFT of chips (..., c, c) zero-padded to s x s: (..., s, s//2+1) complex64."""
        ft = scipy.fft.rfft(chips, n=s, axis=-1, workers=self.workers)
        return scipy.fft.fft(ft, n=s, axis=-2, workers=self.workers, overwrite_x=True)

    def correlation(self, spectrum, m):
        """The first ``m`` x ``m`` lags of the inverse real FFT of ``spectrum`` (N, s, s//2+1)."""
        s = spectrum.shape[-2]
        rows = scipy.fft.ifft(spectrum, axis=-2, workers=self.workers)[:, :m]
        return scipy.fft.irfft(rows, n=s, axis=-1, workers=self.workers, overwrite_x=True)[..., :m]

    def local_maxima(self, surfaces):
        """Boolean (N, m, m): value >= its 8 neighbours (3 x 3 maximum as two 1-D passes)."""
        padded = np.pad(surfaces, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
        rows = np.maximum(np.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
        return surfaces >= np.maximum(np.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])

    # -- maths ----------------------------------------------------------------------

    def cexp(self, phase):
        """exp(i * phase) as complex64."""
        out = np.empty(phase.shape, dtype=self.complex)
        np.cos(phase, out=out.real)
        np.sin(phase, out=out.imag)
        return out

    conj = staticmethod(np.conj)
    real = staticmethod(np.real)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    where = staticmethod(np.where)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    clip = staticmethod(np.clip)
    isfinite = staticmethod(np.isfinite)

    def full(self, shape, value, dtype=None):
        return np.full(shape, value, dtype=dtype or self.float)

    def sum(self, a, axis, keepdims=False):
        return a.sum(axis=axis, keepdims=keepdims)

    def mean(self, a, axis, keepdims=False):
        return a.mean(axis=axis, keepdims=keepdims)

    def amax(self, a, axis):
        return a.max(axis=axis)

    def argmax(self, a, axis):
        return np.argmax(a, axis=axis)

    def take_along(self, a, idx, axis):
        return np.take_along_axis(a, idx, axis=axis)

    def take_flat(self, a, idx):
        """Elements of ``a`` at the integer ``idx`` (any shape) into ``a`` read as 1-D (C order)."""
        return np.take(a.reshape(-1), idx)

    def stack(self, arrays, axis=0):
        return np.stack(arrays, axis=axis)

    def concat(self, arrays, axis=0):
        return np.concatenate(arrays, axis=axis)

    def nonzero(self, mask):
        """Indices (1-D) where ``mask`` is True."""
        return np.flatnonzero(mask)

    def swap_last(self, a):
        return np.swapaxes(a, -1, -2)

    def unique_rows(self, a):
        """Distinct entries of ``a`` (N, ...) along the first axis: (unique (U, ...), inverse (N,) index)."""
        first, inverse = distinct_rows(a)
        return a[first], inverse


class TorchOps(NumpyOps):
    """torch tensors on ``device`` ("cpu" or "cuda"); FFTs by torch.fft."""

    name = "torch"

    def __init__(self, device="cpu"):
        try:
            import torch
        except ImportError:
            raise DependencyMissing("torch", "for the torch backend of image correlation") from None
        self.torch = torch
        self.device = torch.device(device)
        self.float = torch.float32
        self.double = torch.float64
        self.complex = torch.complex64

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    @contextlib.contextmanager
    def one_thread_per_call(self):
        """On CPU, torch ops use one thread while inside (the engine runs batches in parallel
        threads instead, which degrades gracefully on a busy machine); restored on exit."""
        if not self.is_cpu:
            yield
            return
        before = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            yield
        finally:
            self.torch.set_num_threads(before)

    def asarray(self, a, dtype=None):
        t = self.torch
        if isinstance(a, t.Tensor):
            return a.to(device=self.device, dtype=dtype or self.float)
        return t.as_tensor(np.ascontiguousarray(a), device=self.device).to(dtype or self.float)

    def to_numpy(self, a):
        if isinstance(a, self.torch.Tensor):
            return a.detach().cpu().numpy()
        return np.asarray(a)

    def arange(self, n, dtype=None):
        return self.torch.arange(n, device=self.device, dtype=dtype or self.float)

    def index(self, a):
        return self.torch.as_tensor(np.asarray(a, dtype=np.int64), device=self.device)

    def windows(self, image, rows, cols, height, width):
        view = image.unfold(-2, height, 1).unfold(-2, width, 1)
        if image.dim() == 2:
            return view[rows, cols]
        return view[:, rows, cols].transpose(0, 1)

    def cross_spectrum(self, chips, windows):
        x = self.torch.conj(self.chip_spectrum(chips, windows.shape[-1])) * self.window_spectrum(windows)
        return x[:, 0] if x.shape[1] == 1 else x.sum(dim=1)

    def window_spectrum(self, windows):
        return self.torch.fft.rfft2(windows)

    def chip_spectrum(self, chips, s):
        fft = self.torch.fft
        return fft.fft(fft.rfft(chips, n=s, dim=-1), n=s, dim=-2)

    def correlation(self, spectrum, m):
        fft = self.torch.fft
        s = spectrum.shape[-2]
        rows = fft.ifft(spectrum, dim=-2)[:, :m]
        return fft.irfft(rows, n=s, dim=-1)[..., :m]

    def local_maxima(self, surfaces):
        t = self.torch
        padded = t.nn.functional.pad(surfaces, (1, 1, 1, 1), value=-float("inf"))
        rows = t.maximum(t.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
        return surfaces >= t.maximum(t.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])

    def cexp(self, phase):
        return self.torch.polar(self.torch.ones_like(phase), phase)

    def conj(self, a):
        return self.torch.conj(a)

    def real(self, a):
        return a.real

    def sqrt(self, a):
        return self.torch.sqrt(a)

    def abs(self, a):
        return self.torch.abs(a)

    def exp(self, a):
        return self.torch.exp(a)

    def log(self, a):
        return self.torch.log(a)

    def where(self, cond, a, b):
        t = self.torch
        a = a if isinstance(a, t.Tensor) else t.tensor(a, device=self.device, dtype=self.float)
        b = b if isinstance(b, t.Tensor) else t.tensor(b, device=self.device, dtype=self.float)
        return t.where(cond, a, b)

    def maximum(self, a, b):
        t = self.torch
        b = b if isinstance(b, t.Tensor) else t.tensor(b, device=self.device, dtype=a.dtype)
        return t.maximum(a, b)

    def minimum(self, a, b):
        t = self.torch
        b = b if isinstance(b, t.Tensor) else t.tensor(b, device=self.device, dtype=a.dtype)
        return t.minimum(a, b)

    def clip(self, a, lo, hi):
        return self.torch.clamp(a, lo, hi)

    def isfinite(self, a):
        return self.torch.isfinite(a)

    def full(self, shape, value, dtype=None):
        return self.torch.full(shape, value, device=self.device, dtype=dtype or self.float)

    def sum(self, a, axis, keepdims=False):
        return a.sum(dim=axis, keepdim=keepdims)

    def mean(self, a, axis, keepdims=False):
        return a.mean(dim=axis, keepdim=keepdims)

    def amax(self, a, axis):
        return a.amax(dim=axis)

    def argmax(self, a, axis):
        return self.torch.argmax(a, dim=axis)

    def take_along(self, a, idx, axis):
        return self.torch.take_along_dim(a, idx, dim=axis)

    def take_flat(self, a, idx):
        return self.torch.take(a, idx)

    def stack(self, arrays, axis=0):
        return self.torch.stack(arrays, dim=axis)

    def concat(self, arrays, axis=0):
        return self.torch.cat(arrays, dim=axis)

    def nonzero(self, mask):
        return self.torch.nonzero(mask).flatten()

    def swap_last(self, a):
        return a.transpose(-1, -2)

    def unique_rows(self, a):
        unique, inverse = self.torch.unique(a.reshape(a.shape[0], -1), dim=0, return_inverse=True)
        return unique.reshape((-1,) + tuple(a.shape[1:])), inverse


def make_ops(backend="auto", workers=None):
    """Backend ops for a backend name (``auto``, ``numpy``, ``torch-cpu``, ``torch-cuda``).

    Returns ``(ops, BackendChoice)``; ``auto`` is torch on a CUDA GPU when present, else numpy.
    ``workers``: FFT threads of the numpy backend (default: all CPUs).
    """
    choice = select_backend(backend, supported=("numpy", "torch-cpu", "torch-cuda"), cpu_default="numpy")
    if choice.name == "numpy":
        return NumpyOps(workers=workers), choice
    return TorchOps(choice.device), choice
