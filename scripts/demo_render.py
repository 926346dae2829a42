"""Load demo outputs into a QGIS project with Serac styles and render each step's map to PNG.

Runs inside an initialised QgsApplication (see run_demo.py).
"""

import os

from qgis.core import (
    QgsLayerTreeGroup,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

from serac.processing_provider.styles import apply_value_range  # noqa: E402  (after QgsApplication)

STYLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "resources", "styles")
SAMPLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "resources", "sample_data")


def _load(path, name):
    path = str(path)
    if path.lower().endswith((".tif", ".tiff", ".vrt", ".jpg", ".png")):
        layer = QgsRasterLayer(path, name)
    else:
        layer = QgsVectorLayer(path, name, "ogr")
    if not layer.isValid():
        raise RuntimeError(f"Could not load {path}")
    return layer


def _percentiles(path, percentiles):
    import numpy as np

    from serac.core.raster_io import read_raster

    values = read_raster(path, bands=1).band(1)
    return [float(v) for v in np.nanpercentile(values, percentiles)]


def render(layers, png_path, width=1200):
    """Render ``layers`` (top first, QGIS order) to a PNG sized to their common extent."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    extent = QgsRectangle()
    extent.setMinimal()
    for layer in layers:
        from qgis.core import QgsCoordinateTransform

        tr = QgsCoordinateTransform(layer.crs(), settings.destinationCrs(), QgsProject.instance())
        extent.combineExtentWith(tr.transformBoundingBox(layer.extent()))
    settings.setExtent(extent)
    height = max(200, int(width * extent.height() / max(extent.width(), 1e-9)))
    settings.setOutputSize(QSize(width, height))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    os.makedirs(os.path.dirname(png_path), exist_ok=True)
    job.renderedImage().save(str(png_path), "PNG")
    return png_path


def render_step_maps(out_dir, done):
    project = QgsProject.instance()
    project.clear()
    root = project.layerTreeRoot()
    maps = {}
    for entry in done:
        step, results = entry["step"], entry["results"]
        group = root.insertGroup(0, step.title)
        map_layers = []
        for spec in step.layers:
            source = results.get(spec.source) if spec.is_output else os.path.join(SAMPLE_DIR, spec.source)
            if not source or not os.path.exists(str(source)):
                continue
            layer = _load(source, spec.name or spec.source)
            if spec.style:
                layer.loadNamedStyle(os.path.join(STYLE_DIR, spec.style + ".qml"))
            if spec.value_range:
                apply_value_range(layer, *spec.value_range)
            if spec.percentile_stretch:
                apply_value_range(layer, *_percentiles(source, spec.percentile_stretch))
            project.addMapLayer(layer, False)
            group.insertLayer(0, layer)
            map_layers.insert(0, layer)
        if map_layers:
            png = out_dir / "maps" / f"{step.name}.png"
            maps[step.name] = [render(map_layers, png)]
    project.write(str(out_dir / "serac_demo.qgz"))
    return maps


__all__ = ["render_step_maps", "QgsLayerTreeGroup"]
