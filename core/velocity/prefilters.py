"""Image prefilters applied before correlation (2-D array in, array out).

Every filter takes a float image with NaN as nodata and returns an image of the
same shape with NaN where the input was NaN; local statistics ignore NaN
(normalized convolution: filter the zero-filled image and divide by the filtered
validity mask). Filters work on whole tiles; ``halo`` (px) is how far a pixel's
value depends on its neighbours, so the engine reads tiles that much larger and
results do not depend on the tiling.

* ``none`` — the image as is.
* ``wallis`` — local standardization ``(x - mean_w) / std_w`` in a ``size`` x ``size``
  window (``std_w``: local RMS of ``x - mean_w``) (the Wallis-type filter used by autoRIFT, Gardner et al. 2018, The
  Cryosphere 12: 521); evens out illumination and contrast.
* ``highpass`` — ``x - gaussian(x, sigma)`` (the Gaussian high-pass of CARST/ampcor
  pipelines); removes large-scale brightness gradients, keeps texture.
* ``orientation`` — orientation images ``sgn(dx + i dy)`` (unit complex numbers of
  the gradient direction; Fitch et al. 2002, Heid & Kääb 2012, Remote Sens.
  Environ. 118: 339). Returned as complex64: the correlator treats real and
  imaginary parts as two channels, which is orientation correlation.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError


def _masked_smooth(image, smooth, valid=None, weight=None):
    """``smooth`` (a linear filter) applied to ``image`` ignoring NaN (normalized convolution).

    Computed in the precision of ``image`` (the filters accumulate in double precision).
    ``weight``: ``smooth`` of the validity (as the image's dtype) if already computed.
    """
    valid = np.isfinite(image) if valid is None else valid
    if valid.all():
        return smooth(image)
    filled = np.where(valid, image, 0.0).astype(image.dtype)
    if weight is None:
        weight = smooth(valid.astype(image.dtype))
    with np.errstate(invalid="ignore", divide="ignore"):
        return smooth(filled) / weight


def none(image):
    """The image as float32 (no filtering)."""
    return np.asarray(image, dtype=np.float32)


def wallis(image, size=9):
    """Local standardization in ``size`` x ``size`` windows (px): (x - local mean) / local std (unitless)."""
    image = np.asarray(image, dtype=np.float32)
    valid = np.isfinite(image)
    box = lambda a: ndimage.uniform_filter(a, size=size, mode="constant")  # noqa: E731
    weight = None if valid.all() else box(valid.astype(np.float32))  # shared by both local means
    centred = image - _masked_smooth(image, box, valid, weight).astype(np.float32)
    with np.errstate(invalid="ignore"):
        std = np.sqrt(np.maximum(_masked_smooth(centred * centred, box, valid, weight), 0.0)).astype(np.float32)
    sample = std[::4, ::4][valid[::4, ::4]]  # a floor against division by ~0 in flat areas
    floor = 1e-3 * float(np.mean(sample)) if sample.size else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / np.maximum(std, floor + 1e-12)


def highpass(image, sigma=3.0):
    """Gaussian high-pass: x - gaussian(x, ``sigma`` px), in the units of the input."""
    image = np.asarray(image, dtype=np.float32)
    low = _masked_smooth(image, lambda a: ndimage.gaussian_filter(a, sigma, mode="constant", truncate=4.0))
    return (image - low).astype(np.float32)


def orientation(image, sigma=0.0):
    """Orientation image sgn(dI/dx + i dI/dy) as complex64 (|value| = 1, 0 where flat or nodata).

    ``sigma`` (px) optionally smooths the image before the gradient (central differences).
    """
    image = np.asarray(image, dtype=np.float64)
    valid = np.isfinite(image)
    if sigma > 0:
        image = _masked_smooth(image, lambda a: ndimage.gaussian_filter(a, sigma, mode="constant"))
    filled = np.where(valid, image, np.nanmean(image) if valid.any() else 0.0)
    gy, gx = np.gradient(filled)
    g = gx + 1j * gy
    mag = np.abs(g)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(mag > 0, g / np.where(mag > 0, mag, 1.0), 0.0)
    # gradients touching nodata are not valid
    touch = ndimage.binary_erosion(valid, structure=np.ones((3, 3)), border_value=1)
    out = np.where(touch, out, np.nan + 0j)
    return out.astype(np.complex64)


@dataclass(frozen=True)
class Prefilter:
    """A named prefilter with its parameter; ``apply(image)``; ``halo`` in px."""

    name: str = "wallis"
    size: float = None

    def __post_init__(self):
        if self.name not in PREFILTERS:
            raise InputError(f"Unknown prefilter '{self.name}'.", f"use one of {', '.join(PREFILTERS)}.")

    @property
    def parameter(self):
        return self.size if self.size is not None else DEFAULT_SIZE[self.name]

    @property
    def halo(self):
        """How far (px) a filtered value depends on its neighbours."""
        p = self.parameter
        if self.name == "wallis":  # two box passes: the mean, then the RMS around it
            return 2 * (int(p) // 2) + 1
        if self.name == "highpass":
            return int(math.ceil(4 * p)) + 1
        if self.name == "orientation":
            return 2 + (int(math.ceil(4 * p)) if p else 0)
        return 0

    def apply(self, image):
        fn = PREFILTERS[self.name]
        return fn(image) if self.name == "none" else fn(image, self.parameter)

    def describe(self):
        return self.name if self.name == "none" else f"{self.name}({self.parameter:g})"


PREFILTERS = {"none": none, "wallis": wallis, "highpass": highpass, "orientation": orientation}
#: Default parameter per filter: window size (px) for wallis, sigma (px) otherwise.
DEFAULT_SIZE = {"none": None, "wallis": 9, "highpass": 3.0, "orientation": 0.0}


def as_channels(filtered):
    """(C, H, W) float32 channels of a filtered image (complex -> real, imaginary) and its validity (H, W)."""
    if np.iscomplexobj(filtered):
        valid = np.isfinite(filtered.real) & np.isfinite(filtered.imag)
        stack = np.stack([filtered.real, filtered.imag]).astype(np.float32)
    else:
        valid = np.isfinite(filtered)
        stack = filtered[None].astype(np.float32)
    if valid.all():
        stack -= stack.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)[:, None, None]
    elif valid.any():
        stack -= np.array([np.mean(ch[valid], dtype=np.float64) for ch in stack], dtype=np.float32)[:, None, None]
        stack[:, ~valid] = 0.0
    return stack, valid
