"""A Processing algorithm that adapts one core job (:mod:`serac.core.jobs`).

The parameters are declared from the job's inputs, settings dataclass and outputs
(``UPPER_CASE`` keys of the lower_case names), layers are turned into paths and
geometries (:mod:`.qgis_bridge`), the job's ``run`` is called, ``Result.numbers`` become
outputs, the report is written as one JSON string output (``REPORT_OUTPUT``) and every
output is styled by its kind (the QML named by the job's output port, stretched to the
range the report gives in ``display_ranges``). A subclass holds the help text, the styles'
layer names, the attribute fields of vector outputs and, where needed, a hook for
parameters that only matter to QGIS (e.g. a colour scale).
"""

from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
    QgsWkbTypes,
)

from . import parameters as params
from .base_algorithm import SeracAlgorithm
from .compat import (
    PARAM_ADVANCED,
    SOURCE_LINE,
    SOURCE_POINT,
    SOURCE_POLYGON,
    SOURCE_RASTER,
    WKB_LINESTRING,
    WKB_POINT,
    WKB_POLYGON,
)
from .qgis_bridge import raster_path, raster_paths, source_geometries, write_records

_SINK_TYPES = {"polygons": (SOURCE_POLYGON, WKB_POLYGON), "lines": (SOURCE_LINE, WKB_LINESTRING),
               "points": (SOURCE_POINT, WKB_POINT)}
_VECTOR_INPUTS = {"polygons": [SOURCE_POLYGON], "lines": [SOURCE_LINE], "vector": [SOURCE_POLYGON, SOURCE_LINE]}


def key_of(name):
    """Processing key of a job's input, setting, output or number name."""
    return name.upper()


def parse_bands(text):
    """'1,2,3' -> (1, 2, 3); '' -> None (all bands). Raises the core's InputError on bad text."""
    from ..core.jobs.base import parse_band_list

    return parse_band_list(text)


