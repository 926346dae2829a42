"""Parameter blocks shared by several algorithms (one definition each)."""

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from .compat import NUMBER_DOUBLE, NUMBER_INTEGER, PARAM_ADVANCED, SOURCE_POLYGON

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


def _add(algorithm, param, advanced):
    if advanced:
        param.setFlags(param.flags() | PARAM_ADVANCED)
    algorithm.addParameter(param)
    return param


def add_number(algorithm, key, description, default, minimum, maximum, integer=False, advanced=False):
    """Number parameter (integer or double) with its range; ``advanced`` hides it under Advanced parameters."""
    param = QgsProcessingParameterNumber(key, algorithm.tr(description), NUMBER_INTEGER if integer else NUMBER_DOUBLE,
                                         default, False, minimum, maximum)
    return _add(algorithm, param, advanced)


def add_enum(algorithm, key, description, options, default=0, advanced=False):
    """Enum parameter; ``options`` is a list of (value, label); read back with :func:`choice`."""
    param = QgsProcessingParameterEnum(key, algorithm.tr(description), options=[algorithm.tr(l) for _, l in options],
                                       defaultValue=default)
    _add(algorithm, param, advanced)
    return [v for v, _ in options]


def enum_value(algorithm, parameters, context, key, values):
    """The value (from the list ``values``) the user picked in enum parameter ``key``."""
    return values[algorithm.parameterAsEnum(parameters, key, context)]


def choice(algorithm, parameters, context, key, options):
    """Like :func:`enum_value` for an option list of (value, label) pairs, as given to :func:`add_enum`."""
    return enum_value(algorithm, parameters, context, key, [v for v, _ in options])
