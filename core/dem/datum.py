"""Vertical datums of DEMs and elevation points: detection, conversion with PROJ, and the geoid trap.

Heights are either ellipsoidal (above the WGS 84 ellipsoid, e.g. ICESat/ICESat-2, most
stereo DEMs from commercial imagery) or orthometric (above a geoid: EGM96, EGM2008, e.g.
SRTM, Copernicus DEM). They differ by the geoid undulation N = h_ellipsoid - H_geoid,
which reaches -100 ... +80 m and is about +12 to +13 m over Franz Josef Land. Mixing the
two leaves a vertical shift of about N that co-registration silently "corrects".

* :func:`datum_of_crs` reads the vertical datum of a compound CRS (or a 3-D geographic CRS);
* :func:`geoid_undulation` evaluates N with PROJ (pyproj) where the geoid grid is installed
  (``egm96_15.gtx`` for EGM96; EGM2008 needs ``us_nga_egm08_25.tif``); PROJ's "ballpark"
  transformation (N = 0) is never used;
* :func:`datum_offset` is the one height conversion: the height that puts heights on one datum
  onto another at given positions; :func:`convert_heights` applies it to points, and
  :mod:`.pair_datum` to the DEMs of a pair, pixel by pixel;
* :func:`check_vertical_shift` flags a fitted vertical shift close to the local undulation
  (from PROJ, or from two height fields of the same points), or a large shift between
  undeclared datums. It serves DEM-vs-points and DEM-vs-DEM co-registration alike.
"""

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

DATUMS = ("ellipsoid", "EGM96", "EGM2008")
#: EPSG codes of the vertical CRSs of the geoid models.
GEOID_EPSG = {"EGM96": 5773, "EGM2008": 3855}
_ALIASES = {"ellipsoid": "ellipsoid", "ellipsoidal": "ellipsoid", "wgs84": "ellipsoid", "wgs 84": "ellipsoid",
            "egm96": "EGM96", "egm 96": "EGM96", "egm96 height": "EGM96", "egm2008": "EGM2008",
            "egm 2008": "EGM2008", "egm08": "EGM2008", "egm2008 height": "EGM2008"}
#: A vertical shift is compared with the geoid undulation only above this size (m).
MIN_SHIFT_M = 2.0
#: Shifts larger than this (m) between undeclared datums are reported even without an undulation estimate.
LARGE_SHIFT_M = 5.0


def normalize_datum(name):
    """'ellipsoid', 'EGM96', 'EGM2008' from a user spelling; None for None/''/'unknown'."""
    if name is None or str(name).strip().lower() in ("", "unknown", "none", "undeclared"):
        return None
    key = str(name).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise InputError(f"Unknown vertical datum '{name}'.", f"use one of {', '.join(DATUMS)} (or leave it unknown).")


def _pyproj_crs(crs):
    from pyproj import CRS

    if crs is None:
        return None
    return CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)


def datum_of_crs(crs):
    """The vertical datum a CRS declares: 'EGM96', 'EGM2008', 'ellipsoid' (a 3-D geographic or projected CRS:
    ellipsoidal heights), another vertical CRS name, or None when it declares none (a 2-D CRS)."""
    crs = _pyproj_crs(crs)
    if crs is None:
        return None
    for sub in crs.sub_crs_list if crs.is_compound else []:
        if sub.is_vertical:
            code = sub.to_epsg()
            for model, epsg in GEOID_EPSG.items():
                if code == epsg:
                    return model
            return _ALIASES.get(sub.name.strip().lower(), sub.name)
    if (crs.is_geographic or crs.is_projected) and len(crs.axis_info) == 3:
        return "ellipsoid"
    return None


