"""Classical glacier mapping from multispectral bands: NDSI and the red/SWIR band ratio.

* **NDSI** = (green - SWIR) / (green + SWIR); ice and snow where NDSI > 0.4 (Dozier 1989;
  used for glacier inventories, e.g. Racoviteanu et al. 2008).
* **Band ratio** red / SWIR (Landsat TM/ETM+ TM3/TM5, OLI B4/B6, Sentinel-2 B4/B11); ice
  where the ratio > about 2 (Paul et al. 2002; Paul & Kääb 2005).
* **Debris rule** (optional, with a DEM): debris-covered ice is spectrally rock, so pixels not
  mapped as clean ice with a surface slope <= ``max_slope_deg`` (default 24°, Paul et al. 2004)
  are added where their 8-connected region touches clean ice. A crude rule: flat moraines,
  lakes and valley floors next to glaciers are added too; review the result.

Both indices are defined on **reflectance** (top-of-atmosphere or surface, 0-1). On raw
digital numbers the thresholds shift with each band's gain and offset: :func:`looks_like_dn`
flags such input, and the job warns.

Inputs are float arrays (rows, cols) with NaN for nodata; nothing here reads files.
"""

import numpy as np
from scipy import ndimage

from ..errors import InputError

METHODS = ("ndsi", "band_ratio")
DEFAULT_THRESHOLDS = {"ndsi": 0.4, "band_ratio": 2.0}
DEFAULT_MAX_SLOPE_DEG = 24.0
EIGHT = ndimage.generate_binary_structure(2, 2)


def spectral_index(method, red=None, green=None, swir=None):
    """NDSI (needs ``green``, ``swir``) or red/SWIR ratio (needs ``red``, ``swir``); NaN where undefined."""
    if method not in METHODS:
        raise InputError(f"Unknown baseline method {method!r}.", f"use one of {METHODS}.")
    a = np.asarray(green if method == "ndsi" else red, dtype=np.float64)
    swir = np.asarray(swir, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = (a - swir) / (a + swir) if method == "ndsi" else a / swir
    index[~np.isfinite(index)] = np.nan
    return index.astype(np.float32)


def looks_like_dn(*bands):
    """True when the values are unlikely to be reflectance (99th percentile above 2: DN or scaled integers)."""
    values = np.concatenate([np.asarray(b, np.float64)[np.isfinite(b)].ravel()[::7] for b in bands])
    return values.size > 0 and float(np.percentile(values, 99)) > 2.0


def debris_extension(ice, slope_deg, max_slope_deg=DEFAULT_MAX_SLOPE_DEG):
    """``ice`` plus the gentle (slope <= ``max_slope_deg``) non-ice regions that touch it (8-connected)."""
    ice = np.asarray(ice, bool)
    gentle = np.nan_to_num(np.asarray(slope_deg, np.float64), nan=90.0) <= max_slope_deg
    candidates = gentle & ~ice
    labels, n = ndimage.label(candidates, structure=EIGHT)
    if n == 0:
        return ice.copy()
    touching = np.unique(labels[ndimage.binary_dilation(ice, structure=EIGHT) & candidates])
    return ice | np.isin(labels, touching[touching > 0])


def baseline_mask(method, threshold=None, red=None, green=None, swir=None, slope_deg=None,
                  max_slope_deg=DEFAULT_MAX_SLOPE_DEG):
    """(glacier mask, index) of a classical method; with ``slope_deg`` the debris rule is added."""
    index = spectral_index(method, red=red, green=green, swir=swir)
    threshold = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
    ice = np.nan_to_num(index, nan=-np.inf) > threshold
    if slope_deg is not None:
        ice = debris_extension(ice, slope_deg, max_slope_deg) & np.isfinite(index)
    return ice, index


__all__ = ["METHODS", "DEFAULT_THRESHOLDS", "spectral_index", "looks_like_dn", "debris_extension", "baseline_mask"]
