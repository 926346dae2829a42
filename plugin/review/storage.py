"""Where a reviewed layer's decisions live, and making sure they are really there.

* :func:`file_path` / :func:`is_saved_to_file`: a decision is "saved" only when the layer is a file
  (GeoPackage, Shapefile, ...) read through OGR; a memory layer (Processing's "temporary layer") is not.
* :func:`checkpoint`: QGIS opens GeoPackages in SQLite WAL mode, where a commit may sit in the
  ``-wal`` file beside the ``.gpkg``; a full checkpoint after each decision moves it into the
  ``.gpkg`` itself, so a copy of that one file holds every decision.
* :func:`save_as_geopackage`: writes a (memory) layer to a GeoPackage and opens the file as a layer.
"""

import os
import sqlite3

from qgis.core import QgsCoordinateTransformContext, QgsVectorFileWriter, QgsVectorLayer

from ...processing_provider.compat import WRITER_NO_ERROR

SQLITE_SUFFIXES = (".gpkg", ".sqlite", ".db")
CHECKPOINT_TIMEOUT_S = 5.0


def file_path(layer):
    """The file behind an OGR layer, or None (memory layer, database, web service...)."""
    if layer is None or layer.providerType() != "ogr":
        return None
    path = layer.source().split("|")[0]
    return path if os.path.isfile(path) else None


def is_saved_to_file(layer):
    return file_path(layer) is not None


def checkpoint(layer):
    """Copy committed SQLite WAL pages into the layer's file. Returns True when the file alone holds
    every commit (also for non-SQLite files and databases not in WAL mode)."""
    path = file_path(layer)
    if path is None or not path.lower().endswith(SQLITE_SUFFIXES) or not os.path.exists(path + "-wal"):
        return True
    connection = sqlite3.connect(path, timeout=CHECKPOINT_TIMEOUT_S)
    try:
        busy, log_frames, done = connection.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
    finally:
        connection.close()
    return busy == 0 and done == log_frames


def write_geopackage(layer, path, layer_name):
    """Write ``layer`` (all fields, geometries, CRS) to the GeoPackage ``path`` through a temporary file,
    so a failed write leaves nothing half-written. Raises RuntimeError naming the problem."""
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = layer_name
    tmp = path + ".part.gpkg"
    if os.path.exists(tmp):
        os.remove(tmp)
    result = QgsVectorFileWriter.writeAsVectorFormatV3(layer, tmp, QgsCoordinateTransformContext(), options)
    if result[0] != WRITER_NO_ERROR:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise RuntimeError(f"Could not write {path}: {result[1]}")
    os.replace(tmp, path)
    return path


def save_as_geopackage(layer, path, layer_name="reviewed"):
    """Write ``layer`` to the GeoPackage ``path`` (".gpkg" added when missing) and return the file
    opened as a layer with the same name and symbology. Raises RuntimeError naming the problem."""
    if not path.lower().endswith(".gpkg"):
        path += ".gpkg"
    write_geopackage(layer, path, layer_name)
    saved = QgsVectorLayer(f"{path}|layername={layer_name}", layer.name(), "ogr")
    if not saved.isValid():
        raise RuntimeError(f"{path} was written but cannot be opened again.")
    if layer.renderer() is not None:
        saved.setRenderer(layer.renderer().clone())
    return saved
