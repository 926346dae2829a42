"""The shape every Serac capability shares: settings, one ``run`` call, a result.

A *job* is one capability of the core (velocity of a pair, DEM co-registration,
SAR normalization, ...). Every job is called the same way, by Processing, the
command line or a batch runner::

    result = job.run(inputs, outputs, settings, feedback=None, threads=None)

- ``inputs``: input name -> file path (or list of paths, or GeoJSON-like geometries for outlines);
- ``outputs``: output name -> file path to write (an optional output left out is not written);
- ``settings``: a frozen :class:`Settings` dataclass; each field carries its value, unit, label,
  range or choices and an "advanced" flag in its metadata (see :func:`setting`), so a front end can
  build its form from it and a JSON file can hold it (:meth:`Settings.from_json`);
- ``feedback``: anything following :class:`Feedback` (progress fraction, message, warning,
  is_cancelled) or a QGIS-style feedback (``setProgress``/``pushInfo``/``pushWarning``/``isCanceled``);
- ``threads``: CPU threads this call may use (BLAS/OpenMP pools, GDAL, FFT and torch workers),
  set for the call only (:func:`thread_limits`), never for the whole process.

A job returns a :class:`Result`: the files written, the numbers (name -> float/int/str with the
unit in the job's ``NUMBERS`` labels), a JSON-able report, and vector features for the front end
to write where the job does not write them itself.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Union, runtime_checkable

from ..errors import InputError
from ..progress import NullFeedback
from ..threads import current_threads, gdal_threads, thread_limits  # noqa: F401 (part of the job API)

# -- settings ------------------------------------------------------------------------------------------------


def setting(default: Any, label: str, *, unit: str = "", minimum: Optional[float] = None,
            maximum: Optional[float] = None, choices: Optional[Sequence] = None, advanced: bool = False,
            optional: bool = False, widget: str = "", parent: str = "", kind: Optional[type] = None,
            key: str = "") -> Any:
    """A settings field: ``default`` plus what a front end needs to show and check it.

    ``choices`` is a sequence of (value, label) pairs; ``minimum``/``maximum`` the allowed range
    (in ``unit``); ``optional`` lets the value be None (meaning: decide automatically, as the label
    says); ``widget`` names a special input form (``band``, ``bands``, ``bands_text``, ``date``,
    ``dates_text``, ``point``) and ``parent`` the input it refers to; ``kind`` the value type where
    the default does not show it (e.g. ``float`` for an optional number defaulting to None); ``key`` the
    front-end key where it is not the upper-cased name (kept for parameter names that predate the job).
    """
    meta = {"label": label, "unit": unit, "minimum": minimum, "maximum": maximum,
            "choices": tuple(tuple(c) for c in choices) if choices else None, "advanced": advanced,
            "optional": optional, "widget": widget, "parent": parent,
            "kind": kind or (type(default) if default is not None else float), "key": key}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class FieldSpec:
    """What a front end knows about one settings field."""

    name: str
    default: Any
    label: str
    unit: str
    minimum: Optional[float]
    maximum: Optional[float]
    choices: Optional[tuple]
    advanced: bool
    optional: bool
    widget: str
    parent: str
    kind: type
    key: str = ""

    @property
    def values(self) -> Optional[list]:
        """The allowed values of a choice field (None for a free field)."""
        return [v for v, _ in self.choices] if self.choices else None


@dataclass(frozen=True)
class Settings:
    """Base of every job's settings: frozen, validated on creation, JSON round-trip."""

    def __post_init__(self):
        for spec in self.fields():
            value = getattr(self, spec.name)
            checked = _check(spec, value, type(self).__name__)
            if checked is not value:
                object.__setattr__(self, spec.name, checked)

    @classmethod
    def fields(cls) -> list[FieldSpec]:
        return [FieldSpec(f.name, f.default, **f.metadata) for f in dataclasses.fields(cls)]

    @classmethod
    def field_spec(cls, name: str) -> FieldSpec:
        return next(s for s in cls.fields() if s.name == name)

    def to_dict(self) -> dict:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, values: Optional[Mapping] = None, **overrides) -> "Settings":
        """Settings from a mapping (e.g. parsed JSON); missing fields keep their defaults."""
        values = dict(values or {}, **overrides)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"Unknown setting(s) {', '.join(unknown)} for {cls.__name__}.",
                             f"use only {', '.join(sorted(known))}.")
        return cls(**values)

    @classmethod
    def from_json(cls, text_or_path: Union[str, os.PathLike]) -> "Settings":
        """Settings from a JSON text or the path of a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text, encoding="utf-8") as fh:
                text = fh.read()
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"The settings are not valid JSON ({exc}).", "fix the JSON syntax.") from None
        if not isinstance(values, dict):
            raise InputError("The settings JSON is not an object.", 'write {"name": value, ...}.')
        return cls.from_dict(values)


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _check(spec: FieldSpec, value, owner):
    """The value, converted to the field's type, or an InputError naming the field and its range."""
    where = f"Setting '{spec.name}' ({spec.label})"
    if value is None:  # not set (an optional field left empty, a script or an older saved model without it)
        if spec.optional or spec.default is None:
            return spec.default  # None: decided automatically; otherwise the default, as the CLI and dialog give
        raise InputError(f"{where} is missing.", f"give a value (default {spec.default!r}).")
    if isinstance(value, list):
        value = tuple(value)
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where} must be true or false, not {value!r}.")
    elif spec.kind in (int, float) and not isinstance(value, str):
        try:
            number = spec.kind(value)
        except (TypeError, ValueError):
            raise InputError(f"{where} must be a number, not {value!r}.") from None
        if spec.kind is int and number != value:
            raise InputError(f"{where} must be a whole number, not {value!r}.")
        if isinstance(number, float) and math.isnan(number):
            raise InputError(f"{where} is not a number (NaN).")
        lo = spec.minimum if spec.minimum is not None else -math.inf
        hi = spec.maximum if spec.maximum is not None else math.inf
        if not lo <= number <= hi:
            unit = f" {spec.unit}" if spec.unit else ""
            raise InputError(f"{where} is {value}{unit}, outside its range {spec.minimum} to {spec.maximum}{unit}.",
                             "give a value inside the range.")
        value = number if spec.choices is None else value
    if spec.choices is not None and value not in spec.values:
        raise InputError(f"{where} is {value!r}, which is not one of its choices.",
                         f"use one of {', '.join(repr(v) for v in spec.values)}.")
    return value


