"""What a batch knows about each row: a completion record per row and the results catalogue.

Each finished row (done or failed) leaves a record ``<catalogue>.rows/<id>.json``, written
atomically by whoever ran it (a Dask worker, a job-array task): its status, outputs with their size,
modification time and SHA-256, numbers, error, seconds, worker and footprint. A rerun skips a row
whose record says done, whose definition is unchanged (:meth:`Row.key`) and whose outputs are
all still there with the recorded size and time: a file half-written by a killed worker is never
taken as complete (the core writes to a hidden temporary file and renames it only when complete,
and no record exists until then).

The catalogue (a GeoPackage, layer ``tasks``, EPSG:4326 footprints from each row's first raster
input) is rebuilt from the records as rows finish: one row per task with status, outputs, numbers
and error (JSON texts), seconds, worker and finish time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from typing import Optional

DONE, FAILED, SKIPPED, PENDING = "done", "failed", "skipped", "pending"
CATALOGUE_LAYER = "tasks"
CATALOGUE_COLUMNS = ("row", "id", "job", "status", "error", "outputs", "numbers", "seconds", "worker", "finished",
                     "report")


def records_dir(catalogue: str) -> str:
    return os.path.splitext(os.path.abspath(catalogue))[0] + ".rows"


def record_path(catalogue: str, row_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(row_id))
    return os.path.join(records_dir(catalogue), f"{safe}.json")


def write_json_atomic(path: str, payload) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1, default=str)
    os.replace(tmp, path)


def read_record(catalogue: str, row_id: str) -> Optional[dict]:
    path = record_path(catalogue, row_id)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def file_facts(path: str, checksum: bool = True) -> dict:
    """Size (bytes), modification time (ns) and SHA-256 of a finished output file."""
    st = os.stat(path)
    facts = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if checksum:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        facts["sha256"] = digest.hexdigest()
    return facts


def is_complete(record: Optional[dict], key: str, verify: bool = False) -> bool:
    """True when ``record`` says done for a row with definition ``key`` and its files are as recorded
    (size and time; with ``verify`` also the SHA-256)."""
    if not record or record.get("status") != DONE or record.get("key") != key:
        return False
    for path, facts in record.get("files", {}).items():
        if not os.path.isfile(path):
            return False
        now = file_facts(path, checksum=verify)
        if now["size"] != facts.get("size") or now["mtime_ns"] != facts.get("mtime_ns"):
            return False
        if verify and now["sha256"] != facts.get("sha256"):
            return False
    return True


def footprint_wkt(path) -> Optional[str]:
    """The footprint (WKT polygon, EPSG:4326) of a raster, or None when it cannot be read."""
    try:
        import rasterio
        from rasterio.warp import transform_bounds

        with rasterio.open(path) as ds:
            if ds.crs is None:
                return None
            w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
    except Exception:  # a footprint is a convenience: a row is not failed for lacking one
        return None
    return f"POLYGON (({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


def write_catalogue(catalogue: str, records: list) -> str:
    """Write the catalogue GeoPackage from records (one feature per row) atomically; returns its path."""
    import geopandas as gpd
    from shapely import wkt

    rows = []
    for r in sorted(records, key=lambda r: r.get("row", 0)):
        rows.append({"row": int(r.get("row", -1)), "id": str(r.get("id", "")), "job": r.get("job", ""),
                     "status": r.get("status", PENDING), "error": r.get("error") or "",
                     "outputs": json.dumps(r.get("outputs", {})),
                     "numbers": json.dumps(r.get("numbers", {}), default=str),
                     "seconds": float(r.get("seconds") or 0.0), "worker": r.get("worker") or "",
                     "finished": r.get("finished") or "", "report": json.dumps(r.get("report", {}), default=str),
                     "geometry": wkt.loads(r["footprint"]) if r.get("footprint") else None})
    frame = gpd.GeoDataFrame(rows, columns=list(CATALOGUE_COLUMNS) + ["geometry"], geometry="geometry",
                             crs="EPSG:4326")
    path = os.path.abspath(catalogue)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.gpkg")
    try:
        frame.to_file(tmp, layer=CATALOGUE_LAYER, driver="GPKG")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)
    return path


def read_catalogue(catalogue: str):
    """The catalogue as a GeoDataFrame (outputs and numbers as JSON texts)."""
    import geopandas as gpd

    return gpd.read_file(catalogue, layer=CATALOGUE_LAYER)
