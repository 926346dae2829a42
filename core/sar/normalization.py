"""Incidence-angle normalization methods, per pixel, in dB.

Every method takes backscatter in **dB** and the local incidence angle ``theta`` in
**degrees** and returns backscatter in dB as it would be at the reference angle
``theta_ref`` (deg). Both models are written in dB:

* :class:`CosineLaw` -- ``sigma0_ref = sigma0 * cos^n(theta_ref) / cos^n(theta)`` in linear
  power (n = 2: Lambertian surface) is, in dB,
  ``sigma_dB_ref = sigma_dB + 10 n log10(cos theta_ref) - 10 n log10(cos theta)``:
  an *additive* correction. (Multiplying dB values by a cosine ratio, a bug seen elsewhere,
  is wrong; linear inputs are converted to dB before any correction.)
* :class:`LinearDB` -- ``sigma_dB(theta_ref) = sigma_dB(theta) - beta (theta - theta_ref)``
  with ``beta`` the slope d sigma_dB / d theta in dB/deg (usually negative: backscatter
  decreases with the angle), a number or one value per pixel (a raster).

The ``apply`` methods work in place on float32 blocks (no temporary larger than a block).
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

DEFAULT_THETA_REF = 35.0


def check_theta_ref(theta_ref):
    """The reference angle as float, or :class:`InputError` unless 0 < theta_ref < 90 deg."""
    try:
        value = float(theta_ref)
    except (TypeError, ValueError):
        raise InputError(f"The reference incidence angle '{theta_ref}' is not a number.",
                         "give it in degrees, e.g. 35.") from None
    if not 0.0 < value < 90.0:
        raise InputError(f"The reference incidence angle {value:g} deg is outside 0-90 deg.",
                         "give it in degrees between 0 and 90 (35 deg is the usual choice for Sentinel-1).")
    from .ranges import check_reference_angle

    check_reference_angle(value)
    return value


def check_angles(theta, what="The incidence angle"):
    """Raise :class:`InputError` if any finite angle (deg) is outside the open interval 0-90 deg."""
    bad = (theta <= 0.0) | (theta >= 90.0)
    if np.any(bad):
        values = theta[bad]
        raise InputError(
            f"{what} has {values.size} value(s) outside 0-90 deg (e.g. {float(values.flat[0]):.4g}).",
            "give the local incidence angle in degrees (not radians, not the elevation/look angle "
            "complement), with nodata set for invalid pixels.")


def looks_like_radians(theta):
    """True if all finite angles are within (0, pi/2]: radians rather than degrees for SAR data."""
    finite = theta[np.isfinite(theta)]
    return finite.size > 0 and float(finite.max()) <= np.pi / 2 + 1e-6 and float(finite.min()) > 0


@dataclass(frozen=True)
class CosineLaw:
    """Cosine-law normalization with exponent ``n`` (dimensionless, 2 = Lambertian) to ``theta_ref`` (deg)."""

    n: float = 2.0
    theta_ref: float = DEFAULT_THETA_REF
    needs_beta = False

    def __post_init__(self):
        object.__setattr__(self, "theta_ref", check_theta_ref(self.theta_ref))
        if not np.isfinite(self.n) or self.n <= 0:
            raise InputError(f"The cosine-law exponent n = {self.n} is not a positive number.",
                             "use n = 2 (Lambertian) or a fitted positive value (typically 1-3).")

    @property
    def label(self):
        return f"cosine law (n = {self.n:g}) to {self.theta_ref:g} deg"

    def correction_db(self, theta, out=None):
        """Additive correction (dB) for angles ``theta`` (deg): 10 n [log10 cos theta_ref - log10 cos theta]."""
        out = np.array(theta, dtype=np.float32, copy=True) if out is None else out
        if out is not theta:
            np.copyto(out, theta)
        np.radians(out, out=out)
        np.cos(out, out=out)
        np.log10(out, out=out)
        out *= np.float32(-10.0 * self.n)
        out += np.float32(10.0 * self.n * np.log10(np.cos(np.radians(self.theta_ref))))
        return out

    def apply(self, sigma_db, theta, beta=None, correction=None):
        """Normalize ``sigma_db`` (dB) in place; ``correction`` from :meth:`correction_db` may be reused."""
        sigma_db += self.correction_db(theta) if correction is None else correction
        return sigma_db


@dataclass(frozen=True)
class LinearDB:
    """Linear-in-dB normalization to ``theta_ref`` (deg) with slope ``beta`` (dB/deg).

    ``beta`` is a number, a raster path/source (one map for every band) or a list of those
    (one per band); the engine turns it into per-block arrays passed to :meth:`apply`.
    """

    beta: object = None
    theta_ref: float = DEFAULT_THETA_REF
    needs_beta = True

    def __post_init__(self):
        object.__setattr__(self, "theta_ref", check_theta_ref(self.theta_ref))
        if self.beta is None:
            raise InputError("The linear-in-dB method needs beta (dB/deg).",
                             "give beta as a number (e.g. -0.2 dB/deg), a beta raster, or estimate it "
                             "from an ascending/descending pair or a time series.")
        for b in (self.beta if isinstance(self.beta, (list, tuple)) else [self.beta]):
            if isinstance(b, (int, float, np.floating)) and not (np.isfinite(b) and abs(b) < 5):
                raise InputError(f"beta = {b} dB/deg is not a plausible backscatter slope.",
                                 "give beta in dB per degree (typically -0.5 to 0).")

    @property
    def label(self):
        def text(b):
            return f"{b:g} dB/deg" if isinstance(b, (int, float, np.floating)) else "a beta raster"

        betas = self.beta if isinstance(self.beta, (list, tuple)) else [self.beta]
        return f"linear in dB (beta = {', '.join(text(b) for b in betas)}) to {self.theta_ref:g} deg"

    def beta_for_band(self, band_index, band_count):
        """The beta (number/path/source) of band ``band_index`` (0-based)."""
        if isinstance(self.beta, (list, tuple)):
            if len(self.beta) != band_count:
                raise InputError(f"{len(self.beta)} beta values given for {band_count} band(s).",
                                 "give one beta for all bands or one per band.")
            return self.beta[band_index]
        return self.beta

    def apply(self, sigma_db, theta, beta, delta=None):
        """Normalize ``sigma_db`` (dB) in place: sigma -= beta * (theta - theta_ref).

        ``beta`` is a number or an array like ``sigma_db``; ``delta`` (theta - theta_ref, deg)
        may be passed to reuse it across bands.
        """
        if delta is None:
            delta = theta - np.float32(self.theta_ref)
        if np.ndim(beta) == 0:
            sigma_db -= np.float32(beta) * delta
        else:
            tmp = np.multiply(beta, delta, dtype=np.float32)
            sigma_db -= tmp
        return sigma_db
