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

from serac.processing_provider.styles import apply_style  # noqa: E402  (after QgsApplication)

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


def _band(path, spec):
    """The 1-based band a layer spec shows (None: the style's own); a callable gets the band names."""
    if callable(spec.band):
        import rasterio

        with rasterio.open(path) as src:
            return spec.band([d or "" for d in src.descriptions])
    return spec.band


def _percentiles(path, percentiles, band=None):
    import numpy as np

    from serac.core.raster_io import read_raster

    values = read_raster(path, bands=band or 1).band(1)
    return [float(v) for v in np.nanpercentile(values, percentiles)]


def render(layers, png_path, width=1200):
    """Render ``layers`` (top first, QGIS order) to a PNG sized to their common extent."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    extent = QgsRectangle()
    extent.setMinimal()
    rasters = [layer for layer in layers if isinstance(layer, QgsRasterLayer)]
    for layer in rasters or layers:  # frame the rasters; context outlines may reach far beyond them
        from qgis.core import QgsCoordinateTransform

        tr = QgsCoordinateTransform(layer.crs(), settings.destinationCrs(), QgsProject.instance())
        extent.combineExtentWith(tr.transformBoundingBox(layer.extent()))
    settings.setExtent(extent)
    aspect = extent.height() / max(extent.width(), 1e-9)
    if aspect > 1:  # portrait: the longer side gets ``width`` pixels
        width, height = max(200, int(width / aspect)), width
    else:
        height = max(200, int(width * aspect))
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
            band = _band(source, spec) if isinstance(layer, QgsRasterLayer) else None
            value_range = spec.value_range
            if spec.percentile_stretch:
                value_range = _percentiles(source, spec.percentile_stretch, band)
            if spec.style:
                apply_style(layer, spec.style, spec.name, value_range, band)
            project.addMapLayer(layer, False)
            group.insertLayer(0, layer)
            if spec.on_map:
                map_layers.insert(0, layer)
            else:
                group.findLayer(layer.id()).setItemVisibilityChecked(False)
        if map_layers:
            png = out_dir / "maps" / f"{step.name}.png"
            maps[step.name] = [render(map_layers, png)]
    project.write(str(out_dir / "serac_demo.qgz"))
    return maps


__all__ = ["render_step_maps", "QgsLayerTreeGroup"]
