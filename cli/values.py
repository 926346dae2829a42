"""Setting values and file lists given as text (command-line options, manifest cells), read one way.

Every front end outside QGIS (the ``serac`` options, the columns of a batch manifest) gives a
setting as text; :func:`setting_value` turns it into the value its :class:`FieldSpec` expects,
and the job's Settings dataclass then checks the range or choices (``InvalidSetting``).
"""

from __future__ import annotations

import os
from typing import Optional

from ..core.errors import InputError

TRUE = ("true", "yes", "1", "on")
FALSE = ("false", "no", "0", "off")
#: Separator of several paths in one manifest cell or option (a ``rasters`` input).
PATH_SEPARATOR = ";"


def setting_value(spec, text):
    """The value of the settings field ``spec`` written as ``text``; None for an empty text (default)."""
    from ..core.jobs.base import parse_band_list

    text = str(text).strip()
    if text == "":
        return None
    where = f"Setting '{spec.name}' ({spec.label})"
    if spec.kind is bool:
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise InputError(f"{where} is '{text}', not true or false.", "write true or false.")
    if spec.widget == "point":
        parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
        try:
            point = tuple(float(p) for p in parts)
        except ValueError:
            point = ()
        if len(point) != 2:
            raise InputError(f"{where} is '{text}', not a point.", "write x,y in the CRS of the first input.")
        return point
    if spec.kind is tuple:
        return parse_band_list(text)
    if spec.kind in (int, float):
        try:
            number = float(text)
        except ValueError:
            raise InputError(f"{where} is '{text}', not a number.") from None
        return int(number) if spec.kind is int and number.is_integer() else number
    return text


def describe_setting(spec) -> str:
    """One help line of a settings field: label, unit, range or choices, default."""
    parts = [spec.label.rstrip(".")]
    if spec.choices:
        parts.append("choices: " + ", ".join(f"{v} ({label})" if str(label) != str(v) else str(v)
                                             for v, label in spec.choices))
    elif spec.minimum is not None or spec.maximum is not None:
        unit = f" {spec.unit}" if spec.unit else ""
        if spec.minimum is not None and spec.maximum is not None:
            parts.append(f"range {spec.minimum:g} to {spec.maximum:g}{unit}")
        elif spec.minimum is not None:
            parts.append(f"at least {spec.minimum:g}{unit}")
        else:
            parts.append(f"at most {spec.maximum:g}{unit}")
    elif spec.unit:
        parts.append(f"unit {spec.unit}")
    if spec.widget == "point":
        parts.append("as x,y")
    elif spec.kind is tuple:
        parts.append("as 1,2,3")
    default = "empty (automatic)" if spec.default is None else _text(spec.default)
    parts.append(f"default {default}")
    if spec.advanced:
        parts.append("advanced")
    return "; ".join(parts)


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def paths_value(port, text, base: Optional[str] = None):
    """The file path(s) of an input or output port written as ``text`` (``;`` between several paths of a
    ``rasters`` input); relative paths are taken from ``base``. None for an empty text."""
    if isinstance(text, (list, tuple)):
        items = [str(t) for t in text]
    else:
        items = [t for t in str(text).split(PATH_SEPARATOR)] if port.kind == "rasters" else [str(text)]
    items = [os.path.expanduser(t.strip()) for t in items if t and t.strip()]
    if not items:
        return None
    if base:
        items = [t if os.path.isabs(t) else os.path.normpath(os.path.join(base, t)) for t in items]
    return items if port.kind == "rasters" else items[0]
