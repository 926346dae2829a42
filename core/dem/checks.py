"""Input checks for co-registration that need a look at the data (units)."""

import numpy as np

from ..errors import InputError

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
