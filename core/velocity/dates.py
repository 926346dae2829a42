"""Acquisition dates of image pairs: parsing from file names and metadata, and the interval.

Recognized in file names (first match wins, years 1972-2099):

* Landsat Collection product ids ``LC08_L1TP_170002_20180401_20180416_01_T1``: the
  acquisition date is the first 8-digit date;
* Landsat pre-collection scene ids ``LE71400412000304SGS00``: year + day of year;
* Sentinel-2 product and tile names ``..._20200101T101421_...``, ``T32TLR_20200101T101421_B04``;
* any ``YYYYMMDD``, ``YYYY-MM-DD``, ``YYYY_MM_DD`` or ``YYYY.MM.DD``.

In metadata (GDAL tags): ``ACQUISITION_DATE``, ``DATE_ACQUIRED``, ``SENSING_TIME``,
``PRODUCT_START_TIME``, ... win over the file name. The TIFF ``DATETIME`` tag
(``YYYY:MM:DD HH:MM:SS``) is often the file's creation time, so it is used only when
neither acquisition tags nor the file name give a date.
"""

import datetime as _dt
import os
import re

from ..errors import InputError

DAYS_PER_YEAR = 365.25

_YEAR = r"(19[7-9]\d|20\d\d)"
_SEP_DATE = re.compile(_YEAR + r"[-_.:/](0[1-9]|1[0-2])[-_.:/](0[1-9]|[12]\d|3[01])")
_COMPACT_DATE = re.compile(r"(?<!\d)" + _YEAR + r"(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_COMPACT_DATE_T = re.compile(_YEAR + r"(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])T\d{6}")
_LANDSAT_SCENE = re.compile(r"L[COTEM]0?[1-9]\d{6}" + _YEAR + r"(\d{3})[A-Z]{3}\d{2}")

#: Metadata keys that may hold the acquisition date/time, in order of preference.
DATE_TAGS = ("ACQUISITION_DATE", "DATE_ACQUIRED", "ACQUISITION_START_TIME", "SENSING_TIME", "SENSING_START",
             "PRODUCT_START_TIME", "START_TIME", "DATATAKE_SENSING_START", "IMAGE_DATE", "DATE")
#: Generic time stamps (may be the file's creation time): the last resort.
FALLBACK_DATE_TAGS = ("TIFFTAG_DATETIME", "DATETIME")


def _make(year, month, day):
    try:
        return _dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_date(text):
    """The first acquisition date found in ``text`` (a file name or tag value) as ``datetime.date``, or None."""
    if not text:
        return None
    text = str(text)
    m = _LANDSAT_SCENE.search(text)
    if m:
        year, doy = int(m.group(1)), int(m.group(2))
        if 1 <= doy <= 366:
            return _dt.date(year, 1, 1) + _dt.timedelta(days=doy - 1)
    candidates = []
    for pattern in (_COMPACT_DATE_T, _SEP_DATE, _COMPACT_DATE):
        for m in pattern.finditer(text):
            d = _make(*m.groups())
            if d is not None:
                candidates.append((m.start(), d))
    return min(candidates)[1] if candidates else None


def date_from_tags(tags, keys=DATE_TAGS):
    """Acquisition date from a dict of metadata tags (case-insensitive keys), or None."""
    upper = {str(k).upper(): v for k, v in (tags or {}).items()}
    for key in keys:
        if key in upper:
            d = parse_date(upper[key])
            if d is not None:
                return d
    return None


def date_of_raster(path):
    """Acquisition date of a raster: acquisition tags, else the file name, else the TIFF time stamp, else None."""
    try:
        import rasterio

        with rasterio.open(path) as ds:
            tags = dict(ds.tags())
            for ns in ("IMAGERY", "TIFF"):
                try:
                    tags.update(ds.tags(ns=ns))
                except Exception:  # noqa: BLE001 - absent namespace
                    pass
    except Exception:  # noqa: BLE001 - unreadable metadata: fall back to the name
        tags = {}
    return (date_from_tags(tags) or parse_date(os.path.basename(str(path)))
            or date_from_tags(tags, FALLBACK_DATE_TAGS))


def as_date(value, what="date"):
    """A ``datetime.date`` from a date, datetime, ISO string or any text :func:`parse_date` reads."""
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    d = parse_date(value)
    if d is None:
        raise InputError(f"Cannot read the {what} '{value}'.", "give it as YYYY-MM-DD.")
    return d


def resolve_dates(reference_path, secondary_path, reference_date=None, secondary_date=None):
    """(reference date, secondary date): given values first, else parsed from the rasters.

    Raises :class:`InputError` when a date is missing or both are the same day.
    """
    ref = as_date(reference_date, "reference date") or (date_of_raster(reference_path) if reference_path else None)
    sec = as_date(secondary_date, "secondary date") or (date_of_raster(secondary_path) if secondary_path else None)
    for d, what in ((ref, "reference"), (sec, "secondary")):
        if d is None:
            raise InputError(f"The acquisition date of the {what} image is not given and could not be read from its "
                             "file name or metadata.", f"enter the {what} date (YYYY-MM-DD).")
    return ref, sec


def interval_years(reference_date, secondary_date):
    """Signed time from the reference to the secondary acquisition, in years (days / 365.25).

    Raises :class:`InputError` if both dates are the same day (no motion can be measured).
    """
    ref, sec = as_date(reference_date), as_date(secondary_date)
    days = (sec - ref).days
    if days == 0:
        raise InputError(f"Both images are dated {ref.isoformat()}: a velocity needs two different dates.",
                         "check the acquisition dates (or the file names they were read from).")
    return days / DAYS_PER_YEAR
