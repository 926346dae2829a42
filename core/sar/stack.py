"""Dated backscatter stacks: one polarisation of one relative orbit, one raster band per acquisition date.

A stack is given as single-band rasters (one per date) or as one (or more) multi-band rasters (one band
per date), or a mix. Each band's date is found, in this order:

* the ``dates`` given explicitly (one per band, in the order of the bands);
* a date in the band description (``YYYY-MM-DD``, ``YYYYMMDD`` or ``YYYYMMDDTHHMMSS``, e.g. ``VV_20210401``);
* a band or dataset tag ``DATE``, ``ACQUISITION_DATE``, ``ACQUISITION_START``, ``START_DATE`` or ``TIME``;
* a date in the file name, for single-band files (e.g. pyroSAR's ``S1A__IW___A_20150309T173017_VV_...tif``).

The relative orbit (track) of each band is taken from tags (``RELATIVE_ORBIT``, ``relativeOrbitNumber``,
``TRACK``) or from a Sentinel-1 product name in the file name (absolute orbit -> relative orbit), and the
pass direction from tags (``PASS``, ``ORBIT_DIRECTION``) or pyroSAR-style names (``_A_``/``_D_``). Dates of
different relative orbits or passes must not be mixed in one melt analysis: :func:`open_stack` refuses
them, naming the dates of each.

Every band must be on the same grid (CRS, transform, size): nothing is resampled silently.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
import rasterio

from .. import raster_io
from ..errors import InputError
from ..timeseries.design import as_day, iso
from ..timeseries.io import _dates_in
from . import units

_DATE_TAGS = ("date", "acquisitiondate", "acquisitionstart", "startdate", "time", "datetime", "acquisitiontime")
_ORBIT_TAGS = ("relativeorbit", "relativeorbitnumber", "relorbit", "track", "orbitrelative")
_PASS_TAGS = ("pass", "orbitdirection", "passdirection", "flightdirection")
#: Sentinel-1 product name: mission, start time, stop time, absolute orbit.
_S1_NAME = re.compile(r"S1([AB])_\w+?_(\d{8}T\d{6})_(\d{8}T\d{6})_(\d{6})_")
#: pyroSAR-style names: S1A__IW___A_20150309T173017 (A = ascending, D = descending).
_PYROSAR_PASS = re.compile(r"S1[AB]_+\w{2}_+([AD])_\d{8}T\d{6}")
#: Absolute -> relative orbit: relative = (absolute - offset) mod 175 + 1.
_ORBIT_OFFSET = {"A": 73, "B": 27}
_PASS_NAMES = {"a": "ascending", "asc": "ascending", "ascending": "ascending",
               "d": "descending", "desc": "descending", "descending": "descending"}


def _norm(key):
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


def _tag(tags, keys):
    norm = {_norm(k): v for k, v in (tags or {}).items()}
    return next((norm[k] for k in keys if norm.get(k) not in (None, "")), None)


def relative_orbit_from_name(name):
    """Relative orbit of a Sentinel-1 product name (from its absolute orbit), or None."""
    m = _S1_NAME.search(os.path.basename(str(name)))
    if not m:
        return None
    return (int(m.group(4)) - _ORBIT_OFFSET[m.group(1)]) % 175 + 1


def pass_from_name(name):
    """'ascending'/'descending' from a pyroSAR-style file name, or None."""
    m = _PYROSAR_PASS.search(os.path.basename(str(name)))
    return _PASS_NAMES[m.group(1).lower()] if m else None


@dataclass(frozen=True)
class DatedBand:
    """One acquisition: band ``band`` (1-based) of ``path``, its date, relative orbit and pass (None = unknown)."""

    path: str
    band: int
    date: np.datetime64
    orbit: int = None
    pass_direction: str = None

    @property
    def label(self):
        where = os.path.basename(self.path) + (f" band {self.band}" if self.band != 1 else "")
        return f"{iso(self.date)} ({where})"


def _band_date(description, band_tags, tags, path, count):
    for text in (description,):
        found = _dates_in(text or "")
        if found:
            return found[0]
    for source in (band_tags, tags if count == 1 else {}):
        value = _tag(source, _DATE_TAGS)
        if value is not None:
            try:
                return as_day(value)
            except InputError:
                pass
    if count == 1:
        found = _dates_in(os.path.basename(path))
        if found:
            return found[0]
    return None


def describe_bands(paths):
    """Every band of ``paths`` as a :class:`DatedBand` (date None where none is found), in order."""
    out = []
    for path in paths:
        path = os.fspath(path)
        try:
            ds = rasterio.open(path)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(f"Cannot open raster '{path}': {exc}.", "check the path of every stack raster.") \
                from None
        with ds:
            tags = ds.tags()
            orbit_text = _tag(tags, _ORBIT_TAGS)
            pass_text = _tag(tags, _PASS_TAGS)
            for b in range(1, ds.count + 1):
                band_tags = ds.tags(b)
                date = _band_date(ds.descriptions[b - 1], band_tags, tags, path, ds.count)
                orbit = _tag(band_tags, _ORBIT_TAGS) or orbit_text
                direction = _tag(band_tags, _PASS_TAGS) or pass_text
                try:
                    orbit = int(float(orbit)) if orbit is not None else relative_orbit_from_name(path)
                except ValueError:
                    orbit = None
                direction = _PASS_NAMES.get(str(direction).strip().lower()) if direction else pass_from_name(path)
                out.append(DatedBand(path, b, date, orbit, direction))
    return out


def _check_dates(bands, dates, what):
    if dates is not None:
        dates = [as_day(d) for d in dates]
        if len(dates) != len(bands):
            raise InputError(f"{len(dates)} date(s) were given for the {len(bands)} band(s) of the {what}.",
                             "give one date per band (per single-band raster), in order, or none to read them "
                             "from the band descriptions or file names.")
        bands = [DatedBand(b.path, b.band, d, b.orbit, b.pass_direction) for b, d in zip(bands, dates)]
    missing = [f"{os.path.basename(b.path)} band {b.band}" for b in bands if b.date is None]
    if missing:
        raise InputError(f"No acquisition date was found for {len(missing)} band(s) of the {what}: "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}.",
                         "name the files or band descriptions with their date (YYYYMMDD or YYYY-MM-DD), tag them "
                         "with DATE, or give the dates explicitly (one per band, in order).")
    seen = {}
    for b in bands:
        if b.date in seen:
            raise InputError(f"The {what} has two acquisitions on {iso(b.date)} ({seen[b.date].label} and "
                             f"{b.label}).", "give one acquisition per date (one relative orbit passes once a day).")
        seen[b.date] = b
    return sorted(bands, key=lambda b: b.date)


def check_single_track(bands, what="stack"):
    """Refuse dates of different relative orbits or passes, naming the dates of each (InputError)."""
    for attr, name in (("orbit", "relative orbits"), ("pass_direction", "passes")):
        groups = {}
        for b in bands:
            value = getattr(b, attr)
            if value is not None:
                groups.setdefault(value, []).append(iso(b.date))
        if len(groups) > 1:
            listing = "; ".join(f"{k}: {', '.join(v[:6])}{' ...' if len(v) > 6 else ''}"
                                for k, v in sorted(groups.items(), key=lambda kv: str(kv[0])))
            raise InputError(f"The {what} mixes {len(groups)} {name} ({listing}).",
                             "use the dates of one relative orbit (track) only: the backscatter of different "
                             "viewing geometries cannot share one dry-snow reference. Run once per track.")


class DatedStack:
    """The bands of one polarisation, sorted by date, on one grid; :meth:`read` gives (dates, rows, cols) in dB."""

    def __init__(self, bands, unit, what):
        self.bands = list(bands)
        self.what = what
        self.grid = raster_io.read_grid(self.bands[0].path)
        self.unit = unit
        self._check_grids()

    @property
    def dates(self):
        return np.array([b.date for b in self.bands], dtype="datetime64[D]")

    def _check_grids(self):
        for path in dict.fromkeys(b.path for b in self.bands):
            grid = raster_io.read_grid(path)
            if not grid.matches(self.grid):
                raise InputError(f"The rasters of the {self.what} are on different grids: "
                                 f"{os.path.basename(self.bands[0].path)} is {self.grid.describe()}, "
                                 f"{os.path.basename(path)} is {grid.describe()}.",
                                 "co-register the stack onto one grid first (same CRS, pixel size and extent), "
                                 "e.g. with Raster > Align Rasters.")

    def read(self, window):
        """All dates of ``window`` as float32 dB, (dates, rows, cols), NaN where no data."""
        out = np.empty((len(self.bands), int(window.height), int(window.width)), dtype=np.float32)
        by_path = {}
        for i, b in enumerate(self.bands):
            by_path.setdefault(b.path, []).append((i, b.band))
        for path, items in by_path.items():
            data = raster_io.read_raster(path, bands=[b for _, b in items], window=window).data
            for (i, _), values in zip(items, data):
                out[i] = values
        if self.unit == units.LINEAR:
            units.to_db(out, out=out)
        return out


def open_stack(paths, dates=None, unit="auto", what="VV stack", progress=None):
    """A :class:`DatedStack` of ``paths`` (rasters; one band per date), checked: dates found and distinct,
    one relative orbit, one grid. ``unit``: 'auto', 'dB' or 'linear' (decided on the first raster)."""
    from .engine import decide_raster_unit

    paths = [os.fspath(p) for p in (paths or [])]
    if not paths:
        raise InputError(f"The {what} is empty.", "give the backscatter rasters of the time series.")
    bands = _check_dates(describe_bands(paths), dates, what)
    check_single_track(bands, what)
    decision = decide_raster_unit(paths[0], unit, None, progress, what=f"The {what}")
    return DatedStack(bands, decision.unit, what)
