"""Reading a set of velocity pair rasters with their dates.

A *velocity pair* is a raster of the mean velocity between two acquisition dates.
Each pair here is described by a :class:`VelocityPair` (which band of which file
holds which component, in which units, between which dates) without reading
pixels; a :class:`PairStack` reads windows (or single points) of all pairs onto
one grid, in m/yr, with NaN where a pair has no value.

Where things are found, in this order:

* **components**: bands whose description (or ``NETCDF_VARNAME`` / ``standard_name``
  band tag) is ``vx`` / ``vy``; else bands 1 and 2 of a multi-band file; a
  single-band file whose name holds the token ``vx`` is paired with the file of the
  same name with ``vy`` (e.g. GLAFT's ``..._vx.tif`` / ``..._vy.tif``). A band named
  ``valid`` (0/1), when present, masks the pair.
* **dates**: given explicitly; else dataset tags such as ``DATE1``/``DATE2``,
  ``date_1``/``date_2``, ``START_DATE``/``END_DATE``, ``acquisition_date_img1``/``img2``;
  else the first two dates (``YYYYMMDD`` or ``YYYY-MM-DD``) in the file name (for
  ITS_LIVE / Landsat style names joined by ``_X_``, the first date of each half).
* **error** (optional, m/yr): given explicitly; else tags ``ERROR``, ``VX_ERROR``/``VY_ERROR``
  or ``STABLE_NMAD_VX``/``STABLE_NMAD_VY`` (Serac's velocity product).
* **units**: given explicitly; else the band unit or a ``units`` tag (``m/yr``, ``m/y``,
  ``m/a``, ``m/d``, ``m/day``, ...); else m/yr is assumed and
  :attr:`VelocityPair.units_known` is False so callers can warn.
"""

import os
import re
from dataclasses import dataclass, field

import numpy as np
import rasterio

from ..errors import InputError
from ..raster_io import BandReader, RasterGrid, read_grid
from .design import DAYS_PER_YEAR, as_day, iso, ordered_pairs

#: Factors converting velocity units to m/yr (keys compared without spaces, lower case).
UNIT_FACTORS = {
    "m/yr": 1.0, "m/y": 1.0, "m/a": 1.0, "m/year": 1.0, "myr-1": 1.0, "my-1": 1.0, "ma-1": 1.0, "myr^-1": 1.0,
    "m/d": DAYS_PER_YEAR, "m/day": DAYS_PER_YEAR, "md-1": DAYS_PER_YEAR, "mday-1": DAYS_PER_YEAR,
    "md^-1": DAYS_PER_YEAR, "km/yr": 1000.0, "km/y": 1000.0, "km/a": 1000.0,
    "cm/d": DAYS_PER_YEAR / 100.0, "cm/day": DAYS_PER_YEAR / 100.0,
}

_DATE_TAG_PAIRS = (("date1", "date2"), ("startdate", "enddate"), ("datestart", "dateend"),
                   ("acquisitiondateimg1", "acquisitiondateimg2"), ("firstdate", "seconddate"),
                   ("referencedate", "secondarydate"), ("masterdate", "slavedate"), ("t1", "t2"))
_DATE_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(-?)(\d{2})\2(\d{2})(?!\d)")
_COMPONENT_NAMES = {"vx": ("vx", "v_x", "x_velocity", "velocity_x", "ve", "east_velocity"),
                    "vy": ("vy", "v_y", "y_velocity", "velocity_y", "vn", "north_velocity")}


def unit_factor(units):
    """Factor converting ``units`` (text such as 'm/yr', 'm/day') to m/yr; None if not recognised."""
    if units is None:
        return None
    key = re.sub(r"\s+", "", str(units).lower()).replace("**", "^").replace("⁻¹", "-1")
    return UNIT_FACTORS.get(key)


def _require_units(units):
    factor = unit_factor(units)
    if factor is None:
        raise InputError(f"Velocity units '{units}' are not recognised.",
                         f"use one of {', '.join(sorted(set(UNIT_FACTORS)))}.")
    return factor


def _norm_key(key):
    return re.sub(r"[^a-z0-9]", "", str(key).split("#")[-1].lower())


def dates_from_tags(tags):
    """(date1, date2) from raster tags, or None if no known pair of keys holds two dates."""
    norm = {}
    for key, value in (tags or {}).items():
        norm.setdefault(_norm_key(key), value)
    for k1, k2 in _DATE_TAG_PAIRS:
        if k1 in norm and k2 in norm:
            try:
                return as_day(norm[k1]), as_day(norm[k2])
            except InputError:
                continue
    return None


