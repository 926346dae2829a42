"""Vertical datums of DEM pairs: the second DEM's heights put on the reference's datum with PROJ.

When both DEMs of a pair declare their vertical datum (a compound CRS such as EPSG:32633+5773
for EGM96 heights, or a 3-D CRS for ellipsoidal heights) and the datums differ, the second
DEM's heights are converted onto the reference's datum as they are read: the offset of
:func:`~.datum.datum_offset` (the conversion the point co-registration uses too) is evaluated
by PROJ on a lattice of the grid read and interpolated bilinearly in between
(:class:`DatumShift`). A co-registration then fits only the true vertical shift, and a dh map
holds no datum difference. Where only one DEM declares a datum, a datum is not one Serac
converts, the conversion is turned off, or PROJ lacks the geoid grid, nothing is converted and
a warning says what was assumed and how to fix it.

* :func:`match_datums` — used by the DEM co-registration, the uncertainty job (aligned DEM -
  reference) and the elevation change rate (every DEM onto the first DEM's datum);
* :func:`check_vertical_datum` — the fitted vertical shift compared with the local geoid undulation.
"""

import functools
from dataclasses import dataclass, field

import numpy as np

from ..progress import as_progress, warn
from .datum import DATUMS, FIX_PAIR, check_vertical_shift, datum_offset

#: The offset is evaluated by PROJ about every LATTICE_M metres (between 1 and MAX_LATTICE_PX px apart) and
#: interpolated bilinearly in between. The geoid models are grids of 15' (EGM96, ~28 km) and 2.5' (EGM2008,
#: ~4.6 km) interpolated bilinearly by PROJ, so the second interpolation changes the offset by well under 1 cm.
LATTICE_M = 250.0
MAX_LATTICE_PX = 64
#: Points per side of the lattice over the reference grid on which the reported offset statistics are taken.
SUMMARY_NODES = 25


@functools.lru_cache(maxsize=16)
def _to_lonlat(wkt):
    """PROJ transformer from the horizontal part of the CRS ``wkt`` (the first of a compound CRS; a 3-D CRS
    transforms x, y all the same) to longitude/latitude in degrees; built once per CRS."""
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(wkt)
    return Transformer.from_crs(crs.sub_crs_list[0] if crs.is_compound else crs, "EPSG:4326", always_xy=True)


def grid_lonlat(grid, rows, cols):
    """(lon, lat) in degrees of the pixel centres (rows, cols) of ``grid`` (arrays of the same shape)."""
    x, y = grid.xy(rows, cols)
    lon, lat = _to_lonlat(grid.crs.to_wkt()).transform(np.ravel(x), np.ravel(y))
    return np.reshape(lon, np.shape(rows)), np.reshape(lat, np.shape(rows))


def _pixel_size_m(grid):
    """About the larger pixel side in m (a degree counted as 111 km, which errs on the small-lattice side)."""
    res = max(abs(grid.res[0]), abs(grid.res[1]))
    if grid.crs.is_geographic:
        return res * 111_000.0
    try:
        return res * grid.crs.linear_units_factor[1]
    except Exception:  # noqa: BLE001 - no linear unit declared: take the unit as a metre
        return res


def _nodes(n, step):
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


def _weights(nodes, n):
    """(k, t): position p in 0 .. n - 1 lies between nodes[k] and nodes[k + 1], at fraction t (float32)."""
    if len(nodes) == 1:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32)
    pos = np.arange(n, dtype=np.float64)
    k = np.clip(np.searchsorted(nodes, pos, side="right") - 1, 0, len(nodes) - 2)
    return k, ((pos - nodes[k]) / (nodes[k + 1] - nodes[k])).astype(np.float32)


def _bilinear(values, rows, cols, height, width):
    """(height, width) float32 interpolated bilinearly from ``values`` known at the lattice ``rows`` x ``cols`` px."""
    k, t = _weights(cols, width)
    if len(cols) > 1:  # along the rows of the lattice first (small), then between them
        values = values[:, k] + (values[:, k + 1] - values[:, k]) * t
    else:
        values = np.repeat(values, width, axis=1)
    values = values.astype(np.float32)
    if len(rows) == 1:
        return np.repeat(values, height, axis=0)
    k, t = _weights(rows, height)
    out = values[k + 1] - values[k]
    out *= t[:, None]
    out += values[k]
    return out


