"""Parameter blocks shared by several algorithms (one definition each)."""

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterRasterLayer,
)

from .compat import SOURCE_POLYGON

#: Backend choices shown to the user, in the order of serac.core.backend.BACKENDS.
BACKEND_OPTIONS = ["auto", "numpy", "torch-cpu", "torch-cuda", "onnxruntime"]


def add_backend(algorithm, key="BACKEND", options=None, default="auto"):
    """Enum parameter choosing the compute backend; read it back with :func:`enum_value`.

    'auto' uses torch on a CUDA GPU when present, else the algorithm's CPU default.
    """
    options = list(options or BACKEND_OPTIONS)
    return add_enum(algorithm, key, "Compute backend", [(o, o) for o in options], options.index(default))


def add_outlines(algorithm, key="OUTLINES", description="Glacier outlines (unstable terrain)", optional=True):
    """Polygon layer of glacier outlines; everything outside them is treated as stable ground."""
    param = QgsProcessingParameterFeatureSource(key, algorithm.tr(description), [SOURCE_POLYGON], optional=optional)
    algorithm.addParameter(param)
    return param


def add_raster(algorithm, key, description, optional=False):
    param = QgsProcessingParameterRasterLayer(key, algorithm.tr(description), optional=optional)
    algorithm.addParameter(param)
    return param


def add_enum(algorithm, key, description, options, default=0):
    """Enum parameter; ``options`` is a list of (value, label); read back with :func:`enum_value`."""
    param = QgsProcessingParameterEnum(key, algorithm.tr(description), options=[algorithm.tr(l) for _, l in options],
                                       defaultValue=default)
    algorithm.addParameter(param)
    return [v for v, _ in options]


def enum_value(algorithm, parameters, context, key, values):
    return values[algorithm.parameterAsEnum(parameters, key, context)]