#: Tags holding a pair's velocity error (in the units of the velocities): one key, or keys averaged (vx, vy).
_ERROR_TAGS = (("error",), ("verror",), ("vxerror", "vyerror"), ("stablenmadvx", "stablenmadvy"))


def error_from_tags(tags):
    """A pair's 1-sigma velocity error from its tags (units of the velocities), or None.

    Recognised: ``ERROR``, ``V_ERROR``, ``VX_ERROR``/``VY_ERROR`` (ITS_LIVE style) and
    ``STABLE_NMAD_VX``/``STABLE_NMAD_VY`` (Serac's velocity product); component
    errors are averaged.
    """
    norm = {}
    for key, value in (tags or {}).items():
        norm.setdefault(_norm_key(key), value)
    for keys in _ERROR_TAGS:
        try:
            values = [float(norm[k]) for k in keys]
        except (KeyError, TypeError, ValueError):
            continue
        if all(np.isfinite(v) and v > 0 for v in values):
            return float(np.mean(values))
    return None


def _dates_in(text):
    found = []
    for m in _DATE_IN_NAME.finditer(text):
        try:
            found.append(as_day(f"{m.group(1)}-{m.group(3)}-{m.group(4)}"))
        except InputError:
            continue
    return found


def dates_from_name(path):
    """(date1, date2) from a file name such as ``20180304-20180405_vx.tif``; None if it holds fewer than two dates.

    ITS_LIVE / Landsat product names (two scene ids joined by ``_X_``, each with an
    acquisition and a processing date) give the first date of each scene id.
    """
    name = os.path.basename(str(path))
    halves = name.split("_X_")
    if len(halves) == 2:
        first, second = _dates_in(halves[0]), _dates_in(halves[1])
        if first and second:
            return first[0], second[0]
    found = _dates_in(name)
    return (found[0], found[1]) if len(found) >= 2 else None


@dataclass(frozen=True)
class BandRef:
    """One band (1-based) of a raster file."""

    path: str
    band: int


@dataclass(frozen=True)
class VelocityPair:
    """One velocity pair: where each component is, its dates, units and error.

    ``bands`` maps component names ('vx', 'vy', or one name for single-band input)
    to :class:`BandRef`; values times ``scale`` are m/yr; ``error`` is the pair's
    1-sigma velocity error in m/yr (None if unknown).
    """

    date1: np.datetime64
    date2: np.datetime64
    bands: tuple  # ((component, BandRef), ...)
    scale: float = 1.0
    units: str = "m/yr"
    units_known: bool = True
    error: float = None
    valid: BandRef = None
    name: str = ""

    def __post_init__(self):
        d1, d2 = ordered_pairs([self.date1], [self.date2])
        object.__setattr__(self, "date1", d1[0])
        object.__setattr__(self, "date2", d2[0])
        if self.error is not None and not (np.isfinite(self.error) and self.error > 0):
            raise InputError(f"Pair '{self.name}' has an error of {self.error} m/yr.",
                             "give a positive error (m/yr) or none.")

    @property
    def components(self):
        return tuple(c for c, _ in self.bands)

    @property
    def baseline_days(self):
        return float((self.date2 - self.date1).astype(np.int64))

    def describe(self):
        return f"{self.name}: {iso(self.date1)} to {iso(self.date2)} ({self.baseline_days:g} days)"


def _band_info(path):
    try:
        with rasterio.open(path) as ds:
            names = []
            for i in range(1, ds.count + 1):
                tags = {k.lower(): v for k, v in ds.tags(i).items()}
                names.append([str(n).lower() for n in (ds.descriptions[i - 1], tags.get("netcdf_varname"),
                                                       tags.get("standard_name")) if n])
            units = [u or ds.tags(i).get("units") or ds.tags(i).get("UNITS") for i, u in enumerate(ds.units, 1)]
            units.append(ds.tags().get("units") or ds.tags().get("UNITS"))
            return ds.count, names, units, ds.tags()
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"Cannot open raster '{path}': {exc}.",
                         "check the path and that the file is a raster GDAL can read.") from None


def _find_band(names, wanted):
    for i, band_names in enumerate(names, start=1):
        if any(n in wanted for n in band_names):
            return i
    return None