@dataclass(frozen=True)
class DatumShift:
    """The height (m) that puts heights on ``from_datum`` onto ``to_datum``, on any window of any grid."""

    from_datum: str
    to_datum: str

    def values_at(self, lon, lat):
        """(offset in m at lon/lat in degrees, notes), or (None, why not) when a geoid grid is missing."""
        return datum_offset(lon, lat, self.from_datum, self.to_datum)

    def on(self, grid, window=None):
        """The offset (m, float32, rows x cols) at the pixel centres of ``window`` of ``grid`` (default: all)."""
        sub = grid if window is None else grid.window_grid(window)
        step = int(np.clip(LATTICE_M / _pixel_size_m(sub), 1, MAX_LATTICE_PX))
        rows, cols = _nodes(sub.height, step), _nodes(sub.width, step)
        lon, lat = grid_lonlat(sub, *np.meshgrid(rows, cols, indexing="ij"))
        offset, why = self.values_at(lon, lat)
        if offset is None:  # match_datums checked the grid is there; only a file removed meanwhile gets here
            raise RuntimeError(f"Vertical datum conversion failed: {why}")
        return _bilinear(offset, rows, cols, sub.height, sub.width)

    def __str__(self):
        return f"{self.from_datum} -> {self.to_datum}"


@dataclass
class PairDatum:
    """The vertical datums of a DEM pair and what was done about them.

    ``reference``/``other``: the datums the two DEMs declare (None: undeclared); ``shift``: the
    :class:`DatumShift` applied to the other DEM's heights as they are read (None: not converted);
    ``offset_m``: mean/min/max of that offset (m) over the reference grid; ``notes``: what was done;
    ``warnings``: what was assumed instead, and the shift-against-geoid warnings of a co-registration.
    """

    reference: str = None
    other: str = None
    shift: DatumShift = None
    offset_m: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def converted(self):
        return self.shift is not None

    @property
    def datums_after(self):
        """(reference datum, the other DEM's datum as read): the same once converted."""
        return self.reference, (f"{self.reference} (converted from {self.other})" if self.converted else self.other)

    def text(self):
        """One line for the user: the datums, then what was done and assumed."""
        head = f"reference: {self.reference or 'not declared'}, other DEM: {self.other or 'not declared'}"
        return "; ".join([head] + (self.notes + self.warnings or ["no conversion, no datum warning"]))

    def to_dict(self):
        return {"reference_datum": self.reference, "dem_datum": self.other, "converted": self.converted,
                "conversion": str(self.shift) if self.shift else None, "offset_m": dict(self.offset_m),
                "notes": list(self.notes), "warnings": list(self.warnings)}


def _offset_summary(shift, grid):
    """(mean/min/max of the offset in m over a lattice of ``grid``, notes) or (None, why not)."""
    rows = np.linspace(0, grid.height - 1, min(SUMMARY_NODES, grid.height))
    cols = np.linspace(0, grid.width - 1, min(SUMMARY_NODES, grid.width))
    lon, lat = grid_lonlat(grid, *np.meshgrid(rows, cols, indexing="ij"))
    offset, notes = shift.values_at(lon, lat)
    if offset is None:
        return None, notes
    return {"mean": float(np.nanmean(offset)), "min": float(np.nanmin(offset)),
            "max": float(np.nanmax(offset))}, notes


_DECLARE = ("Declare the datum of the {name}: assign it a compound CRS for heights above a geoid (e.g. "
            "EPSG:32633+5773 for EGM96, EPSG:32633+3855 for EGM2008, with your UTM zone) or a 3-D CRS for "
            "ellipsoidal heights (e.g. EPSG:4979 or a UTM CRS made 3-D), for instance with 'gdal_edit.py -a_srs', "
            "and run again: Serac then converts the heights with PROJ.")


