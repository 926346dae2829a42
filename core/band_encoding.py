"""What a raster band's stored numbers mean, decided once per file for every read.

:func:`band_encoding` gives a :class:`BandEncoding`: the stored value that means "no value"
(the nodata tag, or a void value detected in an untagged file, or a tag the data type cannot
hold clipped into it, each with a :class:`~serac.core.errors.SeracWarning` naming the value),
a GDAL mask/alpha band when there is one, and GDAL scale/offset (value = stored * scale + offset).
:func:`open_raster` and :func:`reading` turn GDAL's failures on damaged or truncated files into
:class:`~serac.core.errors.UnreadableRasterError` naming the file and the fix. Used by every
reader in :mod:`serac.core.raster_io`.
"""

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from .errors import InputError, UnreadableRasterError
from .progress import warn


def file_name(path):
    return os.path.basename(os.fspath(path))


def open_raster(path):
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        if os.path.isfile(os.fspath(path)):
            raise UnreadableRasterError(
                f"GDAL cannot read the raster '{path}' ({exc}): the file is damaged, truncated or not a raster.",
                "download or export the file again (an interrupted copy gives a truncated file); "
                "'gdalinfo -checksum' on it shows whether GDAL can read all of it.") from None
        raise InputError(f"Cannot open raster '{path}': {exc}.",
                         "check the path and that the file is a raster GDAL can read.") from None


def _unreadable(path, exc):
    return UnreadableRasterError(
        f"Part of the raster '{path}' cannot be read ({exc}): the file is truncated or corrupt.",
        "download or export the file again (an interrupted copy gives a truncated file); "
        "'gdalinfo -checksum' on it shows whether GDAL can read all of it.")


@contextlib.contextmanager
def reading(path):
    """Turn GDAL read failures (truncated/corrupt file) into :class:`UnreadableRasterError` naming ``path``."""
    try:
        yield
    except rasterio.errors.RasterioIOError as exc:
        raise _unreadable(path, exc) from None
    except rasterio.errors.RasterioError as exc:
        if "read" in str(exc).lower() or "tiff" in str(exc).lower():
            raise _unreadable(path, exc) from None
        raise


# -- what a band's numbers mean: nodata, voids, scale/offset ---------------------------------------

#: Values that mark voids in files without a nodata tag (never a valid elevation, speed, angle or
#: backscatter): the common fill values and the float extremes GDAL writes for "no value".
VOID_VALUES = (-9999.0, -32768.0, -32767.0, float(np.finfo(np.float32).min), float(np.finfo(np.float32).max),
               float(np.finfo(np.float64).min), float(np.finfo(np.float64).max))

_SET_NODATA_FIX = ("set the right nodata value on the file ('gdal_edit.py -a_nodata VALUE file.tif', or "
                   "Raster > Conversion > Translate with 'Assign a specified nodata value').")


@dataclass(frozen=True)
class BandEncoding:
    """How to turn one band's stored numbers into values.

    ``nodata``: the stored value that means "no value" (from the tag, or detected), or None;
    ``gdal_mask``: validity comes from a GDAL mask/alpha band instead; ``scale``/``offset``:
    value = stored * scale + offset (GDAL metadata); ``note``: a warning about what was assumed.
    """

    nodata: float = None
    gdal_mask: bool = False
    scale: float = 1.0
    offset: float = 0.0
    note: str = None

    @property
    def scaled(self):
        return self.scale != 1.0 or self.offset != 0.0

    def decode(self, raw, dtype="float32", valid=None):
        """Values (float ``dtype``, NaN = nodata) from stored numbers ``raw``; ``valid``: GDAL mask (!= 0 valid)."""
        data = raw.astype(dtype, copy=True)
        if self.nodata is not None:
            data[np.isnan(raw) if np.isnan(self.nodata) else raw == self.nodata] = np.nan
        if valid is not None:
            data[valid == 0] = np.nan
        return self.apply_scale(data)

    def apply_scale(self, data):
        if self.scaled:
            data *= data.dtype.type(self.scale)
            data += data.dtype.type(self.offset)
        return data


def _holds(dtype, value):
    """True if ``value`` can be stored in ``dtype``."""
    dtype = np.dtype(dtype)
    if np.isnan(value):
        return dtype.kind == "f"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(value).is_integer() and info.min <= value <= info.max
    if dtype.kind == "f":
        info = np.finfo(dtype)
        return np.isinf(value) or float(info.min) <= value <= float(info.max)
    return True


def _clip_to(dtype, value):
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    clipped = min(max(value, float(info.min)), float(info.max))
    return float(round(clipped)) if dtype.kind in "iu" else clipped


def check_complete(ds, path):
    """Raise :class:`UnreadableRasterError` if a GeoTIFF's last blocks lie beyond the end of the file."""
    if ds.driver != "GTiff" or not os.path.isfile(path):
        return
    size = os.path.getsize(path)
    block_rows, block_cols = ds.block_shapes[0]
    x, y = (ds.width - 1) // block_cols, (ds.height - 1) // block_rows
    for band in sorted({1, ds.count}):
        try:
            offset = ds.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=band)
            nbytes = ds.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=band)
        except Exception:  # noqa: BLE001 - driver without block metadata: reads will tell
            return
        if offset and nbytes and int(offset) + int(nbytes) > size:
            raise _unreadable(path, f"it ends at {size} bytes but its data runs to {int(offset) + int(nbytes)}")