@functools.lru_cache(maxsize=None)
def _geoid_operation(model):
    """(PROJ transformer from ``model`` heights to ellipsoidal ones, description) or (None, why not); built once."""
    from pyproj.transformer import TransformerGroup

    with warnings.catch_warnings():  # pyproj warns when the best operation's grid is missing: handled below
        warnings.simplefilter("ignore", UserWarning)
        group = TransformerGroup(f"EPSG:4326+{GEOID_EPSG[model]}", "EPSG:4979", always_xy=True)
    usable = [t for t in group.transformers if "ballpark" not in t.description.lower()]
    if not usable:
        missing = sorted({g.short_name for op in group.unavailable_operations for g in op.grids if not g.available})
        return None, (f"the {model} geoid grid is not installed in PROJ ({', '.join(missing) or 'no grid'}); "
                      "install it in the PROJ data folder to convert")
    parts = usable[0].description.split(" + ")
    return usable[0], f"{model} undulation from PROJ ({parts[1] if len(parts) > 1 else parts[0]})"


def geoid_undulation(lon, lat, model="EGM96"):
    """(N in m at lon/lat in degrees, description) from PROJ, or (None, why not) when the grid is missing."""
    model = normalize_datum(model)
    if model not in GEOID_EPSG:
        raise InputError(f"'{model}' is not a geoid model.", "use EGM96 or EGM2008.")
    transformer, what = _geoid_operation(model)
    if transformer is None:
        return None, what
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    _, _, h = transformer.transform(lon, lat, np.zeros_like(lon))
    n = np.asarray(h, dtype=np.float64)
    n[~np.isfinite(n) | (np.abs(n) > 1000)] = np.nan
    return n, what


def datum_offset(lon, lat, from_datum, to_datum):
    """(offset, notes): the height (m) to add at lon/lat (degrees) to heights on ``from_datum`` to put them on
    ``to_datum`` (N_from - N_to, N = 0 on the ellipsoid) and what was used (each model's median N here);
    (None, why not) when a geoid grid is missing. Both datums are names :func:`normalize_datum` accepts and differ.

    The one height conversion of Serac: points (:func:`convert_heights`) and DEM grids
    (:mod:`.pair_datum`) both go through it.
    """
    src, dst = normalize_datum(from_datum), normalize_datum(to_datum)
    offset = np.zeros(np.shape(lon), dtype=np.float64)
    notes = []
    for model, sign in ((src, 1.0), (dst, -1.0)):
        if model == "ellipsoid":
            continue
        n, why = geoid_undulation(lon, lat, model)
        if n is None:
            return None, why
        notes.append(f"{why}: median {np.nanmedian(n):+.2f} m")
        offset += sign * n  # h_ellipsoid = H_src + N_src; H_dst = h_ellipsoid - N_dst
    return offset, notes


@dataclass
class Conversion:
    """Heights after a datum conversion (m) and what was done, in words."""

    heights: np.ndarray
    converted: bool
    note: str


def convert_heights(lon, lat, h, from_datum, to_datum):
    """Heights ``h`` (m) on ``from_datum`` expressed on ``to_datum`` at lon/lat (degrees).

    Returns a :class:`Conversion`; when a datum is unknown or a grid is missing the heights
    are returned unchanged with ``converted`` False and the reason in ``note``.
    """
    src, dst = normalize_datum(from_datum), normalize_datum(to_datum)
    h = np.asarray(h, dtype=np.float64)
    if src is None or dst is None:
        return Conversion(h, False, "vertical datum not declared for both; no conversion")
    if src == dst:
        return Conversion(h, False, f"both on {src}; no conversion needed")
    offset, notes = datum_offset(lon, lat, src, dst)
    if offset is None:
        return Conversion(h, False, f"cannot convert {src} to {dst}: {notes}")
    return Conversion(h + offset, True, f"converted {src} -> {dst} (median change {np.nanmedian(offset):+.2f} m; "
                                        + "; ".join(notes) + ")")


