"""Parameter helpers: one way to declare each kind of Processing parameter (used by :mod:`.job_algorithm`)."""

from qgis.core import QgsProcessingParameterEnum, QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer

from .compat import NUMBER_DOUBLE, NUMBER_INTEGER, PARAM_ADVANCED

_BIG = 1.7976931348623157e308


def add_raster(algorithm, key, description, optional=False):
    param = QgsProcessingParameterRasterLayer(key, algorithm.tr(description), optional=optional)
    algorithm.addParameter(param)
    return param


def _add(algorithm, param, advanced):
    if advanced:
        param.setFlags(param.flags() | PARAM_ADVANCED)
    algorithm.addParameter(param)
    return param


def add_number(algorithm, key, description, default, minimum=None, maximum=None, integer=False, advanced=False,
               optional=False):
    """Number parameter (integer or double) with its range; ``advanced`` hides it under Advanced parameters."""
    param = QgsProcessingParameterNumber(key, algorithm.tr(description), NUMBER_INTEGER if integer else NUMBER_DOUBLE,
                                         default, optional, -_BIG if minimum is None else minimum,
                                         _BIG if maximum is None else maximum)
    return _add(algorithm, param, advanced)


def add_enum(algorithm, key, description, options, default=0, advanced=False):
    """Enum parameter; ``options`` is a list of (value, label); Processing stores the index."""
    param = QgsProcessingParameterEnum(key, algorithm.tr(description), options=[algorithm.tr(l) for _, l in options],
                                       defaultValue=default)
    _add(algorithm, param, advanced)
    return [v for v, _ in options]