def _name_token(path, token):
    stem = os.path.splitext(os.path.basename(str(path)))[0].lower()
    return re.search(rf"(?<![a-z0-9]){token}(?![a-z0-9])", stem) is not None


def _partner_path(path, available=None):
    """The ``vy`` file beside a ``vx`` file (same name with the token vx replaced), or None."""
    folder, name = os.path.split(str(path))
    swapped = re.sub(r"(?<![A-Za-z0-9])(v)(x)(?![A-Za-z0-9])",
                     lambda m: m.group(1) + ("Y" if m.group(2).isupper() else "y"), name, flags=re.IGNORECASE)
    if swapped == name:
        return None
    candidate = os.path.join(folder, swapped)
    if available is not None:
        return candidate if candidate in available else None
    return candidate if os.path.exists(candidate) else None


def open_pair(path, date1=None, date2=None, vy_path=None, units=None, error=None, name=None):
    """Describe one velocity pair file (no pixels are read) as a :class:`VelocityPair`.

    ``path`` holds vx and vy (bands named so, else bands 1 and 2), or only vx with
    ``vy_path`` (found automatically beside it when the names differ only by the
    token vx/vy), or a single other component (e.g. speed). ``date1``/``date2``
    default to the file's tags or name; ``units`` (e.g. 'm/day') to the band units,
    else m/yr; ``error`` is the pair's velocity error, m/yr (default: from the tags,
    see :func:`error_from_tags`).
    """
    path = os.fspath(path)
    count, names, band_units, tags = _band_info(path)
    bands, unit_text = [], None
    ix, iy = _find_band(names, _COMPONENT_NAMES["vx"]), _find_band(names, _COMPONENT_NAMES["vy"])
    if vy_path is None and count == 1 and (ix or _name_token(path, "vx")):
        vy_path = _partner_path(path)
    if vy_path is not None:
        vy_path = os.fspath(vy_path)
        y_count, y_names, y_units, _ = _band_info(vy_path)
        iy_other = _find_band(y_names, _COMPONENT_NAMES["vy"]) or 1
        bands = [("vx", BandRef(path, ix or 1)), ("vy", BandRef(vy_path, iy_other))]
        unit_text = band_units[(ix or 1) - 1] or band_units[-1]
    elif ix and iy:
        bands = [("vx", BandRef(path, ix)), ("vy", BandRef(path, iy))]
        unit_text = band_units[ix - 1] or band_units[-1]
    elif count >= 2:
        bands = [("vx", BandRef(path, 1)), ("vy", BandRef(path, 2))]
        unit_text = band_units[0] or band_units[-1]
    else:
        by_name = next((t for t in ("vx", "vy", "speed", "v") if _name_token(path, t)), None)
        component = next((n for n in (names[0] if names else []) if n.isidentifier()), None) or by_name or "v"
        bands = [(component, BandRef(path, 1))]
        unit_text = band_units[0] or band_units[-1]
    valid = _find_band(names, ("valid",))

    if date1 is None or date2 is None:
        found = dates_from_tags(tags) or dates_from_name(path)
        if found is None:
            raise InputError(f"The dates of velocity pair '{os.path.basename(path)}' are unknown.",
                             "give them explicitly, set DATE1/DATE2 tags, or put both dates in the file name "
                             "(e.g. 20180304-20180405_vx.tif).")
        date1 = found[0] if date1 is None else date1
        date2 = found[1] if date2 is None else date2
    if units is not None:
        scale, unit_text, known = _require_units(units), str(units), True
    else:
        scale = unit_factor(unit_text)
        known = scale is not None
        scale, unit_text = (scale, unit_text) if known else (1.0, "m/yr")
    if error is None:
        tag_error = error_from_tags(tags)
        error = None if tag_error is None else tag_error * scale
    return VelocityPair(as_day(date1), as_day(date2), tuple(bands), scale, unit_text, known,
                        None if error is None else float(error), BandRef(path, valid) if valid else None,
                        name or os.path.splitext(os.path.basename(path))[0])


