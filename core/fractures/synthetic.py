"""Synthetic crevasse fields with a known spacing (m) and orientation (deg), for tests and benchmarks."""

from __future__ import annotations

import math

import numpy as np


def crevasse_field(shape, pixel_size_m, spacing_m, orientation_deg, contrast=20.0, noise=8.0, sharpness=9,
                   background=100.0, seed=0):
    """Image (rows, cols) float32 of parallel crevasses: narrow dark lines (shadowed) on a bright surface.

    ``orientation_deg``: direction *along* the crevasses, clockwise from grid north (up); ``spacing_m``:
    distance between neighbouring crevasses; the profile across them is ``background - contrast *
    |cos(pi d / spacing)|^sharpness`` (narrow dark troughs), plus Gaussian noise of std ``noise`` (same
    units as ``contrast``).
    """
    rows, cols = np.indices(shape, dtype=np.float64)
    east, north = cols * pixel_size_m, -rows * pixel_size_m
    across = math.radians(orientation_deg + 90.0)
    d = east * math.sin(across) + north * math.cos(across)
    rng = np.random.default_rng(seed)
    image = background - contrast * np.abs(np.cos(np.pi * d / spacing_m)) ** sharpness
    return (image + rng.normal(0.0, noise, shape)).astype(np.float32)
