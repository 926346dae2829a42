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

    def __init__(self, qml_path, layer_name=None, value_range=None, band=None, time_steps=None):
        super().__init__()
        self.qml_path = qml_path
        self.layer_name = layer_name
        self.value_range = tuple(value_range) if value_range is not None else None
        self.band = band
        self.time_steps = list(time_steps or [])

    @classmethod
    def create(cls, qml_path, layer_name=None, value_range=None, band=None, time_steps=None):
        processor = cls(qml_path, layer_name, value_range, band, time_steps)
        cls._instances.append(processor)
        return processor

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if layer is None or not layer.isValid():
            return
        message = apply_style(layer, self.qml_path, self.layer_name, self.value_range, self.band)
        if message:
            feedback.pushWarning(message)
        if self.time_steps:
            project = context.project() if context.project() is not None else None
            apply_time_steps(layer, self.time_steps, project)


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
    announce_style_change(layer)
    return None if ok else f"Could not apply style {os.path.basename(qml)}: {message}"


def clone_renderer(renderer):
    """A copy of a layer renderer, with the classification range QGIS 3.22's pseudocolour clone() drops."""
    clone = renderer.clone()
    if hasattr(renderer, "classificationMin"):
        clone.setClassificationMin(renderer.classificationMin())
        clone.setClassificationMax(renderer.classificationMax())
    return clone


def announce_style_change(layer):
    """Tell QGIS that ``layer``'s renderer changed in place (band, stretch, classes): the layer panel
    rebuilds the legend from the renderer (rendererChanged), the style dock and map follow."""
    if layer.renderer() is not None:
        layer.setRenderer(clone_renderer(layer.renderer()))  # emits rendererChanged: the legend is rebuilt
    layer.emitStyleChanged()
    layer.triggerRepaint()


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
    _legend_decimals(ramp, maximum - minimum)
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


#: Band name -> style for rasters that keep Serac band names through a step that does not know what they
#: hold (e.g. "Mask raster with outlines" on a velocity or dh raster); the first name found wins.
BAND_STYLES = (("speed", "velocity_speed_linear", "from zero"), ("dh", "dem_dh", "symmetric"),
               ("dh_m", "dem_dh", "symmetric"))


def style_by_band_names(context, output_ref, path, layer_name=None):
    """Style a raster output by the Serac band names it carries (see BAND_STYLES), stretched to its
    2-98 % values, when Processing loads it. Returns True if a style applies."""
    from osgeo import gdal

    from ..core.raster_io import display_range

    dataset = gdal.Open(str(path))
    if dataset is None:
        return False
    names = [dataset.GetRasterBand(i + 1).GetDescription() for i in range(dataset.RasterCount)]
    dataset = None
    for name, style, stretch in BAND_STYLES:
        if name in names:
            band = names.index(name) + 1
            value_range = display_range(str(path), band, stretch=stretch)
            return style_on_completion(context, output_ref, style, layer_name, value_range, band)
    return False


def _legend_decimals(ramp, span):
    """Round a colour ramp's legend labels to about 3 significant figures of ``span`` (e.g. 0 to 1,287)."""
    if not hasattr(ramp, "legendSettings") or ramp.legendSettings() is None or span <= 0:
        return
    from qgis.core import QgsBasicNumericFormat, QgsColorRampLegendNodeSettings

    number_format = QgsBasicNumericFormat()
    number_format.setNumberDecimalPlaces(max(0, 2 - int(math.floor(math.log10(span)))))
    number_format.setShowTrailingZeros(False)
    settings = QgsColorRampLegendNodeSettings(ramp.legendSettings())
    settings.setNumericFormat(number_format)
    ramp.setLegendSettings(settings)


def style_on_completion(context, output_ref, style_name, layer_name=None, value_range=None, band=None,
                        time_steps=None):
    """Ask Processing to style ``output_ref`` (a path or sink id) when it loads it.

    ``value_range`` (min, max) overrides the style's stretch and ``band`` picks the band a
    single-band style is shown on (see :class:`StylePostProcessor`). ``time_steps``
    [(start, end, band)] makes a dated output animate in QGIS's Temporal Controller (see
    :func:`apply_time_steps`).

    Does nothing when the output is not going to be loaded (e.g. from ``qgis_process``).
    Returns True if a post-processor was attached.
    """
    if not output_ref or not context.willLoadLayerOnCompletion(output_ref):
        return False
    details = context.layerToLoadOnCompletionDetails(output_ref)
    details.setPostProcessor(StylePostProcessor.create(style_path(style_name), layer_name, value_range, band,
                                                       time_steps))
    if layer_name:
        details.name = layer_name
    return True


