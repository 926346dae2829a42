"""The Serac Processing provider (id ``serac``).

Algorithms are discovered, not listed: every :class:`SeracAlgorithm` subclass
with an ``ALG_ID`` in a module of ``processing_provider/algorithms`` is
registered, and so is every example model in ``resources/models``. A module that fails to import is reported in the QGIS message log
and skipped, so one broken module never hides the others.
"""

import importlib
import inspect
import os
import pkgutil

from qgis.core import Qgis, QgsMessageLog, QgsProcessingModelAlgorithm, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from . import algorithms
from .base_algorithm import ICON_DIR, SeracAlgorithm

PROVIDER_ID = "serac"
MODEL_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "models")


def _plugin_version():
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "metadata.txt")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
    return "unknown"


#: Styles of example-model outputs made by QGIS's own algorithms (Serac's steps style their outputs
#: themselves): model output name -> (style in resources/styles, layer name).
MODEL_OUTPUT_STYLES = {
    "per_glacier:glacier_change": ("glacier_change_dh", "Glacier change (mean dh, m; volume, m³; m w.e.) ± 1 sigma"),
    "speed_per_glacier:glacier_speed": ("glacier_speed", "Speed per glacier (median, m/yr)"),
}


class ExampleModel(QgsProcessingModelAlgorithm):
    """An example workflow read from a ``.model3`` file whose outputs load styled, also those of QGIS's
    own algorithms (see MODEL_OUTPUT_STYLES)."""

    def __init__(self, path=None):
        super().__init__()
        self.path = path

    def createInstance(self):  # noqa: N802 (QGIS API)
        model = ExampleModel(self.path)
        model.fromFile(self.path)
        return model

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API)
        from .styles import style_on_completion

        results = super().processAlgorithm(parameters, context, feedback)
        for output, (style, layer_name) in MODEL_OUTPUT_STYLES.items():
            if isinstance(results.get(output), str):
                style_on_completion(context, results[output], style, layer_name)
        return results


def load_example_models():
    """The example workflows (``resources/models/*.model3``) as model algorithms."""
    models = []
    for name in sorted(os.listdir(MODEL_DIR)) if os.path.isdir(MODEL_DIR) else []:
        if not name.endswith(".model3"):
            continue
        path = os.path.join(MODEL_DIR, name)
        model = ExampleModel(path)
        if model.fromFile(path):
            models.append(model)
        else:
            QgsMessageLog.logMessage(f"Could not read example model {name}", "Serac", Qgis.MessageLevel.Critical)
    return models


def discover_algorithm_classes():
    """All concrete SeracAlgorithm subclasses in ``processing_provider.algorithms``, sorted by id."""
    found = {}
    for info in pkgutil.iter_modules(algorithms.__path__):
        name = f"{algorithms.__name__}.{info.name}"
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # report and go on: one broken module must not hide the rest
            QgsMessageLog.logMessage(f"Could not load algorithm module {name}: {exc}", "Serac", Qgis.MessageLevel.Critical)
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, SeracAlgorithm) and obj is not SeracAlgorithm and obj.ALG_ID:
                found[obj.ALG_ID] = obj
    return [found[k] for k in sorted(found)]


class SeracProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "Serac"

    def longName(self):  # noqa: N802
        return f"Serac {_plugin_version()} (glacier remote sensing)"

    def icon(self):
        return QIcon(os.path.join(ICON_DIR, "serac.svg"))

    def loadAlgorithms(self):  # noqa: N802
        for cls in discover_algorithm_classes():
            self.addAlgorithm(cls())
        for model in load_example_models():
            self.addAlgorithm(model)
