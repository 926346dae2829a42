"""Build the example Processing models in resources/models/ with the QGIS model API.

Run with the project's venv: ``.venv/bin/python scripts/make_models.py``.
Building the ``.model3`` files through ``QgsProcessingModelAlgorithm`` (rather than
by hand) keeps them valid; the Serac provider offers every model in that folder
in the toolbox (group "Example workflows") and in the Serac menu.
"""

import os
import sys

from _checkout import use_checkout

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    Qgis,
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
COUNT, MEAN, MEDIAN, STDEV, MAX = 0, 2, 3, 4, 6


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
        kinds = getattr(Qgis, "ProcessingNumberParameterType", None) or QgsProcessingParameterNumber.Type
        number_type = kinds.Integer if integer else kinds.Double
        param = QgsProcessingParameterNumber(name, description, number_type, default, False,
                                             minimum if minimum is not None else -1e300,
                                             maximum if maximum is not None else 1e300)
        return self._input(param)

    def file_input(self, name, description, extension, optional=False):
        return self._input(QgsProcessingParameterFile(name, description, extension=extension, optional=optional))

    def string_input(self, name, description, optional=True):
        from qgis.core import QgsProcessingParameterString

        return self._input(QgsProcessingParameterString(name, description, optional=optional))

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
        self._fill_defaults(child, algorithm_id)
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
    def _fill_defaults(child, algorithm_id):
        """Give every other input parameter its default, as the modeler writes it: a child that leaves a
        parameter out is drawn red ("Parameter ... is mandatory") in the QGIS 3.22 modeler."""
        from qgis.core import QgsApplication

        algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
        if algorithm is None:
            raise RuntimeError(f"algorithm {algorithm_id} is not registered (is the Serac provider loaded?)")
        sources = child.parameterSources()
        for definition in algorithm.parameterDefinitions():
            if definition.isDestination() or definition.name() in sources:
                continue
            child.addParameterSources(definition.name(), [
                QgsProcessingModelChildParameterSource.fromStaticValue(definition.defaultValue())])

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


def per_glacier_stats(builder, outlines, raster_ref, band, prefix, statistics, child_id, row, outputs=None):
    """Zonal statistics of a raster band inside each outline (native:zonalstatisticsfb)."""
    return builder.child(child_id, "native:zonalstatisticsfb", "Statistics per glacier",
                         {"INPUT": outlines, "INPUT_RASTER": raster_ref, "RASTER_BAND": band,
                          "COLUMN_PREFIX": prefix, "STATISTICS": statistics, "OUTPUT": "TEMPORARY_OUTPUT"},
                         outputs=outputs, row=row)


