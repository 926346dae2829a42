"""Versioned JSON metadata that every Serac segmentation model carries.

The metadata is stored as JSON text in the ONNX model's ``metadata_props`` under the key
:data:`METADATA_KEY` (``"serac"``) and mirrored in a ``<model>.json`` file beside it. It is
validated on load; every problem raises :class:`~serac.core.errors.ModelError` naming the
field and the fix. Schema (version :data:`SCHEMA_VERSION`)::

    {
      "schema_version": 1,
      "name": "glacier_landsat_v1", "version": "1.0.0",
      "task": "glacier_extent" | "calving_front_zones" | "fractures" | "segmentation",
      "description": "...",
      "input": {
        "bands": [{"name": "red", "sensor": "Landsat 7 ETM+", "description": "...", "units": "DN",
                   "source": "optical", "band": 1, "derive": "slope"}, ...],   (source/band/derive optional)
        "normalization": {"method": "mean_std", "mean": [...], "std": [...], "clip": [-6, 6]}
                       | {"method": "offset_scale", "offset": [...], "scale": [...]},
        "nodata": {"values": [0], "fill": 0.0},
        "pixel_size_m": 30.0,
        "pixel_size_tolerance": 0.5,
        "value_range": {"dtype": "uint8", "min": 0, "max": 255, "rescale": null | "percentile"}  (optional;
                                                     [low, high] is short for {"dtype": "", "min": low, "max": high})
      },
      "tiling": {"tile_size": 256, "overlap": 112, "size_multiple": 8, "context_px": 48},
      "output": {"activation": "sigmoid" | "softmax",
                 "classes": ["background", "glacier"], "positive_class": "glacier",
                 "threshold": 0.5, "front": ["glacier", "ocean"] | null, "temperature": 1.0},
      "time": {"dates": 6, "order": "oldest_first", "spacing_days": 12, "spacing_tolerance_days": 3}  (optional),
      "architecture": {"name": "serac-unet" | "serac-temporal-unet", ...} | null,
      "training": {"data": "...", "labels": "...", "date": "YYYY-MM-DD", "region": "...",
                   "sensor": "...", "season": "...", "metrics": {...}, "script": "..."}
    }

Semantics:

* Normalisation maps raw values (reflectance, DN, SAR dB, DEM m, ...) to network input:
  ``(value - offset) / scale`` (``mean``/``std`` are the same formula under other names),
  then optionally clipped to ``clip``.
* Multi-source models: every band names its ``source`` (the input raster it comes from, e.g.
  ``optical``, ``dem``, ``sar``) or none does (one raster, bands in file order). The model then
  takes one raster per source, in the order the sources first appear; ``band`` is the 1-based
  band of that raster (default: the source's next band), ``derive`` computes the band from it
  instead of reading it (``slope``: degrees, from a DEM in m). All are read onto the first
  raster's grid (see :mod:`.sources`).
* ``time`` (optional) makes a time-series model: the network input is 5-D (batch, dates, bands,
  rows, cols) with ``dates`` acquisitions oldest first, ``spacing_days`` apart (null: any)
  within ``spacing_tolerance_days``; ``input.bands`` and the normalisation describe one date.
  Inference reads the dates of the rasters given (see :mod:`.temporal`) and refuses a wrong
  number or spacing of dates.
* ``nodata.values`` are raw values treated as nodata in addition to the raster's own nodata;
  nodata pixels are set to ``nodata.fill`` (in normalised units) for the network and are
  nodata (NaN) in every output.
* ``sigmoid``: the network has one output channel, the logit of ``classes[1]``
  (2 classes); ``softmax``: one logit per class. ``threshold`` applies to the probability of
  ``positive_class``; ``front`` names the two classes whose boundary is a calving front.
* ``pixel_size_m`` is the ground sampling distance the model was trained at (m/px);
  rasters whose pixel size differs by more than the factor ``1 + pixel_size_tolerance``
  are refused.
* ``value_range`` (optional) declares the raw values the model was trained on: the data type
  and [min, max]. An input whose 1-99 % values fall outside it (e.g. 16-bit reflectance fed
  to a model trained on 8-bit DN) is refused, or, with ``"rescale": "percentile"``, its
  2-98 % range is stretched linearly onto [min, max] per band (with a warning). Floating-point
  input with values within 0-1 (reflectance) given to a model of integer data reaching 100 or more
  (e.g. 8-bit DN) is treated the same way, though it lies inside [min, max].
* ``overlap`` (px) is the width over which neighbouring tiles are blended; it must be
  below half the tile size. ``tile_size`` must be a multiple of ``size_multiple``.
* ``context_px`` (optional, default 0) is the network's effective receptive-field half-width
  (px): how far from a tile edge the zero padding still changes the output (measured with
  ``models/calibrate.py``). Inference discards up to that many px along interior tile edges
  (see :mod:`.tiling`); the default ``overlap`` should be at least twice it.
* ``temperature`` (optional, default 1.0, > 0): logits are divided by it before the
  activation (temperature scaling, fitted on held-out data; the class decisions do not
  change, the probabilities become calibrated).
"""

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import BandCountError, ModelError

