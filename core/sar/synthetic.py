"""Known-answer inputs for checking normalization on real backscatter.

A real backscatter image is taken as the truth at the reference angle; these helpers add a
known incidence-angle effect, speckle and a smooth elevation field so that the
normalization or the beta estimation can be checked against the answer used to build them.
Used by the tests, the benchmark and ``scripts/validate_sar.py``.
"""

import numpy as np


def angle_ramp(shape, near=30.0, far=45.0, axis=1, reverse=False):
    """Incidence angle (deg) rising linearly from ``near`` to ``far`` along ``axis`` (1 = columns)."""
    n = shape[axis]
    ramp = np.linspace(near, far, n, dtype=np.float64)
    ramp = ramp[::-1] if reverse else ramp
    ramp = ramp[None, :] if axis == 1 else ramp[:, None]
    return np.ascontiguousarray(np.broadcast_to(ramp, shape), dtype=np.float32)


def add_linear_effect(sigma_db, theta, beta, theta_ref=35.0):
    """Backscatter seen at ``theta`` (deg) if ``sigma_db`` is at ``theta_ref``: sigma + beta (theta - theta_ref)."""
    return (sigma_db + np.asarray(beta) * (theta - theta_ref)).astype(np.float32)


def add_cosine_effect(sigma_linear, theta, n=2.0, theta_ref=35.0):
    """Linear power seen at ``theta`` (deg) under a cos^n law: sigma * cos^n(theta) / cos^n(theta_ref)."""
    ratio = np.cos(np.radians(theta)) / np.cos(np.radians(theta_ref))
    return (sigma_linear * ratio ** n).astype(np.float32)


def speckle_db(shape, looks=10, seed=0):
    """Multiplicative speckle of ``looks``-look intensity (unit-mean gamma), in dB."""
    rng = np.random.default_rng(seed)
    return (10.0 * np.log10(rng.gamma(looks, 1.0 / looks, size=shape))).astype(np.float32)


def smooth_elevation(shape, low=0.0, high=2000.0, seed=0):
    """A smooth elevation field (m): a sum of a few broad Gaussian hills scaled to [low, high]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0: shape[0], 0: shape[1]].astype(np.float64)
    z = np.zeros(shape)
    for _ in range(4):
        r0, c0 = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        s = rng.uniform(0.25, 0.5) * max(shape)
        z += rng.uniform(0.5, 1.0) * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * s * s))
    z = (z - z.min()) / max(np.ptp(z), 1e-12)
    return (low + (high - low) * z).astype(np.float32)
