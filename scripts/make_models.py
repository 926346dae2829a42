"""Build the example Processing models in resources/models/ with the QGIS model API.

Run with the project's venv: ``.venv/bin/python scripts/make_models.py``.
Building the ``.model3`` files through ``QgsProcessingModelAlgorithm`` (rather than
by hand) keeps them valid; the Serac provider offers every model in that folder
in the toolbox (group "Example workflows") and in the Serac menu.
"""

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)
from qgis.PyQt.QtCore import QPointF  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "resources", "models")
GROUP = "Example workflows"

# zonal statistics (native:zonalstatisticsfb) STATISTICS enum indexes
COUNT, MEAN, MEDIAN, STDEV = 0, 2, 3, 4


class ModelBuilder:
    """Small helper over QgsProcessingModelAlgorithm: inputs, chained children, outputs."""

    def __init__(self, model_id, name, help_text):
        self.model = QgsProcessingModelAlgorithm(name, GROUP, "serac_examples")
        self.model.setName(name)
        self.model_id = model_id
        self.model.setHelpContent({"ALG_DESC": help_text, "ALG_CREATOR": "Serac", "ALG_VERSION": "1"})
        self.x = 120

    def raster_input(self, name, description, optional=False):
        return self._input(QgsProcessingParameterRasterLayer(name, description, optional=optional))

    def polygon_input(self, name, description, optional=False):
        from qgis.core import QgsProcessing

        source_type = getattr(QgsProcessing, "TypeVectorPolygon", 2)
        return self._input(QgsProcessingParameterFeatureSource(name, description, [source_type], optional=optional))

    def number_input(self, name, description, default, minimum=None, maximum=None, integer=False):
        number_type = QgsProcessingParameterNumber.Integer if integer else QgsProcessingParameterNumber.Double
        param = QgsProcessingParameterNumber(name, description, number_type, default, False,
                                             minimum if minimum is not None else -1e300,
                                             maximum if maximum is not None else 1e300)
        return self._input(param)

    def file_input(self, name, description, extension):
        return self._input(QgsProcessingParameterFile(name, description, extension=extension))

    def _input(self, definition):
        component = QgsProcessingModelParameter(definition.name())
        component.setPosition(QPointF(self.x, 60))
        self.x += 220
        self.model.addModelParameter(definition, component)
        return ("input", definition.name())

    def child(self, child_id, algorithm_id, description, params, outputs=None, row=1):
        child = QgsProcessingModelChildAlgorithm(algorithm_id)
        child.setChildId(child_id)
        child.setDescription(description)
        child.setPosition(QPointF(120 + 260 * (len(self.model.childAlgorithms()) % 3), 160 + 120 * row))
        for key, value in params.items():
            child.addParameterSources(key, [self._source(value)])
        model_outputs = {}
        for output_name, (child_output, description_text) in (outputs or {}).items():
            out = QgsProcessingModelOutput(output_name, description_text)
            out.setChildId(child_id)
            out.setChildOutputName(child_output)
            out.setPosition(QPointF(child.position().x() + 200, child.position().y() + 60))
            model_outputs[output_name] = out
        child.setModelOutputs(model_outputs)
        self.model.addChildAlgorithm(child)
        return child_id

    @staticmethod
    def _source(value):
        if isinstance(value, tuple) and value[0] == "input":
            return QgsProcessingModelChildParameterSource.fromModelParameter(value[1])
        if isinstance(value, tuple) and value[0] == "child":
            return QgsProcessingModelChildParameterSource.fromChildOutput(value[1], value[2])
        if isinstance(value, tuple) and value[0] == "expression":
            return QgsProcessingModelChildParameterSource.fromExpression(value[1])
        return QgsProcessingModelChildParameterSource.fromStaticValue(value)

    def save(self):
        os.makedirs(MODELS, exist_ok=True)
        path = os.path.join(MODELS, self.model_id + ".model3")
        if not self.model.toFile(path):
            raise RuntimeError(f"could not write {path}")
        return path


def child_output(child_id, output):
    return ("child", child_id, output)


def per_glacier_stats(builder, outlines, raster_ref, band, prefix, statistics, child_id, row):
    """Zonal statistics of a raster band inside each outline (native:zonalstatisticsfb)."""
    return builder.child(child_id, "native:zonalstatisticsfb", "Statistics per glacier",
                         {"INPUT": outlines, "INPUT_RASTER": raster_ref, "RASTER_BAND": band,
                          "COLUMN_PREFIX": prefix, "STATISTICS": statistics, "OUTPUT": "TEMPORARY_OUTPUT"},
                         row=row)


def dem_change_model():
    b = ModelBuilder(
        "serac_dem_change_per_glacier", "DEM change per glacier",
        "Co-registers a DEM onto a reference DEM on stable terrain (Nuth & Kääb 2011; glaciers masked with the "
        "outlines), maps the elevation change dh = aligned DEM - reference DEM (m), then computes for every "
        "glacier outline the count, mean, median and standard deviation of dh and the volume change "
        "(m³ = mean dh × planimetric area in the outlines' CRS; use outlines in a projected CRS). Give the later "
        "DEM as 'DEM to align' and the earlier one as reference, so that negative dh means thinning.")
    ref = b.raster_input("reference_dem", "Reference DEM (m)")
    dem = b.raster_input("dem", "DEM to align (m)")
    outlines = b.polygon_input("glacier_outlines", "Glacier outlines (projected CRS)")
    coreg = b.child("coregister", "serac:dem_coregistration", "Co-register DEM and map dh",
                    {"REFERENCE": ref, "DEM": dem, "OUTLINES": outlines, "METHOD": 0, "DERAMP_ORDER": 0,
                     "OUTPUT": "TEMPORARY_OUTPUT", "DH": "TEMPORARY_OUTPUT"},
                    outputs={"aligned_dem": ("OUTPUT", "Aligned DEM (m)"),
                             "dh": ("DH", "Elevation change dh (m)")}, row=0)
    stats = per_glacier_stats(b, outlines, child_output(coreg, "DH"), 1, "dh_", [COUNT, MEAN, MEDIAN, STDEV],
                              "dh_per_glacier", row=1)
    b.child("volume_change", "native:fieldcalculator", "Volume change per glacier",
            {"INPUT": child_output(stats, "OUTPUT"), "FIELD_NAME": "volume_change_m3", "FIELD_TYPE": 0,
             "FIELD_LENGTH": 20, "FIELD_PRECISION": 1, "FORMULA": '"dh_mean" * area($geometry)',
             "OUTPUT": "TEMPORARY_OUTPUT"},
            outputs={"glacier_change": ("OUTPUT", "Glaciers with mean dh (m) and volume change (m³)")}, row=2)
    return b.save()


MODEL_BUILDERS = [dem_change_model]


def main():
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append(os.path.join(app.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    for build in MODEL_BUILDERS:
        print("wrote", build(), file=sys.stderr)
    app.exitQgis()


if __name__ == "__main__":
    main()