def match_datums(reference, other, convert=True, progress=None):
    """``other`` (a :class:`~.sources.DemSource`) reading its heights on ``reference``'s vertical datum.

    Returns (the source to read, :class:`PairDatum`). Converts when both declare a datum among
    ellipsoid / EGM96 / EGM2008, they differ, ``convert`` is True and PROJ has the geoid grid;
    otherwise returns ``other`` unchanged and warns (:func:`~serac.core.progress.warn`) with what
    was assumed and the fix whenever the declared datums differ.
    """
    progress = as_progress(progress)
    ref, oth = reference.datum, other.datum
    pair = PairDatum(ref, oth)
    if ref == oth:
        if ref:
            pair.notes.append(f"both DEMs declare {ref} heights: no conversion needed")
        return other, pair
    what = f"The {reference.name}'s heights are relative to {_said(ref)} and the {other.name}'s to {_said(oth)}"
    if ref is None or oth is None:
        _warn(pair, f"{what}: Serac assumed both are on the same datum and converted nothing, so any datum "
                    "difference stays in the vertical shift and the dh.",
              _DECLARE.format(name=reference.name if ref is None else other.name))
        return other, pair
    if ref not in DATUMS or oth not in DATUMS:
        _warn(pair, f"{what}: Serac converts only between the ellipsoid, EGM96 and EGM2008, so nothing was "
                    "converted and the datum difference stays in the vertical shift and the dh.",
              f"Convert the {other.name} to the reference's vertical datum first (e.g. 'gdalwarp -s_srs <its "
              "compound CRS> -t_srs <the reference's compound CRS>') and run again.")
        return other, pair
    shift = DatumShift(oth, ref)
    summary, notes = _offset_summary(shift, reference.grid)
    if summary is None:
        from pyproj.datadir import get_data_dir

        _warn(pair, f"{what}, but they cannot be converted: {notes}. Nothing was converted: the datum difference "
                    "stays in the vertical shift and the dh.",
              f"Install the geoid grid (e.g. 'projsync --file <grid name>', or copy the file into the PROJ data "
              f"folder {get_data_dir()}) and run again, or convert one DEM yourself.")
        return other, pair
    pair.offset_m = summary
    if not convert:
        _warn(pair, f"{what} and the vertical datum conversion is turned off: the vertical shift and the dh include "
                    f"the datum difference (about {summary['mean']:+.2f} m here, {summary['min']:+.2f} to "
                    f"{summary['max']:+.2f} m).",
              "Turn 'Convert vertical datums' on to convert the heights with PROJ.")
        return other, pair
    pair.shift = shift
    pair.notes.append(f"The {other.name}'s heights were converted from {oth} to {ref} (the {reference.name}'s "
                      f"datum) with PROJ: height added {summary['mean']:+.2f} m on average ({summary['min']:+.2f} "
                      f"to {summary['max']:+.2f} m over the grid; " + "; ".join(notes) + ").")
    progress.info(pair.notes[-1])
    return other.with_datum_shift(shift), pair


def _said(datum):
    return "an undeclared datum" if datum is None else ("the ellipsoid" if datum == "ellipsoid" else datum)


def _warn(pair, problem, fix):
    pair.warnings.append(f"{problem} {fix}")
    warn(problem, fix)


def check_vertical_datum(reference_grid, pair, shift_z_m):
    """A co-registration's fitted vertical shift (m) against the geoid undulation at the scene
    (:func:`~.datum.check_vertical_shift`, with the datums as read after :func:`match_datums`): warns,
    adds the texts to ``pair.warnings`` and returns them."""
    if reference_grid.crs is None or not np.isfinite(shift_z_m):
        return []
    try:
        lon, lat = grid_lonlat(reference_grid, np.array([(reference_grid.height - 1) / 2.0]),
                               np.array([(reference_grid.width - 1) / 2.0]))
    except Exception:  # noqa: BLE001 - no geographic position: nothing to compare with
        return []
    texts = check_vertical_shift(shift_z_m, lon, lat, *pair.datums_after, fix=FIX_PAIR).warnings
    for text in texts:
        warn(text)
    pair.warnings += texts
    return texts