SCHEMA_VERSION = 1
METADATA_KEY = "serac"
TASKS = ("glacier_extent", "calving_front_zones", "fractures", "segmentation")
ACTIVATIONS = ("sigmoid", "softmax")
NORMALIZATIONS = {"mean_std": ("mean", "std"), "offset_scale": ("offset", "scale")}

_FIX = "correct the model's metadata JSON (see models/export_onnx.py --help) and re-embed it."


def _fail(problem, fix=_FIX):
    raise ModelError(f"Model metadata: {problem}", fix)


def _get(d, key, types, where, default=...):
    if not isinstance(d, dict):
        _fail(f"'{where}' must be a JSON object.")
    if key not in d or d[key] is None:
        if default is ...:
            _fail(f"'{where}.{key}' is missing.")
        return default
    value = d[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        _fail(f"'{where}.{key}' must be {_type_names(types)}, not a boolean.")
    if not isinstance(value, types):
        _fail(f"'{where}.{key}' must be {_type_names(types)}, got {type(value).__name__}.")
    return value


def _type_names(types):
    types = types if isinstance(types, tuple) else (types,)
    if set(types) == {int, float}:
        return "a number"
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object",
             bool: "a boolean"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _numbers(values, where, n, positive=False):
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        _fail(f"'{where}' must be a list of {n} numbers (one per input band), got {got}.")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            _fail(f"'{where}' holds {v!r}; only finite numbers are allowed.")
        if positive and v <= 0:
            _fail(f"'{where}' holds {v!r}; scale/std values must be > 0.")
        out.append(float(v))
    return tuple(out)


@dataclass(frozen=True)
class BandSpec:
    """One input band: its name, the sensor it comes from, description and units."""

    name: str
    sensor: str = ""
    description: str = ""
    units: str = ""
    #: the input raster the band comes from (e.g. "optical", "dem", "sar"; "" = the one input raster)
    source: str = ""
    #: 1-based band of that raster (0: the next band of the source, in metadata order)
    band: int = 0
    #: computed from the source's band instead of read (one of :data:`DERIVED`, e.g. "slope"; "" = read)
    derive: str = ""

    def to_dict(self):
        d = {"name": self.name, "sensor": self.sensor, "description": self.description, "units": self.units}
        d.update({k: v for k, v in (("source", self.source), ("band", self.band), ("derive", self.derive)) if v})
        return d


def band_sources(bands):
    """Source names of :class:`BandSpec` s in order of first appearance (``[""]``: one unnamed raster)."""
    return list(dict.fromkeys(b.source for b in bands))


def source_plan(bands):
    """``[(source index, 1-based band, derive), ...]`` per :class:`BandSpec`: a band without ``band`` is the
    next band of its source (derived bands: band 1 unless given)."""
    names = band_sources(bands)
    taken = dict.fromkeys(names, 0)
    plan = []
    for b in bands:
        if b.derive:
            plan.append((names.index(b.source), b.band or 1, b.derive))
            continue
        taken[b.source] = b.band or taken[b.source] + 1
        plan.append((names.index(b.source), taken[b.source], ""))
    return plan


#: derived inputs a band may ask for (``input.bands[i].derive``), computed from its source band
DERIVED = ("slope",)


@dataclass(frozen=True)
class Normalization:
    """Per-band ``(value - offset) / scale``, then optional clipping (normalised units)."""

    method: str
    offset: tuple
    scale: tuple
    clip: tuple = None

    def apply(self, data):
        """Normalise raw data (bands, rows, cols) float; NaN stays NaN."""
        reps = max(1, len(data) // len(self.offset))  # a time series: the same bands for every date
        off = np.tile(np.asarray(self.offset, dtype=np.float32), reps)[:, None, None]
        sc = np.tile(np.asarray(self.scale, dtype=np.float32), reps)[:, None, None]
        out = (np.asarray(data, dtype=np.float32) - off) / sc
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)
        return out

    def to_dict(self):
        a, b = NORMALIZATIONS[self.method]
        d = {"method": self.method, a: list(self.offset), b: list(self.scale)}
        if self.clip is not None:
            d["clip"] = list(self.clip)
        return d


RESCALES = (None, "percentile")
#: orders of a time series' dates (the network's time axis)
TIME_ORDERS = ("oldest_first",)


@dataclass(frozen=True)
class TimeAxis:
    """The temporal axis of a time-series model: ``dates`` acquisitions, in ``order``, ``spacing_days`` apart
    (None: any spacing) within ``spacing_tolerance_days``. The network input is (batch, dates, bands, rows,
    cols); the rasters give the bands of every date, date after date."""

    dates: int
    order: str = "oldest_first"
    spacing_days: float = None
    spacing_tolerance_days: float = 0.0

    def to_dict(self):
        return {"dates": self.dates, "order": self.order, "spacing_days": self.spacing_days,
                "spacing_tolerance_days": self.spacing_tolerance_days}

    def check(self, dates, model_name):
        """Raise :class:`ModelError` unless ``dates`` (datetime64[D], one per acquisition, in the input's order)
        are as many as the model's, oldest first, and spaced as it was trained."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        if len(dates) != self.dates:
            raise ModelError(f"Model '{model_name}' takes a time series of {self.dates} dates; {len(dates)} "
                             f"given ({', '.join(str(d) for d in dates)}).",
                             f"give exactly {self.dates} dated rasters (or bands) of one track"
                             + (f", {self.spacing_days:g} days apart." if self.spacing_days else "."))
        steps = np.diff(dates).astype(float)
        if np.any(steps <= 0):
            raise ModelError(f"The dates given to model '{model_name}' are not in increasing order "
                             "(oldest first) or repeat a date.", "give one acquisition per date, oldest first.")
        if self.spacing_days and np.any(np.abs(steps - self.spacing_days) > self.spacing_tolerance_days):
            raise ModelError(f"Model '{model_name}' was trained on dates {self.spacing_days:g} days apart "
                             f"(± {self.spacing_tolerance_days:g}); the input's are {steps.astype(int).tolist()} "
                             "days apart.", f"choose acquisitions {self.spacing_days:g} days apart (one track).")


@dataclass(frozen=True)
class ValueRange:
    """The raw input values a model was trained on: data type name and [min, max] (raw units)."""

    dtype: str
    min: float
    max: float
    rescale: str = None

    def to_dict(self):
        return {"dtype": self.dtype, "min": self.min, "max": self.max, "rescale": self.rescale}

    def unit_scaled(self, high, dtype):
        """True for floating-point input whose 99th percentile ``high`` is at most 1 (reflectance 0-1, say)
        while the model was trained on integers reaching far above 1 (e.g. 8-bit DN 0-255): such data fits
        inside [min, max] yet is not what the model was made for."""
        try:
            kinds = np.dtype(self.dtype).kind, np.dtype(dtype).kind
        except TypeError:  # no (or an unknown) data type declared: the range alone decides
            return False
        return kinds[0] in "iu" and kinds[1] == "f" and self.max >= 100 and high <= 1.0

    def check(self, sample, dtype, model_name):
        """None if the (bands, n) raw ``sample`` fits, else per-band (low, high) raw values to stretch onto
        [min, max] when ``rescale`` allows it; raises :class:`ModelError` naming the fix otherwise."""
        values = [b[np.isfinite(b)] for b in np.asarray(sample, dtype=np.float64)]
        if not any(v.size for v in values):
            return None
        lo = min(float(np.percentile(v, 1)) for v in values if v.size)
        hi = max(float(np.percentile(v, 99)) for v in values if v.size)
        tolerance = 0.02 * (self.max - self.min)
        unit_scaled = self.unit_scaled(hi, dtype)
        if self.min - tolerance <= lo and hi <= self.max + tolerance and not unit_scaled:
            return None
        what = (f"The input's values (1-99 % range {lo:.4g} to {hi:.4g}, {dtype}) are outside the "
                f"{self.min:g} to {self.max:g} ({self.dtype}) that model '{model_name}' was trained on")
        if unit_scaled:
            what = (f"The input's values (1-99 % range {lo:.4g} to {hi:.4g}, {dtype}) look like reflectance "
                    f"scaled 0-1, not the {self.min:g} to {self.max:g} ({self.dtype}) that model '{model_name}' "
                    "was trained on")
        if self.rescale == "percentile":
            from ..progress import warn

            stretch = [tuple(float(x) for x in np.percentile(v, [2, 98])) if v.size else (self.min, self.max)
                       for v in values]
            warn(what + ".", f"As its metadata says, each band's 2-98 % range is stretched onto {self.min:g} to "
                             f"{self.max:g}.")
            return stretch
        raise ModelError(what + "; the model would return nonsense.",
                         f"convert the raster to the model's range first (Raster > Conversion > Translate: "
                         f"rescale {lo:.4g} {hi:.4g} to {self.min:g} {self.max:g}, output type "
                         f"{self.dtype}), or use a model trained on data like yours.")


@dataclass(frozen=True)
class ModelMetadata:
    """Validated model metadata (build with :meth:`from_dict` / :meth:`from_json`)."""

    name: str
    version: str
    task: str
    description: str
    bands: tuple
    normalization: Normalization
    nodata_values: tuple
    nodata_fill: float
    pixel_size_m: float
    pixel_size_tolerance: float
    tile_size: int
    overlap: int
    size_multiple: int
    activation: str
    classes: tuple
    positive_class: str
    threshold: float
    front: tuple
    architecture: dict
    training: dict
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)
    value_range: ValueRange = None
    context_px: int = 0
    temperature: float = 1.0
    time: TimeAxis = None

    @property
    def n_dates(self):
        """Dates the network takes (1: not a time-series model)."""
        return self.time.dates if self.time else 1

    @property
    def n_channels(self):
        """Input channels the tiles carry: bands x dates (date after date)."""
        return self.n_bands * self.n_dates

    def network_shape(self, n, rows, cols):
        """Shape of the network input for ``n`` tiles: (n, bands, rows, cols) or (n, dates, bands, rows, cols)."""
        return (n, self.n_dates, self.n_bands, rows, cols) if self.time else (n, self.n_bands, rows, cols)

    # ------------------------------------------------------------------ derived
    @property
    def n_bands(self):
        return len(self.bands)

    @property
    def band_names(self):
        return [b.name for b in self.bands]

    @property
    def sources(self):
        """Names of the input rasters the model takes, in order (first named first); ``[""]``: one raster."""
        return band_sources(self.bands)

    def source_plan(self):
        """``[(source index, 1-based band, derive), ...]`` per model band: where each band is read from."""
        return source_plan(self.bands)

    @property
    def n_outputs(self):
        """Channels the network outputs: 1 for sigmoid, one per class for softmax."""
        return 1 if self.activation == "sigmoid" else len(self.classes)

    @property
    def output_names(self):
        """Names of the probability bands inference writes (one per network output)."""
        return [self.classes[1]] if self.activation == "sigmoid" else list(self.classes)

    @property
    def positive_index(self):
        """Index of ``positive_class`` among :attr:`output_names` (None when there is none)."""
        if self.positive_class is None:
            return None
        return self.output_names.index(self.positive_class)

    def class_index(self, name):
        """0-based index of a class name in :attr:`classes` (class-map values)."""
        if name not in self.classes:
            raise ModelError(f"The model has no class '{name}'.", f"use one of {list(self.classes)}.")
        return self.classes.index(name)

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_json(cls, text):
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"Model metadata is not valid JSON ({exc}).", _FIX) from None
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            _fail("the metadata must be a JSON object.")
        version = _get(d, "schema_version", int, "metadata")
        if version != SCHEMA_VERSION:
            _fail(f"schema_version {version} is not supported (this Serac reads version {SCHEMA_VERSION}).",
                  "update Serac, or re-export the model with this version's models/export_onnx.py.")
        name = _get(d, "name", str, "metadata")
        if not name.strip():
            _fail("'name' is empty.")
        task = _get(d, "task", str, "metadata")
        if task not in TASKS:
            _fail(f"'task' is {task!r}; expected one of {TASKS}.")

        inp = _get(d, "input", dict, "metadata")
        raw_bands = _get(inp, "bands", list, "input")
        if not raw_bands:
            _fail("'input.bands' is empty; list the input bands in order.")
        bands = []
        for i, b in enumerate(raw_bands):
            where = f"input.bands[{i}]"
            spec = BandSpec(_get(b, "name", str, where), _get(b, "sensor", str, where, ""),
                            _get(b, "description", str, where, ""), _get(b, "units", str, where, ""),
                            _get(b, "source", str, where, ""), _get(b, "band", int, where, 0),
                            _get(b, "derive", str, where, ""))
            if spec.band < 0:
                _fail(f"'{where}.band' must be a 1-based band number (or 0: the next band), got {spec.band}.")
            if spec.derive and spec.derive not in DERIVED:
                _fail(f"'{where}.derive' is {spec.derive!r}; expected one of {DERIVED}.")
            bands.append(spec)
        if any(b.source for b in bands) and not all(b.source for b in bands):
            _fail("some 'input.bands' name a 'source' and others do not.",
                  "name the source raster (e.g. optical, dem, sar) of every band, or of none.")
        n = len(bands)

        norm = _get(inp, "normalization", dict, "input")
        method = _get(norm, "method", str, "input.normalization")
        if method not in NORMALIZATIONS:
            _fail(f"'input.normalization.method' is {method!r}; expected one of {sorted(NORMALIZATIONS)}.")
        a, b = NORMALIZATIONS[method]
        offset = _numbers(_get(norm, a, list, "input.normalization"), f"input.normalization.{a}", n)
        scale = _numbers(_get(norm, b, list, "input.normalization"), f"input.normalization.{b}", n, positive=True)
        clip = _get(norm, "clip", list, "input.normalization", None)
        if clip is not None:
            clip = _numbers(clip, "input.normalization.clip", 2)
            if clip[0] >= clip[1]:
                _fail("'input.normalization.clip' must be [low, high] with low < high.")

        nodata = _get(inp, "nodata", dict, "input", {})
        nodata_values = _get(nodata, "values", list, "input.nodata", [])
        nodata_values = _numbers(nodata_values, "input.nodata.values", len(nodata_values)) if nodata_values else ()
        fill = float(_get(nodata, "fill", (int, float), "input.nodata", 0.0))

        px = float(_get(inp, "pixel_size_m", (int, float), "input"))
        if not (math.isfinite(px) and px > 0):
            _fail(f"'input.pixel_size_m' must be > 0 (m/px), got {px}.")
        tol = float(_get(inp, "pixel_size_tolerance", (int, float), "input", 0.5))
        if not 0 < tol <= 10:
            _fail(f"'input.pixel_size_tolerance' must be in (0, 10], got {tol}.")

        value_range = _get(inp, "value_range", (dict, list), "input", None)
        if isinstance(value_range, list):  # [low, high]: the short form, no data type declared
            low_high = _numbers(value_range, "input.value_range", 2)
            value_range = {"dtype": "", "min": low_high[0], "max": low_high[1]}
        if value_range is not None:
            rng = _numbers([_get(value_range, "min", (int, float), "input.value_range"),
                            _get(value_range, "max", (int, float), "input.value_range")], "input.value_range", 2)
            if rng[0] >= rng[1]:
                _fail("'input.value_range' must have min < max.")
            rescale = _get(value_range, "rescale", str, "input.value_range", None)
            if rescale not in RESCALES:
                _fail(f"'input.value_range.rescale' is {rescale!r}; expected null or 'percentile'.")
            value_range = ValueRange(_get(value_range, "dtype", str, "input.value_range", ""), rng[0], rng[1],
                                     rescale)

        tiling = _get(d, "tiling", dict, "metadata")
        tile = _get(tiling, "tile_size", int, "tiling")
        overlap = _get(tiling, "overlap", int, "tiling", 0)
        multiple = _get(tiling, "size_multiple", int, "tiling", 1)
        if tile <= 0:
            _fail(f"'tiling.tile_size' must be a positive number of px, got {tile}.")
        if multiple <= 0 or tile % multiple:
            _fail(f"'tiling.tile_size' ({tile} px) must be a positive multiple of size_multiple ({multiple}).")
        if overlap < 0 or 2 * overlap >= tile:
            _fail(f"'tiling.overlap' ({overlap} px) must be >= 0 and below half the tile size ({tile} px).")
        context = _get(tiling, "context_px", int, "tiling", 0)
        if context < 0 or 2 * context >= tile:
            _fail(f"'tiling.context_px' ({context} px) must be >= 0 and below half the tile size ({tile} px).")

        out = _get(d, "output", dict, "metadata")
        activation = _get(out, "activation", str, "output")
        if activation not in ACTIVATIONS:
            _fail(f"'output.activation' is {activation!r}; expected one of {ACTIVATIONS}.")
        classes = _get(out, "classes", list, "output")
        if not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
            _fail("'output.classes' must be a list of distinct, non-empty names.")
        if activation == "sigmoid" and len(classes) != 2:
            _fail(f"a sigmoid model has exactly 2 classes (background, positive); got {len(classes)}.")
        if activation == "softmax" and len(classes) < 2:
            _fail("a softmax model needs at least 2 classes.")
        positive = _get(out, "positive_class", str, "output", classes[1] if activation == "sigmoid" else None)
        if positive is not None and positive not in classes:
            _fail(f"'output.positive_class' {positive!r} is not one of the classes {classes}.")
        if activation == "sigmoid" and positive != classes[1]:
            _fail("for a sigmoid model 'output.positive_class' must be the second class (the one the logit is for).")
        threshold = float(_get(out, "threshold", (int, float), "output", 0.5))
        if not 0 < threshold < 1:
            _fail(f"'output.threshold' must be a probability strictly between 0 and 1, got {threshold}.")
        front = _get(out, "front", list, "output", None)
        if front is not None:
            if len(front) != 2 or any(c not in classes for c in front) or front[0] == front[1]:
                _fail(f"'output.front' must name two different classes among {classes}, got {front}.")
            front = tuple(front)
        temperature = float(_get(out, "temperature", (int, float), "output", 1.0))
        if not (math.isfinite(temperature) and 0.05 <= temperature <= 20):
            _fail(f"'output.temperature' must be a number between 0.05 and 20 (1 = uncalibrated), got {temperature}.")
        if task == "calving_front_zones" and front is None:
            _fail("a calving_front_zones model needs 'output.front' (e.g. [\"glacier\", \"ocean\"]).")

        time = _get(d, "time", dict, "metadata", None)
        if time is not None:
            n_dates = _get(time, "dates", int, "time")
            order = _get(time, "order", str, "time", "oldest_first")
            spacing = _get(time, "spacing_days", (int, float), "time", None)
            tolerance = float(_get(time, "spacing_tolerance_days", (int, float), "time", 0.0))
            if n_dates < 2:
                _fail(f"'time.dates' must be at least 2 (a time series), got {n_dates}.")
            if order not in TIME_ORDERS:
                _fail(f"'time.order' is {order!r}; expected one of {TIME_ORDERS}.")
            if spacing is not None and not spacing > 0 or tolerance < 0:
                _fail("'time.spacing_days' must be > 0 (or null: any spacing) and spacing_tolerance_days >= 0.")
            time = TimeAxis(n_dates, order, None if spacing is None else float(spacing), tolerance)
            if any(b.source for b in bands):
                _fail("a time-series model ('time') cannot also name band sources (multi-source inputs).",
                      "drop 'source' from input.bands: every date gives the same bands.")
        arch = _get(d, "architecture", dict, "metadata", None)
        training = _get(d, "training", dict, "metadata", {})
        known = {"schema_version", "name", "version", "task", "description", "input", "tiling", "output",
                 "architecture", "training", "time"}
        return cls(name=name, version=str(_get(d, "version", (str, int, float), "metadata", "0")), task=task,
                   description=_get(d, "description", str, "metadata", ""), bands=tuple(bands),
                   normalization=Normalization(method, offset, scale, clip), nodata_values=nodata_values,
                   nodata_fill=fill, pixel_size_m=px, pixel_size_tolerance=tol, tile_size=tile,
                   overlap=overlap, size_multiple=multiple, activation=activation, classes=tuple(classes),
                   positive_class=positive, threshold=threshold, front=front, architecture=arch,
                   training=training, schema_version=version,
                   extra={k: v for k, v in d.items() if k not in known}, value_range=value_range,
                   context_px=context, temperature=temperature, time=time)

    def to_dict(self):
        d = {
            "schema_version": self.schema_version,
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "description": self.description,
            "input": {
                "bands": [b.to_dict() for b in self.bands],
                "normalization": self.normalization.to_dict(),
                "nodata": {"values": list(self.nodata_values), "fill": self.nodata_fill},
                "pixel_size_m": self.pixel_size_m,
                "pixel_size_tolerance": self.pixel_size_tolerance,
                **({"value_range": self.value_range.to_dict()} if self.value_range else {}),
            },
            "tiling": {"tile_size": self.tile_size, "overlap": self.overlap, "size_multiple": self.size_multiple,
                       **({"context_px": self.context_px} if self.context_px else {})},
            "output": {"activation": self.activation, "classes": list(self.classes),
                       "positive_class": self.positive_class, "threshold": self.threshold,
                       "front": list(self.front) if self.front else None,
                       **({"temperature": self.temperature} if self.temperature != 1.0 else {})},
            **({"time": self.time.to_dict()} if self.time else {}),
            "architecture": self.architecture,
            "training": self.training,
        }
        d.update(self.extra)
        return d

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    # ------------------------------------------------------------------ checks against inputs
    def check_band_count(self, n_bands):
        """Raise :class:`BandCountError` unless the input has this model's number of bands (x dates)."""
        if self.time and n_bands != self.n_channels:
            raise BandCountError(
                f"Model '{self.name}' takes {self.n_dates} dates of {self.n_bands} band(s) "
                f"({', '.join(self.band_names)}), {self.n_channels} bands in all; the input has {n_bands}.",
                f"give {self.n_dates} dated rasters (or bands), each with the model's bands.")
        if n_bands != self.n_channels:
            raise BandCountError(
                f"Model '{self.name}' expects {self.n_bands} band(s) ({', '.join(self.band_names)}) "
                f"but the input has {n_bands}.",
                f"select exactly these {self.n_bands} bands, in this order: {', '.join(self.band_names)}.")

    def pixel_size_range(self):
        """(min, max) accepted pixel size in m."""
        f = 1.0 + self.pixel_size_tolerance
        return self.pixel_size_m / f, self.pixel_size_m * f

    def check_pixel_size(self, pixel_size_m):
        """Raise :class:`ModelError` if ``pixel_size_m`` (m/px) is far from the model's."""
        lo, hi = self.pixel_size_range()
        if not lo <= pixel_size_m <= hi:
            raise ModelError(
                f"The raster's pixel size ({pixel_size_m:.4g} m) is far from the {self.pixel_size_m:g} m "
                f"that model '{self.name}' was trained at (accepted {lo:.3g}-{hi:.3g} m).",
                f"resample the raster to about {self.pixel_size_m:g} m (Raster > Projections > Warp, "
                "output resolution), or use a model trained at this resolution.")

    def check_network_shapes(self, input_shape, output_shape):
        """Check the ONNX input/output shapes (lists; None/str for dynamic dims) against the metadata."""
        if self.time:
            if input_shape is None or len(input_shape) != 5:
                _fail(f"a time-series network input must be 5-D (batch, dates, bands, rows, cols), got shape "
                      f"{input_shape}.", "export the network with an (N, T, C, H, W) input.")
            if isinstance(input_shape[1], int) and input_shape[1] != self.n_dates:
                _fail(f"the network takes {input_shape[1]} dates but the metadata's 'time.dates' is {self.n_dates}.",
                      "set time.dates to the network's number of dates.")
            input_shape = [input_shape[0], *input_shape[2:]]
        if input_shape is None or len(input_shape) != 4:
            _fail(f"the network input must be 4-D (batch, bands, rows, cols), got shape {input_shape}.",
                  "export the network with an NCHW input.")
        c_in = input_shape[1]
        if isinstance(c_in, int) and c_in != self.n_bands:
            _fail(f"the network takes {c_in} input channel(s) but the metadata lists {self.n_bands} band(s).",
                  "make 'input.bands' list one entry per network input channel, in order.")
        if output_shape is not None and len(output_shape) == 4 and isinstance(output_shape[1], int):
            if output_shape[1] != self.n_outputs:
                _fail(f"the network outputs {output_shape[1]} channel(s) but a {self.activation} model with "
                      f"classes {list(self.classes)} needs {self.n_outputs}.",
                      "fix 'output.activation'/'output.classes' or re-export the network.")
        for dim in (2, 3):
            size = input_shape[dim]
            if isinstance(size, int) and size != self.tile_size:
                _fail(f"the network input has a fixed size of {size} px but tiling.tile_size is {self.tile_size}.",
                      "set tiling.tile_size to the network's input size (or export with dynamic sizes).")
