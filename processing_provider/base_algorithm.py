"""The base class of every Serac Processing algorithm.

A Serac algorithm is thin: it declares parameters, turns them into core inputs
(:mod:`serac.processing_provider.qgis_bridge`), calls the core, and returns
outputs that Processing loads with a QML style. The base class gives every
algorithm the same identity (id, group, icon, help), dependency checks that do
not break loading, feedback-driven progress and cancellation, and one way to
declare and style outputs.

Subclasses set the class attributes and implement :meth:`define_parameters`
and :meth:`run_algorithm`. Core modules are imported inside :meth:`run_algorithm` (not at module
level) so that the provider always loads, even when a Python dependency such as
rasterio is missing; :meth:`canExecute` then tells the user what to install.
"""

import importlib.util
import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProperty,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.errors import DEPENDENCY_MENU  # plain Python, importable without the core's dependencies
from . import styles
from .compat import SOURCE_RASTER

ICON_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "icons")

def file_error_text(exc):
    """The user's message for a file error the core did not type (GDAL or the OS), else None."""
    try:
        import rasterio.errors
        gdal_errors = (rasterio.errors.RasterioError,)
    except ImportError:
        gdal_errors = ()
    if isinstance(exc, OSError):
        name = getattr(exc, "filename", None)
        where = f" '{name}'" if name else ""
        return (f"Serac could not read or write the file{where}: {getattr(exc, 'strerror', None) or exc}. Fix: check "
                "that the input files are complete and readable, and choose an output folder you can write to "
                "with free disk space.")
    if gdal_errors and isinstance(exc, gdal_errors):
        return (f"GDAL could not read or write a raster: {exc}. Fix: check that the input files are complete "
                "(download or export them again if a copy was interrupted) and that the output folder can be "
                "written.")
    return None


#: Names, as declared in requirements.txt, of the packages every algorithm imports. The rest of the declared
#: core (onnxruntime, the vector stack used outside QGIS, threadpoolctl, which is optional) and the optional
#: groups (requirements-ml.txt, requirements-batch.txt) are named by the algorithms that need them (``REQUIRES``).
CORE_PACKAGES = ("numpy", "scipy", "rasterio")


def declared_requirements(names):
    """(import name, pip name) of the requirements called ``names``, from the declared requirement files (the one
    list :mod:`serac.plugin.dependencies` reads; its pip-to-import name mapping). Raises ``KeyError`` for a name
    that is not declared there."""
    from ..plugin.dependencies import REQUIREMENTS

    declared = {r.name.lower(): r for r in REQUIREMENTS}
    unknown = [n for n in names if n.lower() not in declared]
    if unknown:
        raise KeyError(f"not declared in the requirement files: {', '.join(unknown)}")
    return tuple((declared[n.lower()].module, declared[n.lower()].name) for n in names)


#: (import name, pip name) of :data:`CORE_PACKAGES`.
CORE_REQUIREMENTS = declared_requirements(CORE_PACKAGES)


def group_icon_path(group_id, default="serac.svg"):
    """``resources/icons/group_<group_id>.svg`` (one icon per algorithm group), else ``default``."""
    path = os.path.join(ICON_DIR, f"group_{group_id}.svg")
    return path if group_id and os.path.isfile(path) else os.path.join(ICON_DIR, default)


def plain_results(results):
    """Results with numpy scalars as Python numbers: QGIS cannot convert a numpy.float64, and
    ``qgis_process`` would print such an output empty."""
    return {key: value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value
            for key, value in results.items()}


def _is_temporary(value):
    """True if an output parameter's value asks for a temporary output (a file or memory layer QGIS names)."""
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        value = value.sink
    if isinstance(value, QgsProperty):
        value = value.staticValue()
    return isinstance(value, str) and (value == QgsProcessing.TEMPORARY_OUTPUT or value.startswith("memory:"))