@dataclass
class DatumCheck:
    """Outcome of :func:`check_vertical_shift`: ``warnings`` to show; ``flagged`` when the shift looks like N."""

    shift_z_m: float
    undulations_m: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    flagged: bool = False

    def to_dict(self):
        return {"shift_z_m": self.shift_z_m, "undulations_m": dict(self.undulations_m),
                "warnings": list(self.warnings), "flagged": self.flagged}


#: How to fix a shift that looks like the geoid undulation, for points and for DEM pairs.
FIX_POINTS = "put both on the same vertical datum (e.g. use the points' ellipsoidal heights for an ellipsoidal DEM)"
FIX_PAIR = ("declare each DEM's vertical datum in its CRS (a compound CRS such as EPSG:32633+5773 for EGM96 heights, "
            "a 3-D CRS for ellipsoidal ones) so that Serac converts them, or convert one DEM yourself")


def check_vertical_shift(shift_z_m, lon, lat, reference_datum=None, dem_datum=None, alternative_heights=None,
                         tolerance_m=None, fix=FIX_POINTS):
    """Flag a vertical shift (m, applied to the DEM) that is probably a datum mix-up.

    ``lon``/``lat``: where the data are (degrees; a sample of points or pixels).
    ``reference_datum``/``dem_datum``: declared datums (None: unknown).
    ``alternative_heights``: optional (name, difference array in m) giving N from the data
    themselves, e.g. H_ell - H_orto of ICESat points.
    A shift is flagged when |shift| >= 2 m and within ``tolerance_m`` (default max(1.5 m,
    15 % of |N|)) of |N| for any available undulation estimate; the sign tells which side
    is ellipsoidal. Without any estimate a shift above 5 m between undeclared datums is reported.
    ``fix``: what the warning tells the user to do (:data:`FIX_POINTS` or :data:`FIX_PAIR`).
    """
    dz = float(shift_z_m)
    check = DatumCheck(dz)
    estimates = {}
    for model in GEOID_EPSG:
        n, _ = geoid_undulation(lon, lat, model)
        if n is not None and np.isfinite(n).any():
            estimates[f"{model} (PROJ)"] = float(np.nanmedian(n))
    if alternative_heights is not None:
        name, diff = alternative_heights
        diff = np.asarray(diff, dtype=np.float64)
        if np.isfinite(diff).any():
            estimates[name] = float(np.nanmedian(diff))
    check.undulations_m = estimates
    if abs(dz) < MIN_SHIFT_M or not np.isfinite(dz):
        return check
    declared = f"reference on {reference_datum or 'an undeclared datum'}, DEM on {dem_datum or 'an undeclared datum'}"
    for name, n in estimates.items():
        tol = tolerance_m if tolerance_m is not None else max(1.5, 0.15 * abs(n))
        if abs(n) >= MIN_SHIFT_M and abs(abs(dz) - abs(n)) <= tol:
            ell = "the DEM looks ellipsoidal and the reference orthometric (geoid)" if dz * n < 0 else \
                "the DEM looks orthometric (geoid) and the reference ellipsoidal"
            check.flagged = True
            check.warnings.append(
                f"The vertical shift {dz:+.2f} m is close to the local geoid undulation ({name}: N = {n:+.2f} m): "
                f"{ell} ({declared}). Do not trust this shift as a correction: {fix} and run again.")
            break
    if not check.flagged and abs(dz) > LARGE_SHIFT_M and (reference_datum is None or dem_datum is None):
        known = ", ".join(f"{k}: {v:+.2f} m" for k, v in estimates.items()) or "no geoid grid available"
        check.warnings.append(
            f"The vertical shift {dz:+.2f} m is large and the vertical datums are not both declared ({declared}; "
            f"undulation here: {known}). Check that both are on the same datum (ellipsoid, EGM96 or EGM2008).")
    return check


def _centre_lonlat(grid):
    """(lon, lat) in degrees of the centre of ``grid``."""
    import rasterio.warp

    left, bottom, right, top = grid.bounds
    lon, lat = rasterio.warp.transform(grid.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    return lon[0], lat[0]