# -- time -------------------------------------------------------------------------------------------------------

def _date_time(value):
    """QDateTime (UTC midnight) from a date, datetime64 or 'YYYY-MM-DD' text."""
    from qgis.PyQt.QtCore import QDate, QDateTime, QTime, Qt

    text = str(value)[:10]
    date = QDate.fromString(text, "yyyy-MM-dd")
    if not date.isValid():
        raise ValueError(f"'{value}' is not a date (YYYY-MM-DD)")
    return QDateTime(date, QTime(0, 0), Qt.TimeSpec.UTC)


def set_fixed_time_range(layer, start, end):
    """Show ``layer`` in QGIS's Temporal Controller from ``start`` (included) to ``end`` (excluded)."""
    from qgis.core import QgsDateTimeRange, QgsRasterLayerTemporalProperties, QgsVectorLayerTemporalProperties

    props = layer.temporalProperties()
    owner = QgsRasterLayerTemporalProperties if layer.type() == layer.RasterLayer else \
        QgsVectorLayerTemporalProperties
    mode = getattr(owner, "ModeFixedTemporalRange", None)
    if mode is None:  # QGIS >= 3.38 scoped enums
        from qgis.core import Qgis

        mode = (Qgis.RasterTemporalMode if owner is QgsRasterLayerTemporalProperties
                else Qgis.VectorTemporalMode).FixedTemporalRange
    props.setMode(mode)
    props.setFixedTemporalRange(QgsDateTimeRange(_date_time(start), _date_time(end), True, False))
    props.setIsActive(True)


def apply_time_steps(layer, time_steps, project=None):
    """Make a dated raster output animate in the Temporal Controller.

    ``time_steps`` [(start, end, band)]: the band showing each step and its dates (end excluded).
    One step (a velocity pair) is one fixed range on the layer, on every QGIS version. Several steps:
    QGIS 3.38+ maps bands to time ranges in one layer ("fixed range per band"); earlier versions
    (3.22) get one layer per step: ``layer`` shows the first step, copies of it (same file, same
    style, another band) the others, all in one group of ``project``'s layer tree.
    Returns the layers, one per step.
    """
    from qgis.core import Qgis, QgsDateTimeRange

    mode = getattr(getattr(Qgis, "RasterTemporalMode", None), "FixedRangePerBand", None)
    props = layer.temporalProperties()
    if len(time_steps) > 1 and mode is not None and hasattr(props, "setFixedRangePerBand"):
        props.setMode(mode)
        props.setFixedRangePerBand({int(band): QgsDateTimeRange(_date_time(a), _date_time(b), True, False)
                                    for a, b, band in time_steps})
        props.setIsActive(True)
        return [layer]
    layers = [layer]
    name = layer.name()
    for _ in time_steps[1:]:
        copy = layer.clone()
        copy.setRenderer(clone_renderer(layer.renderer()))
        layers.append(copy)
    for step_layer, (start, end, band) in zip(layers, time_steps):
        renderer = step_layer.renderer()
        if hasattr(renderer, "setBand"):
            renderer.setBand(int(band))
        step_layer.setName(f"{name}, {str(start)[:10]} to {str(end)[:10]}")
        set_fixed_time_range(step_layer, start, end)
        announce_style_change(step_layer)
    if project is not None and len(layers) > 1:
        _group_steps(project, layer, layers[1:], f"{name} ({len(layers)} time steps)")
    return layers


def _group_steps(project, first, others, group_name):
    """Put ``first`` (already in ``project``) and ``others`` in one collapsed group where ``first`` was."""
    root = project.layerTreeRoot()
    node = root.findLayer(first.id())
    parent = node.parent() if node is not None else root
    index = parent.children().index(node) if node is not None else 0
    group = parent.insertGroup(index, group_name)
    for other in others:
        project.addMapLayer(other, False)
    for step_layer in [first] + list(others):
        group.addLayer(step_layer)
    if node is not None:
        parent.removeChildNode(node)
    group.setExpanded(False)
