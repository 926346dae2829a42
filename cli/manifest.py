"""A batch manifest: one row per pair, scene or tile, read from CSV or a GeoPackage table.

Columns: ``job`` (a job name of ``serac jobs``), optional ``id`` (kept in the catalogue; default:
the row number), then the job's inputs, outputs and settings by name (``reference``, ``output``,
``chip``, ...), empty cells meaning "not given" (the job's default). A ``rasters`` input takes
several paths separated by ``;``. A ``settings`` column may name a JSON settings file for the row;
the row's own setting columns override it. Relative paths are taken from the manifest's folder.
Rows are numbered from 0 in file order (the ``--row`` of a job array).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from dataclasses import dataclass, field

from ..core.errors import InputError

RESERVED = ("job", "id", "settings")


@dataclass(frozen=True)
class Row:
    """One task of a batch: its number (0-based), id, job name and cells (name -> text)."""

    index: int
    id: str
    job: str
    values: dict = field(default_factory=dict)
    settings_file: str = ""
    base: str = ""

    def key(self) -> str:
        """A digest of what the row asks for (job, cells, settings file contents): a changed row is rerun."""
        settings = ""
        if self.settings_file and os.path.isfile(self.settings_file):
            with open(self.settings_file, encoding="utf-8") as fh:
                settings = fh.read()
        text = json.dumps([self.job, sorted(self.values.items()), settings, self.base])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cell(value) -> str:
    """A table cell as text: empty for missing values, whole floats without '.0' (GeoPackage numbers)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def read_table(path: str) -> list[dict]:
    """The rows of a CSV file or of the first table of a GeoPackage as dicts of text."""
    if not os.path.isfile(path):
        raise InputError(f"The manifest '{path}' does not exist.", "give the path of a CSV or GeoPackage manifest.")
    if path.lower().endswith(".gpkg"):
        try:
            import pyogrio
        except ImportError:
            from ..core.errors import DependencyMissing

            raise DependencyMissing("pyogrio", "to read a GeoPackage manifest") from None
        frame = pyogrio.read_dataframe(path, read_geometry=False)
        return [{str(k): _cell(v) for k, v in rec.items()} for rec in frame.to_dict("records")]
    with open(path, newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        return [{(k or "").strip(): _cell(v) for k, v in rec.items()} for rec in csv.DictReader(fh, dialect=dialect)]


def read_manifest(path: str) -> list[Row]:
    """The rows of a manifest; InputError when it has no ``job`` column or no row."""
    records = read_table(path)
    if not records:
        raise InputError(f"The manifest '{path}' has no rows.", "write one row per pair, scene or tile.")
    if "job" not in records[0]:
        raise InputError(f"The manifest '{path}' has no 'job' column.",
                         "add a column 'job' naming the job of each row (see 'serac jobs').")
    base = os.path.dirname(os.path.abspath(path))
    rows = []
    for index, rec in enumerate(records):
        settings_file = rec.get("settings", "")
        if settings_file and not os.path.isabs(settings_file):
            settings_file = os.path.normpath(os.path.join(base, settings_file))
        values = {k: v for k, v in rec.items() if k not in RESERVED and k and v != ""}
        rows.append(Row(index, rec.get("id") or str(index), rec["job"].strip(), values, settings_file, base))
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise InputError(f"The manifest '{path}' repeats row ids.", "give every row its own id (or none).")
    return rows


def write_manifest(path: str, rows: list[dict]) -> str:
    """Write rows (dicts of cells) as a CSV manifest with the union of their columns, ``job`` first."""
    columns = ["job"] + sorted({k for r in rows for k in r} - {"job"})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ";".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in r.items()})
    return path
