"""Known displacements applied to real or synthetic images, for tests, validation and benchmarks.

* :func:`fourier_shift` — an exact sub-pixel translation of a band-limited, periodic
  image (phase ramp in the Fourier domain), so a uniform shift has no interpolation error.
* :func:`warp` — a displacement field applied by spline interpolation: the feature at
  q moves to q + d(q) (the backward map is inverted by fixed-point iteration).
* :func:`random_texture` — a band-limited random texture, the ideal correlation target.

Displacements are in px; ``dy`` along rows (down), ``dx`` along columns (right).
"""

import numpy as np
from scipy import ndimage


def fourier_shift(image, dy, dx):
    """``image`` moved by (dy, dx) px (features at p appear at p + d), periodic at the borders."""
    image = np.asarray(image, dtype=np.float64)
    ky = np.fft.fftfreq(image.shape[0])[:, None]
    kx = np.fft.rfftfreq(image.shape[1])[None, :]
    spectrum = np.fft.rfft2(image) * np.exp(-2j * np.pi * (ky * dy + kx * dx))
    return np.fft.irfft2(spectrum, s=image.shape)


def warp(image, dy, dx, order=5, iterations=6):
    """``image`` with the feature at each pixel q moved to q + d(q), d = (``dy``, ``dx``) in px.

    ``dy``/``dx`` are arrays on the image grid (or scalars), defined at the *reference*
    position q. The output is sampled backwards, ``out(p) = image(q)`` with q solving
    ``q + d(q) = p`` by fixed-point iteration (converges for displacement gradients
    well below 1 px/px); values by spline interpolation of ``order``. Pixels that come
    from outside the image are NaN.
    """
    image = np.asarray(image, dtype=np.float64)
    shape = image.shape
    rows, cols = np.meshgrid(np.arange(shape[0], dtype=np.float64), np.arange(shape[1], dtype=np.float64),
                             indexing="ij")
    dy = np.broadcast_to(np.asarray(dy, dtype=np.float64), shape)
    dx = np.broadcast_to(np.asarray(dx, dtype=np.float64), shape)
    src_r, src_c = rows - dy, cols - dx
    for _ in range(iterations):
        at = [np.clip(src_r, 0, shape[0] - 1), np.clip(src_c, 0, shape[1] - 1)]
        src_r = rows - ndimage.map_coordinates(dy, at, order=1)
        src_c = cols - ndimage.map_coordinates(dx, at, order=1)
    out = ndimage.map_coordinates(image, [src_r, src_c], order=order, mode="mirror")
    outside = (src_r < 0) | (src_r > shape[0] - 1) | (src_c < 0) | (src_c > shape[1] - 1)
    out[outside] = np.nan
    return out


def random_texture(shape, sigma=1.5, seed=0):
    """Gaussian-smoothed white noise (zero mean, unit variance); ``sigma`` in px sets the grain size."""
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap")
    return (texture - texture.mean()) / texture.std()


def add_noise(image, std, seed=0):
    """``image`` plus white Gaussian noise of standard deviation ``std`` (units of the image)."""
    rng = np.random.default_rng(seed)
    return np.asarray(image, dtype=np.float64) + rng.normal(0.0, std, np.shape(image))
