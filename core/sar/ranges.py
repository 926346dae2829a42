"""Physical ranges of SAR inputs: what numbers a Sentinel-1 scene over snow and ice can hold.

Checked before the work starts (:func:`check_reference_angle`, :func:`check_beta_sample`,
:func:`check_angle_coverage`, :func:`amplitude_warning`), so a value in the wrong unit is refused with
the fix instead of giving a result off by several dB.
"""

import numpy as np

from ..errors import InputError
from ..progress import warn

#: Incidence angles (deg) of Sentinel-1 IW/EW/SM over the ellipsoid, with a margin.
S1_INCIDENCE_DEG = (15.0, 50.0)
#: Angle-dependence slopes beta (dB/deg) reported for snow, firn, ice and rock at C band, with a margin;
#: beyond ``BETA_REFUSE_DB_PER_DEG`` the values are in another unit (dB/radian is 57.3 times larger).
BETA_RANGE_DB_PER_DEG = (-1.0, 0.5)
BETA_REFUSE_DB_PER_DEG = 2.0
#: A median linear value above this (-7 dB) is brighter than most snow, ice and rock in sigma0 power (scene
#: medians of -20 to -10 dB), while amplitude halves the dB values (a -13 dB scene reads -6.5 dB): amplitude?
#: Bright percolation-zone firn can pass it too, hence a warning, not a refusal.
AMPLITUDE_MEDIAN_LINEAR = 0.2
_AMPLITUDE_WORDS = ("amplitude", "magnitude", "amp_", "_amp", "digital number", " dn")


def check_reference_angle(theta_ref):
    """Refuse a reference angle (deg) that is radians; warn outside Sentinel-1's range."""
    if 0.0 < theta_ref <= np.pi / 2:
        raise InputError(f"The reference incidence angle {theta_ref:g} looks like radians ({np.degrees(theta_ref):.1f} "
                         "deg), not degrees.", f"give it in degrees, e.g. {np.degrees(theta_ref):.0f}.")
    lo, hi = S1_INCIDENCE_DEG
    if not lo <= theta_ref <= hi:
        warn(f"The reference incidence angle {theta_ref:g} deg is outside Sentinel-1's {lo:g}-{hi:g} deg: the "
             "output extrapolates the angle dependence beyond the angles observed.",
             "Use an angle inside the scene's range (35 deg is usual) unless you mean it.")


def check_beta_sample(values, what="beta"):
    """Refuse a beta (dB/deg) sample in another unit; warn when outside the range seen on snow and ice."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return
    median = float(np.median(finite))
    lo, hi = BETA_RANGE_DB_PER_DEG
    if abs(median) > BETA_REFUSE_DB_PER_DEG:
        raise InputError(f"The {what} values (median {median:.3g}) are not dB per degree: snow and ice give "
                         f"{lo:g} to {hi:g} dB/deg.",
                         "if the raster is in dB per radian divide it by 57.3 (Raster Calculator); give beta in "
                         "dB/deg.")
    outside = float(np.mean((finite < lo) | (finite > hi)))
    if outside > 0.05:
        warn(f"{100 * outside:.0f} % of the {what} values are outside the {lo:g} to {hi:g} dB/deg seen on snow and "
             f"ice (median {median:.3g} dB/deg).", "Check the beta raster; the result keeps them as given.")


def check_angle_coverage(angles, backscatter, description):
    """Refuse when the angle source leaves (almost) every valid backscatter pixel without an angle.

    ``angles``/``backscatter``: samples at the same pixels. Typical cause: an annotation or angle raster
    of another product or area.
    """
    has_data = np.isfinite(backscatter)
    if not has_data.any():
        return
    missing = float(np.mean(~np.isfinite(angles[has_data])))
    if missing > 0.9:
        raise InputError(f"The incidence angle ({description}) has no value on {100 * missing:.0f} % of the "
                         "backscatter pixels: it belongs to another product or area.",
                         "give the annotation XML (or angle raster) of this very product, covering the scene.")


def amplitude_warning(values, metadata_texts, unit, what="The backscatter raster"):
    """Warn (and return the text) when linear backscatter looks like amplitude rather than power."""
    if unit != "linear":
        return None
    named = [f"{label} '{text}'" for label, text in metadata_texts
             if text and any(w in f" {str(text).lower()}" for w in _AMPLITUDE_WORDS)]
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    median = float(np.median(v)) if v.size else float("nan")
    bright = v.size > 0 and median > AMPLITUDE_MEDIAN_LINEAR
    if not (named or bright):
        return None
    why = f"its {named[0]}" if named else (f"its median {median:.3g} ({10 * np.log10(median):.1f} dB as power) is "
                                            "brighter than snow and ice")
    text = (f"{what} may hold amplitude, not sigma0 power ({why}); taken as power, amplitude gives dB values half "
            "as large (e.g. -5.5 instead of -11 dB).")
    warn(text, "If it is amplitude, square it (Raster Calculator: A * A) or calibrate it to sigma0 first.")
    return text
