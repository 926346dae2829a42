"""Vertical datums: say so when a DEM pair may mix ellipsoidal and geoid (orthometric) heights.

A DEM of ellipsoidal heights (WGS 84, most satellite DEMs before geoid correction, ICESat) and one
of heights above a geoid (EGM96/EGM2008: Copernicus, SRTM) differ by the geoid undulation N, tens
of m and smooth over a scene; co-registration would silently absorb it into the vertical shift.
:func:`check_vertical_datum` warns when a CRS declares a vertical datum (and the two differ or only
one declares one) or when the fitted vertical shift is close to ±N at the scene. N comes from PROJ
(pyproj) with the EGM96 grid where it is installed, else the message gives the typical range.
Converting the DEM itself between datums is left to the user (or a later Serac version).
"""

import math

from ..progress import warn

#: |shift| below this (m) is never taken for a datum mix-up (|N| is below it only near the geoid's zero line).
MIN_DATUM_SHIFT_M = 5.0
#: The vertical shift is "close to" ±N when within this fraction of |N| (or 2 m).
CLOSE_FRACTION = 0.15

_FIX = ("convert both DEMs to the same vertical datum first (e.g. 'gdalwarp -s_srs EPSG:4326+5773 -t_srs "
        "EPSG:4979' turns EGM96 heights into WGS 84 ellipsoidal heights), then run again.")


def vertical_datum_name(crs):
    """Name of the vertical datum a (compound) CRS declares, or None."""
    if crs is None:
        return None
    try:
        from pyproj import CRS

        proj_crs = CRS.from_wkt(crs.to_wkt())
    except Exception:  # noqa: BLE001 - pyproj missing or CRS it cannot parse: nothing declared we can read
        return None
    for sub in (proj_crs.sub_crs_list or [proj_crs]):
        if sub.is_vertical:
            return sub.name
    return None


def geoid_undulation_m(lon, lat):
    """EGM96 geoid height N (m above the WGS 84 ellipsoid) at (lon, lat) degrees, or None without the grid."""
    try:
        from pyproj import Transformer

        to_geoid = Transformer.from_crs("EPSG:4979", "EPSG:4326+5773", always_xy=True)
        _, _, height = to_geoid.transform(float(lon), float(lat), 0.0)
    except Exception:  # noqa: BLE001 - pyproj missing or the transformation is not available
        return None
    if not math.isfinite(height) or height == 0.0:  # 0: PROJ fell back to a "ballpark" no-op
        return None
    return -float(height)


def _centre_lonlat(grid):
    import rasterio.warp

    left, bottom, right, top = grid.bounds
    lon, lat = rasterio.warp.transform(grid.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    return lon[0], lat[0]


def check_vertical_datum(reference_grid, dem_grid, shift_z_m):
    """Warn (and return the texts) when the vertical datums may differ; see the module docstring."""
    notes = []
    ref_datum, dem_datum = vertical_datum_name(reference_grid.crs), vertical_datum_name(dem_grid.crs)
    if (ref_datum or dem_datum) and ref_datum != dem_datum:
        notes.append(f"The reference DEM's heights are relative to {ref_datum or 'an undeclared datum'} and the "
                     f"DEM to align's to {dem_datum or 'an undeclared datum'}: the vertical shift "
                     f"({shift_z_m:+.2f} m) includes any difference between the two.")
    if abs(shift_z_m) >= MIN_DATUM_SHIFT_M and reference_grid.crs is not None:
        try:
            lon, lat = _centre_lonlat(reference_grid)
        except Exception:  # noqa: BLE001 - no geographic position: nothing to compare with
            lon = lat = None
        n = geoid_undulation_m(lon, lat) if lon is not None else None
        if n is not None and abs(n) >= MIN_DATUM_SHIFT_M and \
                abs(abs(shift_z_m) - abs(n)) <= max(2.0, CLOSE_FRACTION * abs(n)):
            notes.append(f"The vertical shift ({shift_z_m:+.2f} m) is close to the geoid undulation here "
                         f"({n:+.2f} m, EGM96 from PROJ at {lat:.2f}°, {lon:.2f}°): one DEM may hold ellipsoidal "
                         "heights and the other heights above the geoid.")
        elif n is None and abs(shift_z_m) <= 110.0:
            notes.append(f"The vertical shift ({shift_z_m:+.2f} m) is within the range of geoid undulations "
                         "(-106 to +85 m; no geoid grid is installed to check this place): if you did not expect "
                         "it, one DEM may hold ellipsoidal heights and the other heights above the geoid.")
    for note in notes:
        warn(note, "If so, " + _FIX)
    return notes


__all__ = ["check_vertical_datum", "geoid_undulation_m", "vertical_datum_name"]