def open_pairs(items, units=None, errors=None):
    """Describe many pairs; ``items`` are paths, ``(path, date1, date2)`` triples or :class:`VelocityPair`.

    A list of paths where ``..._vx`` and ``..._vy`` files sit side by side gives
    one pair per vx/vy couple. ``errors`` is one error (m/yr) per item or None.
    """
    items = list(items)
    if errors is not None and len(errors) != len(items):
        raise InputError(f"{len(errors)} errors were given for {len(items)} pairs.", "give one error per pair.")
    paths = {os.fspath(i) for i in items if isinstance(i, (str, os.PathLike))}
    partners = {p for p in (_partner_path(q, paths) for q in paths if _name_token(q, "vx")) if p}
    pairs = []
    for k, item in enumerate(items):
        error = None if errors is None else errors[k]
        if isinstance(item, VelocityPair):
            pairs.append(item)
        elif isinstance(item, (str, os.PathLike)):
            if os.fspath(item) in partners:
                continue
            pairs.append(open_pair(item, units=units, error=error))
        else:
            try:
                path, date1, date2 = item
            except (TypeError, ValueError):
                raise InputError(f"{item!r} is not a velocity pair.",
                                 "give file paths or (path, date1, date2) triples.") from None
            pairs.append(open_pair(path, date1, date2, units=units, error=error))
    if not pairs:
        raise InputError("No velocity pairs were given.", "select the velocity rasters to combine.")
    return pairs


@dataclass
class PairStack:
    """Velocity pairs read onto one grid (default: the first pair's grid).

    ``read(window)`` gives (n_pairs, n_components, rows, cols) float32 m/yr with NaN
    where a pair has no value (nodata, outside its footprint, or ``valid`` == 0).
    Pairs on other grids are resampled with ``resampling`` by the one grid reader,
    :class:`serac.core.raster_io.BandReader` (direct reads where grids line up).
    """

    pairs: list
    grid: RasterGrid = None
    resampling: str = "bilinear"
    components: tuple = field(init=False)

    def __post_init__(self):
        self.pairs = list(self.pairs)
        if not self.pairs:
            raise InputError("No velocity pairs were given.", "select the velocity rasters to combine.")
        self.components = self.pairs[0].components
        for p in self.pairs[1:]:
            if p.components != self.components:
                raise InputError(
                    f"Pair '{p.name}' has components {', '.join(p.components)} but '{self.pairs[0].name}' has "
                    f"{', '.join(self.components)}.", "give pairs that all hold the same velocity components.")
        if self.grid is None:
            self.grid = read_grid(self.pairs[0].bands[0][1].path)

    @property
    def n_pairs(self):
        return len(self.pairs)

    @property
    def date1(self):
        return np.array([p.date1 for p in self.pairs], dtype="datetime64[D]")

    @property
    def date2(self):
        return np.array([p.date2 for p in self.pairs], dtype="datetime64[D]")

    @property
    def errors(self):
        """Error of each pair (m/yr), NaN where unknown."""
        return np.array([np.nan if p.error is None else p.error for p in self.pairs])

    def _reader(self, ref):
        key = (os.fspath(ref.path), int(ref.band))
        readers = self.__dict__.setdefault("_readers", {})
        if key not in readers:
            readers[key] = BandReader(ref.path, ref.band, "The velocity raster")
        return readers[key]

    def _read_band(self, ref, window, resampling=None):
        return self._reader(ref).read(self.grid, window, resampling or self.resampling)

    def read_pair(self, index, window=None):
        """(n_components, rows, cols) float32 m/yr of one pair."""
        pair = self.pairs[index]
        out = np.stack([self._read_band(ref, window) for _, ref in pair.bands]).astype(np.float32, copy=False)
        if pair.scale != 1.0:
            out *= np.float32(pair.scale)
        if pair.valid is not None:
            mask = self._read_band(pair.valid, window, "nearest")
            out[:, ~(mask > 0)] = np.nan
        return out

    def read(self, window=None):
        """(n_pairs, n_components, rows, cols) float32 m/yr, NaN where a pair has no value."""
        return np.stack([self.read_pair(i, window) for i in range(self.n_pairs)])

    def pixel_of(self, x, y):
        """(row, col) of map coordinates (x, y) in the stack's CRS; InputError if outside the grid."""
        col, row = ~self.grid.transform * (float(x), float(y))
        row, col = int(np.floor(row)), int(np.floor(col))
        if not (0 <= row < self.grid.height and 0 <= col < self.grid.width):
            raise InputError(f"The point ({x:g}, {y:g}) is outside the velocity rasters.",
                             "pick a point inside the first pair's extent (in its CRS).")
        return row, col

    def read_point(self, x, y):
        """(n_pairs, n_components) m/yr at map coordinates (x, y) (CRS of the stack's grid)."""
        row, col = self.pixel_of(x, y)
        return self.read((col, row, 1, 1))[:, :, 0, 0].astype(np.float64)
