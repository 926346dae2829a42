"""Regenerate the generic QML styles in resources/styles with the QGIS API.

Run with the project's venv: ``.venv/bin/python scripts/make_styles.py``.
Writing styles through QGIS (rather than by hand) keeps them valid for every
QGIS version from 3.22 on. Algorithm-specific styles may be hand-tuned files.
"""

import os
import sys
import tempfile

import numpy as np
from _checkout import use_checkout

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsPalettedRasterRenderer,
    QgsRasterLayer,
)
from qgis.PyQt.QtGui import QColor  # noqa: E402

STYLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "resources", "styles")


def _dummy_raster(folder, values):
    from osgeo import gdal, osr

    path = os.path.join(folder, "dummy.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 4, 4, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((0, 1, 0, 4, 0, -1))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(np.resize(np.array(values, dtype=np.uint8), (4, 4)))
    ds = None
    return path


def glacier_mask(folder):
    layer = QgsRasterLayer(_dummy_raster(folder, [0, 1]), "mask")
    classes = [QgsPalettedRasterRenderer.Class(0, QColor(0, 0, 0, 0), "outside glaciers"),
               QgsPalettedRasterRenderer.Class(1, QColor(86, 180, 233, 170), "glacier")]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes))
    layer.saveNamedStyle(os.path.join(STYLES, "glacier_mask.qml"))




def review_status_styles():
    """Categorized styles on review_status for polygon and line layers."""
    from qgis.core import (QgsCategorizedSymbolRenderer, QgsFillSymbol, QgsLineSymbol, QgsRendererCategory,
                           QgsVectorLayer)

    use_checkout()  # the checkout as 'serac'
    from serac.plugin.review import fields

    for geometry, name in (("Polygon", "review_status_polygons"), ("LineString", "review_status_lines")):
        layer = QgsVectorLayer(f"{geometry}?crs=EPSG:32633&field=review_status:string", "review", "memory")
        categories = []
        for value in fields.STATUSES:
            colour, label = fields.STATUS_COLOURS[value], fields.STATUS_LABELS[value]
            if geometry == "Polygon":
                r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
                alpha = 26 if value == "rejected" else 51
                symbol = QgsFillSymbol.createSimple({
                    "color": f"{r},{g},{b},{alpha}", "outline_color": colour,
                    "outline_width": "0.8",
                    "outline_style": "dash" if value in ("unreviewed", "rejected") else "solid"})
            else:
                symbol = QgsLineSymbol.createSimple({"line_color": colour, "line_width": "0.9",
                                                     "line_style": "dash" if value == "rejected" else "solid"})
            categories.append(QgsRendererCategory(value, symbol, label))
        layer.setRenderer(QgsCategorizedSymbolRenderer("review_status", categories))
        layer.saveNamedStyle(os.path.join(STYLES, name + ".qml"))


def glacier_outlines_style():
    """Context outlines: no fill, a blue edge."""
    from qgis.core import QgsFillSymbol, QgsSingleSymbolRenderer, QgsVectorLayer

    layer = QgsVectorLayer("Polygon?crs=EPSG:32633", "outlines", "memory")
    symbol = QgsFillSymbol.createSimple({"color": "0,0,0,0", "outline_color": "#1565c0", "outline_width": "0.5"})
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    layer.saveNamedStyle(os.path.join(STYLES, "glacier_outlines.qml"))


def reference_styles():
    """Reference layers an evaluation compares against: black, no fill (polygons and lines)."""
    from qgis.core import QgsFillSymbol, QgsLineSymbol, QgsSingleSymbolRenderer, QgsVectorLayer

    for geometry, name, symbol in (
            ("Polygon", "reference_outlines",
             QgsFillSymbol.createSimple({"color": "0,0,0,0", "outline_color": "#000000", "outline_width": "0.6"})),
            ("LineString", "reference_lines", QgsLineSymbol.createSimple({"line_color": "#000000", "line_width": "1.2"}))):
        layer = QgsVectorLayer(f"{geometry}?crs=EPSG:32633", "reference", "memory")
        layer.setRenderer(QgsSingleSymbolRenderer(symbol))
        layer.saveNamedStyle(os.path.join(STYLES, name + ".qml"))


#: Per-glacier result styles of the example models: (style, field, unit, [(low, high, colour)]).
PER_GLACIER_STYLES = (
    ("glacier_change_dh", "mean_dh_m", "m", [(-1e4, -20, "#67001f"), (-20, -10, "#b2182b"), (-10, -5, "#d6604d"),
                                          (-5, -2, "#f4a582"), (-2, -0.5, "#fddbc7"), (-0.5, 0.5, "#f7f7f7"),
                                          (0.5, 2, "#d1e5f0"), (2, 5, "#92c5de"), (5, 10, "#4393c3"),
                                          (10, 1e4, "#2166ac")]),
    ("glacier_speed", "speed_median", "m/yr", [(0, 10, "#fde725"), (10, 25, "#7ad151"), (25, 50, "#22a884"),
                                               (50, 100, "#2a788e"), (100, 200, "#414487"), (200, 1e5, "#440154")]),
)


def per_glacier_styles():
    """Graduated fills of per-glacier results (mean dh, median speed) for the example models' outputs."""
    from qgis.core import QgsFillSymbol, QgsGraduatedSymbolRenderer, QgsRendererRange, QgsVectorLayer

    for name, field, unit, classes in PER_GLACIER_STYLES:
        layer = QgsVectorLayer(f"Polygon?crs=EPSG:32633&field={field}:double", name, "memory")
        ranges = []
        for low, high, colour in classes:
            label = (f"< {high:g} {unit}" if low <= -1e4 else f">= {low:g} {unit}" if high >= 1e4
                     else f"{low:g} to {high:g} {unit}")
            symbol = QgsFillSymbol.createSimple({"color": colour, "outline_color": "#333333", "outline_width": "0.2"})
            ranges.append(QgsRendererRange(low, high, symbol, label))
        layer.setRenderer(QgsGraduatedSymbolRenderer(field, ranges))
        layer.saveNamedStyle(os.path.join(STYLES, name + ".qml"))


def main():
    app = QgsApplication([], False)
    app.initQgis()
    os.makedirs(STYLES, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        glacier_mask(folder)
    review_status_styles()
    glacier_outlines_style()
    reference_styles()
    per_glacier_styles()
    app.exitQgis()
    print("styles written to", STYLES, file=sys.stderr)


if __name__ == "__main__":
    main()