# -- result ---------------------------------------------------------------------------------------------------


@dataclass
class Result:
    """What a job gives back: files written, numbers, a JSON-able report, features to write.

    ``features`` maps an output name to ``(features, crs, geometry_type)`` (GeoJSON-like features with
    ``properties``) for the vector outputs the front end writes in its own format (Processing sinks);
    a job writes them itself when its ``outputs`` give a path for them.
    """

    outputs: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)

    def report_json(self) -> str:
        return json.dumps(self.report, default=_json_default)

    def to_json(self) -> str:
        """Outputs, numbers and report as one JSON text (NaN written as null)."""
        payload = {"outputs": self.outputs, "numbers": self.numbers, "report": self.report}
        return json.dumps(_nan_to_none(payload), default=_json_default)


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _nan_to_none(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


# -- inputs and outputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    """An input or output of a job: its kind and label (front ends build their forms from these).

    Input kinds: ``raster``, ``rasters`` (a list), ``polygons``, ``lines``, ``vector`` (polygons or
    lines), ``points`` (a point vector file the job reads with its attributes, ``path|layername=name``),
    ``file``. Output kinds: ``raster``, ``polygons``, ``lines``, ``points``, ``file``;
    ``style`` names the QML style of the output (resources/styles), ``default_on`` whether an
    optional output is produced unless switched off.
    """

    kind: str
    label: str
    optional: bool = False
    file_filter: str = ""
    style: str = ""
    default_on: bool = True


def require_input(inputs: Mapping, name: str, what: str, fix: str = "") -> Any:
    """``inputs[name]``, or an InputError naming what is missing."""
    value = inputs.get(name)
    if value in (None, "", [], ()):
        raise InputError(f"The {what} is missing.", fix or f"give the {what}.")
    return value


def require_vector(inputs: Mapping, name: str, what: str, crs=None) -> list:
    """Geometries of the vector input ``name`` in ``crs`` (see :func:`geometries`); an empty layer is a valid
    input (nothing to burn, nothing found), a missing one an InputError."""
    if inputs.get(name) is None:
        raise InputError(f"The {what} is missing.", f"give the {what}.")
    return geometries(inputs[name], crs)


def optional_output(outputs: Mapping, name: str) -> Optional[str]:
    value = outputs.get(name)
    return str(value) if value else None


# -- feedback -------------------------------------------------------------------------------------------------


@runtime_checkable
class Feedback(Protocol):
    """The one feedback protocol of jobs."""

    def progress(self, fraction: float) -> None:
        """Report that ``fraction`` (0-1) of the job is done."""

    def message(self, text: str) -> None:
        """An informative message for the user."""

    def warning(self, text: str) -> None:
        """Something the user must know about the result (an assumption made, data left out)."""

    def is_cancelled(self) -> bool:
        """True when the user asked to stop."""


class RecordingFeedback:
    """A :class:`Feedback` that keeps what it is told (tests, command line)."""

    def __init__(self, cancel_after: Optional[int] = None, echo: Optional[Callable[[str], None]] = None):
        self.fraction = 0.0
        self.messages: list[str] = []
        self.warnings: list[str] = []
        self.cancel_after = cancel_after
        self.checks = 0
        self.echo = echo

    def progress(self, fraction: float) -> None:
        self.fraction = float(fraction)

    def message(self, text: str) -> None:
        self.messages.append(text)
        if self.echo:
            self.echo(text)

    def warning(self, text: str) -> None:
        self.warnings.append(text)
        if self.echo:
            self.echo("WARNING: " + text)

    def is_cancelled(self) -> bool:
        self.checks += 1
        return self.cancel_after is not None and self.checks > self.cancel_after


class _FromQgisStyle:
    """A QGIS-style feedback (setProgress in %, pushInfo, pushWarning, isCanceled) as a :class:`Feedback`."""

    def __init__(self, qgis_style):
        self.target = qgis_style

    def progress(self, fraction: float) -> None:
        self.target.setProgress(100.0 * fraction)

    def message(self, text: str) -> None:
        self.target.pushInfo(text)

    def warning(self, text: str) -> None:
        push = getattr(self.target, "pushWarning", None) or self.target.pushInfo
        push(text)

    def is_cancelled(self) -> bool:
        return bool(self.target.isCanceled())


class CoreFeedback(NullFeedback):
    """A :class:`Feedback` seen through the QGIS-style methods the core's long loops call."""

    def __init__(self, feedback: Feedback):
        self.job_feedback = feedback

    def setProgress(self, percent):  # noqa: N802 (core/QGIS naming)
        self.job_feedback.progress(min(max(float(percent) / 100.0, 0.0), 1.0))

    def isCanceled(self):  # noqa: N802
        return self.job_feedback.is_cancelled()

    def pushInfo(self, text):  # noqa: N802
        self.job_feedback.message(text)

    def pushWarning(self, text):  # noqa: N802
        self.job_feedback.warning(text)


def as_feedback(feedback) -> Feedback:
    """Any accepted feedback (None, a :class:`Feedback`, a QGIS-style one) as a :class:`Feedback`."""
    if feedback is None:
        return RecordingFeedback()
    if isinstance(feedback, CoreFeedback):
        return feedback.job_feedback
    if isinstance(feedback, Feedback):
        return feedback
    return _FromQgisStyle(feedback)


def core_feedback(feedback) -> CoreFeedback:
    """The feedback the core's functions take (QGIS-style methods), for any accepted feedback."""
    return feedback if isinstance(feedback, CoreFeedback) else CoreFeedback(as_feedback(feedback))


# -- the job --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One capability: its settings class, its ``run``, and the description of its ports and numbers."""

    name: str
    title: str
    settings: type
    run: Callable[..., Result]
    inputs: Mapping[str, Port]
    outputs: Mapping[str, Port]
    numbers: Mapping[str, str]
    #: Text results (name -> label), e.g. the unit or backend used and why.
    texts: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, inputs: Mapping, outputs: Mapping, settings=None, feedback=None,
                 threads: Optional[int] = None) -> Result:
        """Run with settings given as a Settings object, a mapping, a JSON text or a JSON file path."""
        return self.run(inputs, outputs, self.make_settings(settings), feedback=feedback, threads=threads)

    def make_settings(self, settings=None) -> Settings:
        if settings is None:
            return self.settings()
        if isinstance(settings, self.settings):
            return settings
        if isinstance(settings, Mapping):
            return self.settings.from_dict(settings)
        if isinstance(settings, (str, os.PathLike)):
            return self.settings.from_json(settings)
        raise InputError(f"Settings of type {type(settings).__name__} are not accepted by '{self.name}'.",
                         f"give a {self.settings.__name__}, a mapping or a JSON file.")