def _scan_voids(ds, band, candidates, path):
    """The ``candidates`` that occur in ``band`` (read in strips of about 4 Mpx)."""
    found = set()
    rows = max(1, (4 << 20) // max(1, ds.width))
    with reading(path):
        for r0 in range(0, ds.height, rows):
            raw = ds.read(band, window=Window(0, r0, ds.width, min(rows, ds.height - r0)))
            if raw.dtype.kind == "f":
                finite = raw[np.isfinite(raw)]
                if finite.size == 0:
                    continue
                lo, hi = float(finite.min()), float(finite.max())
            else:
                lo, hi = float(raw.min()), float(raw.max())
            for value in candidates:
                if value not in found and lo <= value <= hi and np.any(raw == raw.dtype.type(value)):
                    found.add(value)
    return sorted(found)


_ENCODINGS = {}


def band_encoding(path, band=1, zero_is_void=False):
    """The :class:`BandEncoding` of ``band`` of the raster at ``path`` (cached per file version).

    ``zero_is_void``: 0 in unsigned-integer data marks voids (DEMs: no glacier is at 0 m in an
    unsigned DEM's fill). Raises :class:`UnreadableRasterError` for a truncated file and
    :class:`InputError` when an untagged file holds two different void values.
    """
    path = os.fspath(path)
    try:
        stat = os.stat(path)
        key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size, int(band), bool(zero_is_void))
    except OSError:
        key = None
    if key is not None and key in _ENCODINGS:
        return _ENCODINGS[key]
    with open_raster(path) as ds:
        check_complete(ds, path)
        encoding = _encoding(ds, int(band), zero_is_void, path)
    if key is not None:
        _ENCODINGS[key] = encoding
    return encoding


def _encoding(ds, band, zero_is_void, path):
    dtype = np.dtype(ds.dtypes[band - 1])
    scale = float(ds.scales[band - 1]) if ds.scales[band - 1] is not None else 1.0
    offset = float(ds.offsets[band - 1]) if ds.offsets[band - 1] is not None else 0.0
    flags = ds.mask_flag_enums[band - 1]
    if not (flags == [MaskFlags.all_valid] or MaskFlags.nodata in flags):  # alpha band or internal mask
        return BandEncoding(None, True, scale, offset)
    tag = ds.nodatavals[band - 1]
    if tag is None:
        tag = _unheld_nodata_tag(path, band)
    if tag is not None:
        tag = float(tag)
        if _holds(dtype, tag):
            return BandEncoding(tag, False, scale, offset)
        clipped = _clip_to(dtype, tag)
        note = (f"The nodata tag {tag:g} of '{file_name(path)}' cannot occur in its {dtype.name} data; Serac treats "
                f"{clipped:g} (the tag clipped to {dtype.name}, what converting the data type makes of it) as "
                f"nodata. If that is wrong, {_SET_NODATA_FIX}")
        return BandEncoding(clipped, False, scale, offset, note)
    candidates = [v for v in VOID_VALUES if _holds(dtype, v) and (dtype.kind == "f" or v > -1e6)]
    candidates = sorted(set(candidates) | ({0.0} if zero_is_void and dtype.kind == "u" else set()))
    found = _scan_voids(ds, band, candidates, path) if candidates else []
    if len(found) > 1:
        raise InputError(f"'{file_name(path)}' has no nodata tag and holds several void values "
                         f"({', '.join(f'{v:g}' for v in found)}); Serac cannot tell which are data.",
                         "convert the voids to one value, then " + _SET_NODATA_FIX)
    if found:
        note = (f"'{file_name(path)}' has no nodata tag but holds {found[0]:g}, a void value; Serac treats "
                f"{found[0]:g} as nodata. If these are real values, {_SET_NODATA_FIX}")
        return BandEncoding(found[0], False, scale, offset, note)
    return BandEncoding(None, False, scale, offset)


def _unheld_nodata_tag(path, band):
    """The nodata tag GDAL reads but rasterio hides because the data type cannot hold it (or None)."""
    try:
        from osgeo import gdal
    except ImportError:  # rasterio only: such a tag goes unnoticed
        return None
    with contextlib.suppress(Exception):
        ds = gdal.OpenEx(os.fspath(path), gdal.OF_RASTER | gdal.OF_READONLY)
        return ds.GetRasterBand(int(band)).GetNoDataValue() if ds is not None else None
    return None


def encodings_of(path, ds, indexes, zero_is_void=False):
    """Encodings of ``indexes``, each warning once per call."""
    encodings = [band_encoding(path, i, zero_is_void) for i in indexes]
    for note in dict.fromkeys(e.note for e in encodings if e.note):
        warn(note)
    return encodings


def read_decoded(ds, path, indexes, encodings, window=None, dtype="float32"):
    """Bands ``indexes`` of an open dataset (or VRT) decoded to (bands, rows, cols) float with NaN."""
    with reading(path):
        raw = ds.read(indexes, window=window)
        masks = ds.read_masks(indexes, window=window) if any(e.gdal_mask for e in encodings) else None
    out = np.empty(raw.shape, dtype=dtype)
    for k, e in enumerate(encodings):
        valid = masks[k] if e.gdal_mask else None
        out[k] = e.decode(raw[k], dtype, valid)
    return out
