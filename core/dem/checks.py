"""Input checks for co-registration that need a look at the data (units, stable terrain, vertical datum)."""

import numpy as np

from ..errors import InputError
from ..progress import warn

#: Fewer stable pixels than this, or less than ``FEW_STABLE_FRACTION`` of the pixels valid in both DEMs,
#: and the user is warned that the shift is uncertain.
FEW_STABLE_PIXELS = 2_000
FEW_STABLE_FRACTION = 0.05
#: DEM errors are spatially correlated; this many px along each side count as about one independent sample
#: in the expected-error estimate (a 5 px correlation length is typical of photogrammetric and radar DEMs).
ERROR_CORRELATION_PX = 5

#: Conversion factors a unit mix-up produces, with the name shown to the user.
_KNOWN_FACTORS = [(3.28084, "feet vs metres"), (100.0, "centimetres vs metres"), (10.0, "decimetres vs metres"),
                  (1000.0, "millimetres vs metres")]


def _spread(values):
    p10, p90 = np.percentile(values, [10, 90])
    return float(p90 - p10)


def check_vertical_units(ref_unit, dem_unit, ref_values, dem_values, max_ratio=2.0):
    """Raise :class:`InputError` if the two DEMs' elevations are not in the same unit.

    Declared units (GDAL band unit type, normalized to 'm'/'ft'/...) must agree when
    both are set. Whatever is declared, the 10-90 % elevation range of the two DEMs
    over the same stable pixels must agree within a factor ``max_ratio``: the same
    terrain cannot span 3.28 times more in one DEM unless one is in feet.
    """
    if ref_unit and dem_unit and ref_unit != dem_unit:
        raise InputError(f"The reference DEM is in '{ref_unit}' but the DEM to align in '{dem_unit}'.",
                         "convert one of them (Raster Calculator) so both elevations are in metres.")
    ok = np.isfinite(ref_values) & np.isfinite(dem_values)
    if ok.sum() < 100:
        return
    spread_ref, spread_dem = _spread(ref_values[ok]), _spread(dem_values[ok])
    if min(spread_ref, spread_dem) < 1.0:  # too little relief to tell (flat terrain is reported elsewhere)
        return
    ratio = spread_dem / spread_ref
    if 1.0 / max_ratio <= ratio <= max_ratio:
        return
    factor = max(ratio, 1.0 / ratio)
    guess = next((name for f, name in _KNOWN_FACTORS if abs(factor / f - 1.0) < 0.15), None)
    hint = f" (this looks like {guess})" if guess else ""
    raise InputError(f"The elevations of the two DEMs are not in the same unit: over the same stable terrain the "
                     f"DEM to align spans {ratio:.3g} times the elevation range of the reference{hint}.",
                     "convert the DEM to align to metres (Raster Calculator) and run again.")


def expected_shift_error_m(n_stable, nmad_m, slopes_deg):
    """Rough 1-sigma error (m) of a Nuth & Kääb horizontal shift from ``n_stable`` stable px.

    NMAD of dh after alignment (m) over the tangent of the median stable slope and the square root of
    the number of independent samples (``n_stable / ERROR_CORRELATION_PX**2``).
    """
    slopes = np.asarray(slopes_deg, dtype=np.float64)
    slope = float(np.median(slopes)) if slopes.size else 20.0
    n_independent = max(1.0, n_stable / ERROR_CORRELATION_PX ** 2)
    return float(nmad_m / (np.tan(np.radians(max(slope, 1.0))) * np.sqrt(n_independent)))


def check_stable_terrain(counts, nmad_m, slopes_deg, pixel_m):
    """Warn (and return the text) when little stable terrain is left: the count and the expected error."""
    stable, common = int(counts["stable"]), int(counts["both_valid"])
    if stable >= FEW_STABLE_PIXELS and stable >= FEW_STABLE_FRACTION * common:
        return None
    error = expected_shift_error_m(stable, nmad_m, slopes_deg)
    text = (f"Only {stable} stable pixels ({100.0 * stable / max(common, 1):.1f} % of the {common} pixels valid in "
            f"both DEMs) constrain the shift: expect an error of about ±{error:.2g} m (±{error / pixel_m:.2g} px) "
            f"in the horizontal shift, more if the stable terrain is all on one side or facing one way.")
    warn(text, "Include more stable (ice-free, unchanged) terrain if you can: check that the glacier "
               "outlines or mask cover only what changed.")
    return text
