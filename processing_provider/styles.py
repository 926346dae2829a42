"""Styling of Processing outputs with QML files from ``resources/styles``.

Processing loads an output layer after the algorithm ends and then calls the
layer's post-processor, which applies the QML style. Post-processors must
outlive the algorithm run, so :class:`StylePostProcessor` keeps every instance
it creates in a class-level list (QGIS holds only a raw pointer).
"""

import math
import os

from qgis.core import QgsProcessingLayerPostProcessorInterface

STYLE_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "styles")


def style_path(name):
    """Absolute path of ``resources/styles/<name>`` (``.qml`` added when missing)."""
    if not name.endswith(".qml"):
        name += ".qml"
    path = os.path.join(STYLE_DIR, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Serac style '{name}' is missing from {STYLE_DIR}")
    return path


class StylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies a QML style (and optionally a layer name and value range) to an output layer once loaded.

    ``value_range`` (min, max), in the raster's units, replaces the style's stretch: the
    contrast enhancement of a grey/multiband renderer, or the colour ramp's limits of a
    pseudocolour renderer (its colour stops are kept, spread over the new range).
    ``band`` (1-based) shows a single-band style on that band of a multi-band output.
    """

    _instances = []  # keep Python objects alive while QGIS holds pointers to them

    def __init__(self, qml_path, layer_name=None, value_range=None, band=None):
        super().__init__()
        self.qml_path = qml_path
        self.layer_name = layer_name
        self.value_range = tuple(value_range) if value_range is not None else None
        self.band = band

    @classmethod
    def create(cls, qml_path, layer_name=None, value_range=None, band=None):
        processor = cls(qml_path, layer_name, value_range, band)
        cls._instances.append(processor)
        return processor

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if layer is None or not layer.isValid():
            return
        message = apply_style(layer, self.qml_path, self.layer_name, self.value_range, self.band)
        if message:
            feedback.pushWarning(message)


def apply_style(layer, style, layer_name=None, value_range=None, band=None):
    """Style ``layer`` with a QML file (a path, or a name in resources/styles), then pick the band a
    single-band renderer shows and stretch it to ``value_range`` (min, max in raster units).

    The one styling step shared by Processing outputs and the demo project. Returns an error
    message, or None when the style loaded.
    """
    qml = style if os.path.isabs(str(style)) else style_path(style)
    message, ok = layer.loadNamedStyle(qml)
    if layer_name:
        layer.setName(layer_name)
    if band is not None and hasattr(layer.renderer(), "setBand"):
        layer.renderer().setBand(int(band))
    if value_range is not None:
        apply_value_range(layer, *value_range)
    layer.triggerRepaint()
    return None if ok else f"Could not apply style {os.path.basename(qml)}: {message}"


def apply_value_range(layer, minimum, maximum):
    """Stretch a raster layer's renderer, or the classes of a graduated vector renderer, to [minimum, maximum]
    (layer units). Returns True if applied."""
    if not (math.isfinite(minimum) and math.isfinite(maximum)) or maximum <= minimum:
        return False
    renderer = layer.renderer()
    if hasattr(renderer, "ranges") and hasattr(renderer, "updateRangeLowerValue"):
        return _rescale_classes(renderer, minimum, maximum)
    enhancement = getattr(renderer, "contrastEnhancement", lambda: None)()
    if enhancement is not None:
        enhancement.setMinimumValue(minimum)
        enhancement.setMaximumValue(maximum)
        return True
    shader = getattr(renderer, "shader", lambda: None)()
    if shader is None:
        return False
    ramp = shader.rasterShaderFunction()
    old_min, old_max = ramp.minimumValue(), ramp.maximumValue()
    items = ramp.colorRampItemList()
    if items and old_max > old_min:
        signed = minimum < 0 < maximum
        for item in items:  # keep each stop's relative position in the range; legend follows the values
            item.value = minimum + (item.value - old_min) * (maximum - minimum) / (old_max - old_min)
            item.label = f"{item.value:+.4g}" if signed else f"{item.value:.4g}"
        ramp.setColorRampItemList(items)
    ramp.setMinimumValue(minimum)
    ramp.setMaximumValue(maximum)
    renderer.setClassificationMin(minimum)
    renderer.setClassificationMax(maximum)
    return True


def _rescale_classes(renderer, minimum, maximum):
    """Spread the classes of a graduated renderer over [minimum, maximum], keeping each edge's relative position;
    the outer classes stay open (values beyond the range keep the end colours)."""
    ranges = renderer.ranges()
    if not ranges:
        return False
    old_min, old_max = ranges[0].lowerValue(), ranges[-1].upperValue()
    if not old_max > old_min:
        return False
    edges = [minimum + (v - old_min) * (maximum - minimum) / (old_max - old_min)
             for v in [r.lowerValue() for r in ranges] + [old_max]]
    last = len(ranges) - 1
    for i in range(len(ranges)):
        lower, upper = edges[i], edges[i + 1]
        renderer.updateRangeLowerValue(i, -1e30 if i == 0 else lower)
        renderer.updateRangeUpperValue(i, 1e30 if i == last else upper)
        label = f"< {upper:+.4g}" if i == 0 else f"> {lower:+.4g}" if i == last else f"{lower:+.4g} to {upper:+.4g}"
        renderer.updateRangeLabel(i, label)
    return True


def style_on_completion(context, output_ref, style_name, layer_name=None, value_range=None, band=None):
    """Ask Processing to style ``output_ref`` (a path or sink id) when it loads it.

    ``value_range`` (min, max) overrides the style's stretch and ``band`` picks the band a
    single-band style is shown on (see :class:`StylePostProcessor`).

    Does nothing when the output is not going to be loaded (e.g. from ``qgis_process``).
    Returns True if a post-processor was attached.
    """
    if not output_ref or not context.willLoadLayerOnCompletion(output_ref):
        return False
    details = context.layerToLoadOnCompletionDetails(output_ref)
    details.setPostProcessor(StylePostProcessor.create(style_path(style_name), layer_name, value_range, band))
    if layer_name:
        details.name = layer_name
    return True