def dem_change_model():
    b = ModelBuilder(
        "serac_dem_change_per_glacier", "DEM change per glacier",
        "Co-registers a DEM onto a reference DEM on stable terrain (Nuth & Kääb 2011; glaciers masked with the "
        "outlines) and maps the elevation change dh = aligned DEM - reference DEM (m). Then, for every glacier "
        "outline, the mean dh, the volume change (m³ = mean dh × area on the grid) and the mass change (m w.e. = "
        "mean dh × density / 1000) with their 1-sigma errors (Hugonnet et al. 2022: the dh error as a function of "
        "slope and curvature and its spatial correlation, measured on the stable terrain outside the outlines; the "
        "density error added in quadrature), the per-pixel dh error map, and the count, median and standard "
        "deviation of dh. Give the later DEM as 'DEM to align' and the earlier one as reference, so that negative "
        "dh means thinning; use outlines in a projected CRS. Try it on the bundled data "
        "(resources/sample_data/dem): the reference there has the glaciers masked, so the glaciers get no dh (their "
        "mean dh, volume and mass change stay empty) and the co-registration, dh map and error map are the result.")
    ref = b.raster_input("reference_dem", "Reference DEM (m)")
    dem = b.raster_input("dem", "DEM to align (m)")
    outlines = b.polygon_input("glacier_outlines", "Glacier outlines (projected CRS)")
    density = b.number_input("density", "Density of the volume change (kg/m³)", 850.0, 1.0, 1000.0)
    density_sigma = b.number_input("density_sigma", "Density uncertainty, 1 sigma (kg/m³)", 60.0, 0.0, 1000.0)
    coreg = b.child("coregister", "serac:dem_coregistration", "Co-register DEM and map dh",
                    {"REFERENCE": ref, "DEM": dem, "OUTLINES": outlines, "METHOD": 0, "DERAMP_ORDER": 0,
                     "OUTPUT": "TEMPORARY_OUTPUT", "DH": "TEMPORARY_OUTPUT"},
                    outputs={"aligned_dem": ("OUTPUT", "Aligned DEM (m)"),
                             "dh": ("DH", "Elevation change dh (m)")}, row=0)
    # the aligned DEM rather than dh: the reference's voids (e.g. glaciers masked out of it) are filled from it
    # for the slope and curvature that drive the error; dh = aligned - reference is the same
    change = b.child("uncertainty", "serac:dem_change_uncertainty", "Elevation change ± 1 sigma per glacier",
                     {"REFERENCE": ref, "DEM": child_output(coreg, "OUTPUT"), "OUTLINES": outlines,
                      "DENSITY": density, "DENSITY_SIGMA": density_sigma, "OUTPUT": "TEMPORARY_OUTPUT",
                      "ERROR_MAP": "TEMPORARY_OUTPUT"},
                     outputs={"dh_error": ("ERROR_MAP", "dh error, 1 sigma (m)")}, row=1)
    per_glacier_stats(b, child_output(change, "OUTPUT"), child_output(coreg, "DH"), 1, "dh_",
                      [COUNT, MEDIAN, STDEV], "per_glacier", row=2,
                      outputs={"glacier_change": ("OUTPUT", "Glaciers with mean dh (m), volume change (m³) and "
                                                            "mass change (m w.e.) ± 1 sigma")})
    return b.save()


def sar_outlines_review_model():
    b = ModelBuilder(
        "serac_sar_outlines_for_review", "SAR glacier outlines for review",
        "Brings Sentinel-1 backscatter to a reference incidence angle (cosine law, n = 2; dB in, dB out), then "
        "maps glacier extent on it with a deep-learning model that takes one SAR band in dB and has a glacier "
        "class (e.g. models/calving_zones_synthetic_v1.onnx shipped with Serac, trained on SIMULATED scenes only: "
        "read its model card), and writes the outlines as polygons with review fields "
        "(review_status = 'unreviewed' and the other review fields). Next step: open Serac > Outline review on the "
        "output layer, accept, reject or edit each outline, and export the accepted set (usable to fine-tune the "
        "model). Try it on the bundled data: resources/sample_data/segmentation/columbia_sar_simulated_50m.tif "
        "(SIMULATED backscatter), columbia_incidence_angle_synthetic_30_45deg.tif (SYNTHETIC angle) and "
        "models/calving_zones_synthetic_v1.onnx.")
    sigma0 = b.raster_input("backscatter", "Backscatter (sigma0; dB or linear power)")
    angle = b.raster_input("incidence_angle", "Incidence angle (deg)")
    model = b.file_input("model", "SAR glacier model (ONNX with Serac metadata)", "onnx")
    theta = b.number_input("reference_angle", "Reference incidence angle (deg)", 35.0, 0.1, 89.9)
    norm = b.child("normalize", "serac:sar_normalization", "Normalize backscatter to the reference angle",
                   {"INPUT": sigma0, "ANGLE": angle, "METHOD": 0, "THETA_REF": theta, "OUTPUT": "TEMPORARY_OUTPUT"},
                   outputs={"normalized": ("OUTPUT", "Normalized backscatter (dB)")}, row=0)
    b.child("outlines", "serac:segmentation_glacier_outlines", "Glacier outlines (deep learning)",
            {"INPUT": child_output(norm, "OUTPUT"), "MODEL": model, "OUTPUT_PROBABILITY": "TEMPORARY_OUTPUT",
             "OUTPUT_OUTLINES": "TEMPORARY_OUTPUT"},
            outputs={"probability": ("OUTPUT_PROBABILITY", "Glacier probability"),
                     "outlines_for_review": ("OUTPUT_OUTLINES", "Glacier outlines to review")}, row=1)
    return b.save()


