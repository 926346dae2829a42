"""Styling of Processing outputs with QML files from ``resources/styles``.

Processing loads an output layer after the algorithm ends and then calls the
layer's post-processor, which applies the QML style. Post-processors must
outlive the algorithm run, so :class:`StylePostProcessor` keeps every instance
it creates in a class-level list (QGIS holds only a raw pointer).
"""

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
    """Applies a QML style (and optionally a layer name) to an output layer once it is loaded."""

    _instances = []  # keep Python objects alive while QGIS holds pointers to them

    def __init__(self, qml_path, layer_name=None):
        super().__init__()
        self.qml_path = qml_path
        self.layer_name = layer_name

    @classmethod
    def create(cls, qml_path, layer_name=None):
        processor = cls(qml_path, layer_name)
        cls._instances.append(processor)
        return processor

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API)
        if layer is None or not layer.isValid():
            return
        message, ok = layer.loadNamedStyle(self.qml_path)
        if not ok:
            feedback.pushWarning(f"Could not apply style {os.path.basename(self.qml_path)}: {message}")
        if self.layer_name:
            layer.setName(self.layer_name)
        layer.triggerRepaint()


def style_on_completion(context, output_ref, style_name, layer_name=None):
    """Ask Processing to style ``output_ref`` (a path or sink id) when it loads it.

    Does nothing when the output is not going to be loaded (e.g. from ``qgis_process``).
    Returns True if a post-processor was attached.
    """
    if not output_ref or not context.willLoadLayerOnCompletion(output_ref):
        return False
    details = context.layerToLoadOnCompletionDetails(output_ref)
    details.setPostProcessor(StylePostProcessor.create(style_path(style_name), layer_name))
    if layer_name:
        details.name = layer_name
    return True