def nan_numbers(names) -> dict:
    """Every number of a job set to NaN (filled in as the job computes them)."""
    return {name: float("nan") for name in names}


def geometries(value, crs=None) -> list:
    """Vector input as GeoJSON-like geometries in ``crs``: a list of geometries is taken as is (already in
    ``crs``, as front ends give it), a path is read with :func:`serac.core.vector_io.read_geometries`."""
    if not value:
        return []
    if isinstance(value, (str, os.PathLike)):
        from ..vector_io import read_geometries

        return read_geometries(value, crs)
    return list(value)


def write_vector_outputs(result: Result, outputs: Mapping) -> None:
    """Write the features of ``result`` to the outputs that name a file (command line, batch runs)."""
    for name, (features, crs, geometry_type) in result.features.items():
        path = outputs.get(name)
        if path and isinstance(path, (str, os.PathLike)):
            from ..segmentation.vectorize import write_features

            write_features(os.fspath(path), features, crs, layer=name, geometry_type=geometry_type)
            result.outputs[name] = os.fspath(path)


def parse_band_list(text) -> Optional[tuple]:
    """'1,2,3' -> (1, 2, 3) (1-based band numbers, in order); '' or None -> None (all bands)."""
    if text is None or isinstance(text, (list, tuple)):
        return tuple(int(b) for b in text) if text else None
    text = str(text).strip()
    if not text:
        return None
    try:
        bands = tuple(int(b) for b in text.replace(";", ",").split(",") if b.strip())
    except ValueError:
        raise InputError(f"Bands '{text}' are not a comma-separated list of band numbers.",
                         "write e.g. 1,2,3 (1-based, in the order the model expects).") from None
    if any(b < 1 for b in bands):
        raise InputError("Band numbers start at 1.", "use e.g. 1,2,3.")
    return bands