def velocity_per_glacier_model():
    b = ModelBuilder(
        "serac_velocity_per_glacier", "Velocity per glacier",
        "Glacier surface velocity from an image pair by normalized cross-correlation (everything outside the "
        "outlines is stable ground: its median offset is removed and its NMAD is the error), the velocity "
        "raster masked to the glacier outlines, then for every outline the count of valid points and the "
        "mean, median and maximum speed (m/yr, band 3 of the velocity raster). Dates: YYYY-MM-DD, or empty to "
        "read them from the file names or metadata.")
    ref = b.raster_input("reference_image", "Reference image (earlier)")
    sec = b.raster_input("secondary_image", "Secondary image (later)")
    outlines = b.polygon_input("glacier_outlines", "Glacier outlines")
    date1 = b.string_input("reference_date", "Reference date (YYYY-MM-DD; empty: from the file name)")
    date2 = b.string_input("secondary_date", "Secondary date (YYYY-MM-DD; empty: from the file name)")
    chip = b.number_input("chip_px", "Chip size (px)", 32, 8, 1024, integer=True)
    search = b.number_input("search_px", "Search range ± (px)", 16, 2, 1024, integer=True)
    velocity = b.child("velocity", "serac:glacier_velocity", "Glacier velocity (image correlation)",
                       {"REFERENCE": ref, "SECONDARY": sec, "OUTLINES": outlines, "REFERENCE_DATE": date1,
                        "SECONDARY_DATE": date2, "CHIP": chip, "SEARCH": search, "OUTPUT": "TEMPORARY_OUTPUT"},
                       outputs={"velocity": ("OUTPUT", "Velocity (vx, vy, speed m/yr, quality)")}, row=0)
    b.child("mask", "serac:mask_raster", "Velocity inside the glacier outlines",
            {"INPUT": child_output(velocity, "OUTPUT"), "OUTLINES": outlines, "KEEP": 0, "OUTPUT": "TEMPORARY_OUTPUT"},
            outputs={"glacier_velocity": ("OUTPUT", "Velocity on the glaciers (m/yr)")}, row=1)
    per_glacier_stats(b, outlines, child_output(velocity, "OUTPUT"), 3, "speed_", [COUNT, MEAN, MEDIAN, MAX],
                      "speed_per_glacier", row=2,
                      outputs={"glacier_speed": ("OUTPUT", "Glaciers with mean, median and maximum speed (m/yr)")})
    return b.save()


SAMPLE_ANGLE = os.path.join(ROOT, "resources", "sample_data", "segmentation",
                            "columbia_incidence_angle_synthetic_30_45deg.tif")


def write_sample_angle():
    """A SYNTHETIC incidence angle (30-45 deg across columns) on the grid of the simulated Columbia SAR
    scene, so that "SAR glacier outlines for review" runs on bundled data (see the folder's ATTRIBUTION.md)."""
    use_checkout()
    from serac.core.raster_io import read_grid, write_raster
    from serac.core.sar.synthetic import angle_ramp

    grid = read_grid(os.path.join(os.path.dirname(SAMPLE_ANGLE), "columbia_sar_simulated_50m.tif"))
    write_raster(SAMPLE_ANGLE, angle_ramp(grid.shape), grid, band_names=["incidence_angle_deg"], cog=False)
    return SAMPLE_ANGLE


MODEL_BUILDERS = [dem_change_model, sar_outlines_review_model, velocity_per_glacier_model]


def main():
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append(os.path.join(app.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    use_checkout()
    from serac.processing_provider.provider import SeracProvider

    provider = SeracProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    write_sample_angle()
    for build in MODEL_BUILDERS:
        print("wrote", build(), file=sys.stderr)
    app.exitQgis()


if __name__ == "__main__":
    main()