class JobAlgorithm(SeracAlgorithm):
    """A Serac algorithm whose work is one core job. Subclasses set ``JOB_NAME`` and the help."""

    #: Name of the job in :data:`serac.core.jobs.JOBS`.
    JOB_NAME = None
    #: Processing output holding the job's JSON report: the same name in every algorithm (a file report, e.g.
    #: HTML, is a job output of its own, ``report_html`` -> REPORT_HTML).
    REPORT_OUTPUT = "REPORT"
    #: Output name -> layer name shown in QGIS (default: the output's label).
    LAYER_NAMES = {}
    #: Vector output name -> [(field, QGIS type name)] of its attribute table.
    FIELDS = {}
    #: Input names whose rasters may lack a CRS (e.g. SAR in radar geometry).
    NO_CRS_NEEDED = ()
    #: Order of the dialog's parameters (input and setting names); default: inputs, then settings.
    ORDER = None

    # -- the job ----------------------------------------------------------------------------------------------
    @classmethod
    def job(cls):
        from ..core.jobs import get_job

        return get_job(cls.JOB_NAME)

    # -- declaration ------------------------------------------------------------------------------------------
    def define_parameters(self):
        job = self.job()
        specs = {spec.name: spec for spec in job.settings.fields()}
        for name in self.ORDER or list(job.inputs) + list(specs):
            if name in job.inputs:
                self._declare_input(name, job.inputs[name])
            else:
                self._declare_setting(specs[name])
        self.define_extra_parameters()
        for name, port in job.outputs.items():
            self._declare_output(name, port)
        self.add_number_outputs(**{key_of(n): label for n, label in job.numbers.items()})
        self.add_string_outputs(**{key_of(n): label for n, label in job.texts.items()})
        if self.REPORT_OUTPUT not in {key_of(n) for n in job.outputs}:
            self.add_string_outputs(**{self.REPORT_OUTPUT: "Report (JSON: the numbers and what was used)"})

    def define_extra_parameters(self):
        """Parameters that only QGIS needs (override); declared after the job's own."""

    def _declare_input(self, name, port):
        key, label = key_of(name), self.tr(port.label)
        if port.kind == "raster":
            params.add_raster(self, key, port.label, optional=port.optional)
        elif port.kind == "rasters":
            self.addParameter(QgsProcessingParameterMultipleLayers(key, label, SOURCE_RASTER, optional=port.optional))
        elif port.kind == "points":  # read by the core from a file: attributes (elevations) and Z kept
            self.addParameter(QgsProcessingParameterFeatureSource(key, label, [SOURCE_POINT], optional=port.optional))
        elif port.kind in _VECTOR_INPUTS:
            self.addParameter(QgsProcessingParameterFeatureSource(key, label, _VECTOR_INPUTS[port.kind],
                                                                  optional=port.optional))
        elif port.kind == "file":
            self.addParameter(QgsProcessingParameterFile(key, label, optional=port.optional,
                                                         fileFilter=port.file_filter))
        else:
            raise TypeError(f"unknown input kind {port.kind!r}")

    def _declare_setting(self, spec):
        key, label = spec.key or key_of(spec.name), self.tr(spec.label)
        if spec.widget in ("band", "bands"):
            param = QgsProcessingParameterBand(key, label, spec.default if spec.widget == "band" else None,
                                               key_of(spec.parent), optional=True,
                                               allowMultiple=spec.widget == "bands")
        elif spec.widget == "field":
            param = QgsProcessingParameterField(key, label, None, key_of(spec.parent), optional=True)
        elif spec.choices:
            params.add_enum(self, key, spec.label, spec.choices, spec.values.index(spec.default), spec.advanced)
            return
        elif spec.kind is bool:
            param = QgsProcessingParameterBoolean(key, label, defaultValue=spec.default, optional=spec.optional)
        elif spec.kind in (int, float) and spec.widget == "":
            params.add_number(self, key, spec.label, spec.default, spec.minimum, spec.maximum, spec.kind is int,
                              spec.advanced, spec.optional)
            return
        else:  # text: names, dates, band lists
            param = QgsProcessingParameterString(key, label, defaultValue=spec.default, optional=spec.optional)
        if spec.advanced:
            param.setFlags(param.flags() | PARAM_ADVANCED)
        self.addParameter(param)

    def _declare_output(self, name, port):
        key = key_of(name)
        if port.kind == "raster":
            param = self.add_raster_output(key, port.label, optional=port.optional)
        elif port.kind in _SINK_TYPES:
            param = self.add_vector_output(key, port.label, _SINK_TYPES[port.kind][0], optional=port.optional)
        elif port.kind == "file":
            param = self.add_file_output(key, port.label, port.file_filter, optional=port.optional)
        elif port.kind == "file_result":  # a file the job names itself (e.g. a log beside the model)
            self.addOutput(QgsProcessingOutputFile(key, self.tr(port.label)))
            return
        else:
            raise TypeError(f"unknown output kind {port.kind!r}")
        if port.optional:
            param.setCreateByDefault(port.default_on)

    # -- reading the parameters ------------------------------------------------------------------------------
    def vector_crs(self, parameters, context, inputs):
        """CRS (rasterio) the vector inputs are given in: the first raster input's, or the first raster of the
        first multiple-raster input when it comes before any single raster (override)."""
        from ..core.raster_io import read_grid

        job = self.job()
        first = next((inputs[n] if p.kind == "raster" else inputs[n][0] for n, p in job.inputs.items()
                      if p.kind in ("raster", "rasters") and inputs.get(n)), None)
        return read_grid(first).crs if first else None

    def job_inputs(self, parameters, context, feedback):
        job = self.job()
        inputs = {}
        for name, port in job.inputs.items():
            key = key_of(name)
            if port.kind == "raster":
                given = self.parameterAsRasterLayer(parameters, key, context) is not None
                inputs[name] = raster_path(self, parameters, key, context, port.label.split(" (")[0].lower(),
                                           require_crs=name not in self.NO_CRS_NEEDED) \
                    if given or not port.optional else None
            elif port.kind == "rasters":
                inputs[name] = raster_paths(self, parameters, key, context)
            elif port.kind == "file":
                inputs[name] = self.parameterAsFile(parameters, key, context) or None
            elif port.kind == "points":
                inputs[name] = self.source_path(parameters, key, context, feedback)
        vectors = [n for n, p in job.inputs.items() if p.kind in _VECTOR_INPUTS]
        if vectors:
            crs = self.vector_crs(parameters, context, inputs)
            for name in vectors:
                inputs[name] = source_geometries(self, parameters, key_of(name), context, crs, feedback)
        return inputs

    def source_path(self, parameters, key, context, feedback):
        """A vector file (``path|layername=name``) the core reads itself, exported to a GeoPackage when the layer is
        not one (CSV, memory layer, selection); None when the optional input is not set."""
        if self.parameterAsSource(parameters, key, context) is None:
            return None
        path, layer = self.parameterAsCompatibleSourceLayerPathAndLayerName(parameters, key, context, ["gpkg", "shp"],
                                                                            "gpkg", feedback)
        return f"{path}|layername={layer}" if layer else path

    def job_settings(self, parameters, context):
        job = self.job()
        values = {}
        for spec in job.settings.fields():
            key = spec.key or key_of(spec.name)
            if spec.widget == "bands":
                values[spec.name] = tuple(self.parameterAsInts(parameters, key, context)) or None
            elif spec.widget == "band":
                values[spec.name] = self.parameterAsInt(parameters, key, context) or spec.default
            elif spec.choices:
                values[spec.name] = spec.values[self.parameterAsEnum(parameters, key, context)]
            elif spec.kind is bool:
                values[spec.name] = self.parameterAsBoolean(parameters, key, context)
            elif spec.kind in (int, float) and spec.widget == "":
                if spec.optional and parameters.get(key) in (None, ""):
                    values[spec.name] = None
                elif spec.kind is int:
                    values[spec.name] = self.parameterAsInt(parameters, key, context)
                else:
                    values[spec.name] = self.parameterAsDouble(parameters, key, context)
            elif spec.widget == "bands_text":
                values[spec.name] = parse_bands(self.parameterAsString(parameters, key, context))
            elif spec.widget == "point":
                values[spec.name] = self.point_setting(parameters, context, key)
            else:
                text = self.parameterAsString(parameters, key, context).strip()
                values[spec.name] = text or (None if spec.optional else spec.default)
        return job.settings.from_dict(values)

    def job_outputs(self, parameters, context):
        outputs = {}
        for name, port in self.job().outputs.items():
            key = key_of(name)
            if port.kind == "raster":
                outputs[name] = self.parameterAsOutputLayer(parameters, key, context) or None
            elif port.kind == "file":
                outputs[name] = self.parameterAsFileOutput(parameters, key, context) or None
        return outputs

    # -- run -----------------------------------------------------------------------------------------------------
    def run_algorithm(self, parameters, context, feedback):
        job = self.job()
        inputs = self.job_inputs(parameters, context, feedback)
        if feedback is not None and feedback.isCanceled():
            from ..core.errors import Cancelled

            raise Cancelled()
        settings = self.job_settings(parameters, context)
        outputs = self.job_outputs(parameters, context)
        result = job.run(inputs, outputs, settings, feedback=feedback)
        return self.processing_results(parameters, context, feedback, result)

    def processing_results(self, parameters, context, feedback, result):
        """The Processing results dict of a job's Result: files, sinks, numbers, report; styles set."""
        job = self.job()
        out = {}
        for name, (features, crs, geometry_type) in result.features.items():
            port = job.outputs[name]
            records = [(f["geometry"], f["properties"]) for f in features]
            wkb = _SINK_TYPES[port.kind][1]
            if str(geometry_type).startswith("Multi"):
                wkb = QgsWkbTypes.multiType(wkb)
            dest = write_records(self, parameters, key_of(name), context, self.FIELDS[name], wkb, crs, records,
                                 feedback)
            if dest:
                result.outputs[name] = dest
        ranges = result.report.get("display_ranges", {})
        bands = result.report.get("display_bands", {})
        styles = result.report.get("styles", {})
        time_steps = result.report.get("time_steps", {})  # dated outputs: [(start, end, band)] per output
        for name, path in result.outputs.items():
            port = job.outputs.get(name)
            out[key_of(name)] = path
            style = styles.get(name, port.style if port is not None else "")
            if style and path:
                value_range = ranges.get(name)
                layer_name = self.tr(self.LAYER_NAMES.get(name, port.label if port else name))
                self.style_output(context, path, style, layer_name,
                                  value_range=tuple(float(v) for v in value_range) if value_range else None,
                                  band=bands.get(name), time_steps=time_steps.get(name))
        for name, value in result.numbers.items():
            out[key_of(name)] = value
        if self.REPORT_OUTPUT not in out:
            out[self.REPORT_OUTPUT] = result.report_json()
        return out
