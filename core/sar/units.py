"""Backscatter units: sigma0 as linear power or in decibels (dB).

``sigma0_dB = 10 * log10(sigma0_linear)``. Normalization works in dB (the models are
additive there); linear inputs are converted on the fly.

The unit of a raster is decided, in this order, by

1. an explicit choice (``"dB"`` or ``"linear"``), which wins but is checked against the
   values (a warning when they look like the other unit);
2. metadata: GDAL band unit type, band descriptions, dataset/band tags (keys such as
   ``UNIT``/``UNITS``/``SCALE``) and the file name (pyroSAR-style ``_db`` suffix);
3. the values: dB backscatter is mostly negative and within [-40, 10] dB; linear power
   is never (or barely) negative and mostly below 1.
"""

import os
import re
from dataclasses import dataclass

import numpy as np
import rasterio

from ..errors import InputError

DB = "dB"
LINEAR = "linear"
AUTO = "auto"
UNITS = (AUTO, DB, LINEAR)

_DB_TOKEN = re.compile(r"(?:^|[^a-z])(db|decibels?)(?:$|[^a-z])", re.IGNORECASE)
_LINEAR_TOKEN = re.compile(r"(?:^|[^a-z])(lin|linear|power|intensity|natural)(?:$|[^a-z])", re.IGNORECASE)
_UNIT_KEYS = ("unit", "units", "scale", "sigma0_unit", "backscatter_unit", "value_unit", "scaling")


def normalize_unit_name(unit):
    """``"dB"``, ``"linear"`` or ``"auto"`` from a user spelling (``"db"``, ``"Linear power"``...)."""
    text = str(unit or AUTO).strip().lower()
    if text in ("auto", "detect", ""):
        return AUTO
    if text in ("db", "decibel", "decibels"):
        return DB
    if text in ("linear", "lin", "power", "linear power", "intensity", "natural"):
        return LINEAR
    raise InputError(f"Unknown backscatter unit '{unit}'.", "use 'auto', 'dB' or 'linear'.")


def to_db(linear, out=None):
    """10*log10 of linear power; values <= 0 (no valid dB value) become NaN. float32 stays float32."""
    linear = np.asarray(linear)
    if out is None:
        out = np.array(linear, dtype=np.result_type(linear.dtype, np.float32), copy=True)
    elif out is not linear:
        np.copyto(out, linear)
    np.copyto(out, np.nan, where=out <= 0)
    with np.errstate(invalid="ignore"):
        np.log10(out, out=out)
    out *= 10.0
    return out


def to_linear(db, out=None):
    """10**(dB/10) (linear power)."""
    db = np.asarray(db)
    if out is None:
        out = np.array(db, dtype=np.result_type(db.dtype, np.float32), copy=True)
    elif out is not db:
        np.copyto(out, db)
    out *= np.log(10.0) / 10.0
    np.exp(out, out=out)
    return out


@dataclass(frozen=True)
class UnitDecision:
    """The unit used for a raster and why (``source``: 'parameter', 'metadata' or 'values')."""

    unit: str
    source: str
    evidence: str
    warning: str = None


def unit_from_metadata(texts):
    """``"dB"``/``"linear"`` if the metadata strings name one unambiguously, else None.

    ``texts`` is an iterable of (label, text) pairs, e.g. ("band description", "VV_dB").
    Returns (unit, evidence) or (None, None).
    """
    found = {}
    for label, text in texts:
        if not text:
            continue
        text = str(text)
        if _DB_TOKEN.search(text):
            found.setdefault(DB, f"{label} '{text}'")
        elif _LINEAR_TOKEN.search(text):
            found.setdefault(LINEAR, f"{label} '{text}'")
    if len(found) == 1:
        unit, evidence = next(iter(found.items()))
        return unit, evidence
    return None, None


def raster_metadata_texts(path, bands=None):
    """(label, text) pairs describing the unit in a raster's metadata (tags, band units/names, file name)."""
    texts = []
    with rasterio.open(path) as ds:
        idx = range(1, ds.count + 1) if bands is None else ([bands] if np.isscalar(bands) else list(bands))
        tags = {k.lower(): v for k, v in ds.tags().items()}
        for i in idx:
            texts.append(("band unit", ds.units[i - 1]))
            texts.append(("band description", ds.descriptions[i - 1]))
            tags.update({k.lower(): v for k, v in ds.tags(i).items()})
    texts.extend((f"tag {k.upper()}", v) for k, v in tags.items() if k in _UNIT_KEYS)
    texts.append(("file name", os.path.splitext(os.path.basename(str(path)))[0]))
    return texts


def unit_from_values(values):
    """Guess the unit of backscatter samples: (unit or None, evidence text).

    dB: more than half the values negative and 5-95 % percentiles within [-60, 20] dB.
    linear: under 1 % negative values (noise subtraction can leave a few) and median below 1.5.
    None when neither holds (e.g. amplitude DN, or too few values).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 10:
        return None, f"only {v.size} valid value(s)"
    negative = float(np.mean(v < 0))
    p05, p50, p95 = np.percentile(v, [5, 50, 95])
    evidence = f"median {p50:.3g}, 5-95 % range [{p05:.3g}, {p95:.3g}], {100 * negative:.0f} % negative"
    if negative > 0.5 and p05 > -60 and p95 < 20:
        return DB, evidence
    if negative < 0.01 and p50 < 1.5:
        return LINEAR, evidence
    return None, evidence


def decide_unit(requested=AUTO, values=None, metadata=(), what="The backscatter raster"):
    """Decide the unit of a raster (see the module doc); returns a :class:`UnitDecision`.

    Raises :class:`InputError` if ``requested`` is 'auto' and neither metadata nor values tell.
    """
    requested = normalize_unit_name(requested)
    from_values, value_evidence = unit_from_values(values) if values is not None else (None, "no values")
    other = {DB: LINEAR, LINEAR: DB}

    def mismatch(unit, source):
        if from_values == other[unit]:
            return (f"{what} is treated as {unit} ({source}) but its values look like {from_values} "
                    f"({value_evidence}). If that is wrong, set the backscatter unit explicitly; "
                    f"a dB/linear mix-up gives meaningless results.")
        return None

    if requested != AUTO:
        return UnitDecision(requested, "parameter", "set by the user", mismatch(requested, "as requested"))
    unit, evidence = unit_from_metadata(metadata)
    if unit is not None:
        return UnitDecision(unit, "metadata", evidence, mismatch(unit, f"from its {evidence}"))
    if from_values is not None:
        return UnitDecision(from_values, "values", value_evidence)
    raise InputError(
        f"{what}: cannot tell whether the backscatter is linear power or dB ({value_evidence}).",
        "set the backscatter unit parameter to 'dB' or 'linear' (amplitude or DN must be calibrated to "
        "sigma0 power first).")