class SeracAlgorithm(QgsProcessingAlgorithm):
    """Common behaviour of Serac algorithms. Subclasses fill in the class attributes."""

    #: Algorithm id within the provider (``serac:<ALG_ID>``), lower_snake_case.
    ALG_ID = None
    DISPLAY_NAME = ""
    GROUP_ID = ""
    GROUP = ""
    #: One paragraph shown beside the dialog; give units and what the outputs hold.
    SHORT_HELP = ""
    TAGS = ()
    ICON = "serac.svg"
    #: Names of the declared requirements (requirements*.txt) this algorithm needs beyond CORE_PACKAGES.
    REQUIRES = ()

    # -- identity ---------------------------------------------------------------
    def tr(self, text):
        return QCoreApplication.translate("Serac", text)

    def name(self):
        return self.ALG_ID

    def displayName(self):  # noqa: N802
        return self.tr(self.DISPLAY_NAME)

    def group(self):
        return self.tr(self.GROUP)

    def groupId(self):  # noqa: N802
        return self.GROUP_ID

    def tags(self):
        return [self.tr(t) for t in self.TAGS] + ["serac", "glacier"]

    def shortHelpString(self):  # noqa: N802
        return self.tr(self.SHORT_HELP)

    def icon(self):
        if self.ICON != SeracAlgorithm.ICON:  # an algorithm's own icon
            return QIcon(os.path.join(ICON_DIR, self.ICON))
        return QIcon(group_icon_path(self.GROUP_ID))

    def createInstance(self):  # noqa: N802
        return type(self)()

    # -- dependencies -----------------------------------------------------------
    @classmethod
    def missing_requirements(cls):
        """pip names of the required packages that cannot be imported."""
        return [pip for module, pip in CORE_REQUIREMENTS + declared_requirements(cls.REQUIRES)
                if importlib.util.find_spec(module) is None]

    def canExecute(self):  # noqa: N802
        missing = self.missing_requirements()
        if missing:
            return False, self.tr(
                "Serac needs these Python packages, which are not installed: {}. Install them from "
                "{} in the QGIS menu bar, or run 'python -m pip install {}' in QGIS's "
                "Python.").format(", ".join(missing), DEPENDENCY_MENU, " ".join(missing))
        return True, ""

    # -- parameters and run -------------------------------------------------------
    def initAlgorithm(self, config=None):  # noqa: N802
        self.define_parameters()

    def define_parameters(self):
        """Add the parameters and outputs (override)."""
        raise NotImplementedError

    def run_algorithm(self, parameters, context, feedback):
        """Do the work and return the results dict (override)."""
        raise NotImplementedError

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        """Run :meth:`run_algorithm` the one way every Serac algorithm runs.

        Output folders are checked writable before any work; the core's warnings
        (:func:`serac.core.progress.warn`) go to the log as warnings as they happen; the core's
        typed errors, and any file error the core did not type, become a
        ``QgsProcessingException`` naming the file and the fix: no traceback reaches the user.
        """
        ok, message = self.canExecute()
        if not ok:
            raise QgsProcessingException(message)
        from ..core.errors import SeracError  # after the dependency check
        from ..core.progress import forward_warnings

        try:
            self.check_outputs(parameters, context)
            with forward_warnings(feedback):
                return plain_results(self.run_algorithm(parameters, context, feedback))
        except SeracError as exc:
            raise QgsProcessingException(str(exc)) from exc
        except MemoryError as exc:
            raise QgsProcessingException(
                "Serac ran out of memory. Fix: use a smaller block/tile size, a coarser grid, or crop the "
                "inputs to the area of interest.") from exc
        except Exception as exc:  # noqa: BLE001 - file errors the core did not type: name them, no traceback
            text = file_error_text(exc)
            if text is None:
                raise
            raise QgsProcessingException(text) from exc

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """Before QGIS loads the layers: an input raster file GDAL cannot read is named with the fix
        (QGIS alone would say the layer was "not found")."""
        ok, message = self.canExecute()
        if ok:
            message = self.unreadable_input(parameters)
            if message:
                return False, message
        return super().checkParameterValues(parameters, context)

    def unreadable_input(self, parameters):
        """The core's message for the first raster input file that GDAL cannot open, else None."""
        from ..core.errors import SeracError
        from ..core.raster_io import read_grid

        for definition in self.parameterDefinitions():
            raster = isinstance(definition, QgsProcessingParameterRasterLayer) or (
                isinstance(definition, QgsProcessingParameterMultipleLayers)
                and definition.layerType() == SOURCE_RASTER)
            value = parameters.get(definition.name()) if raster else None
            for path in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(path, str) and os.path.isfile(path):
                    try:
                        read_grid(path)
                    except SeracError as exc:
                        return str(exc)
        return None

    def output_paths(self, parameters, context):
        """{parameter name: file path} of the file outputs the user chose (not memory layers or databases).

        Temporary outputs are left out: QGIS makes a new temporary name, to load when the run ends, each
        time one is resolved, so only the algorithm itself resolves them (once), and their folder is QGIS's.
        """
        paths = {}
        for definition in self.destinationParameterDefinitions():
            name = definition.name()
            if _is_temporary(parameters.get(name)):
                continue
            if isinstance(definition, QgsProcessingParameterFileDestination):
                path = self.parameterAsFileOutput(parameters, name, context)
            else:
                path = self.parameterAsOutputLayer(parameters, name, context)
            path = (path or "").split("|")[0]
            if path and os.path.isabs(path):
                paths[name] = path
        return paths

    def check_outputs(self, parameters, context):
        """Raise the core's OutputError, naming the file, if an output's folder cannot be written."""
        from ..core.raster_io import check_output_path

        for path in self.output_paths(parameters, context).values():
            check_output_path(path)

    # -- output declaration helpers -------------------------------------------------
    def add_raster_output(self, key, description, optional=False):
        param = QgsProcessingParameterRasterDestination(key, self.tr(description), optional=optional)
        self.addParameter(param)
        return param

    def add_vector_output(self, key, description, source_type, optional=False):
        param = QgsProcessingParameterFeatureSink(key, self.tr(description), source_type, optional=optional)
        if optional:
            param.setCreateByDefault(True)
        self.addParameter(param)
        return param

    def add_file_output(self, key, description, file_filter, optional=True):
        param = QgsProcessingParameterFileDestination(key, self.tr(description), file_filter, optional=optional)
        self.addParameter(param)
        return param

    def add_number_outputs(self, **descriptions):
        """Declare numeric outputs, e.g. ``add_number_outputs(SHIFT_X='Shift east (m)')``."""
        for key, description in descriptions.items():
            self.addOutput(QgsProcessingOutputNumber(key, self.tr(description)))

    def add_string_outputs(self, **descriptions):
        for key, description in descriptions.items():
            self.addOutput(QgsProcessingOutputString(key, self.tr(description)))

    @staticmethod
    def style_output(context, output_ref, style_name, layer_name=None, value_range=None, band=None,
                     time_steps=None):
        """Style an output with ``resources/styles/<style_name>.qml`` when Processing loads it.

        ``value_range`` (min, max) stretches the style to this run's values (e.g. 2-98 %);
        ``band`` shows a single-band style on that band of a multi-band output; ``time_steps``
        [(start date, end date, band)] gives a dated output QGIS temporal properties.
        """
        return styles.style_on_completion(context, output_ref, style_name, layer_name, value_range, band,
                                          time_steps)
