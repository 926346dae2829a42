"""Processing algorithm: SAR backscatter incidence-angle normalization (Serac issue 5).

Parameters in -> core (serac.core.sar) -> normalized backscatter in dB (greyscale, stretched
to its 2-98 % range), optional beta and incidence-angle rasters, and the numbers of the fit.
"""

import json

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterBand,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingUtils,
)

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..compat import PARAM_ADVANCED, SOURCE_RASTER
from ..qgis_bridge import raster_path


METHODS = [("cosine", "Cosine law: sigma0 x cos^n(ref) / cos^n(angle)"),
           ("linear", "Linear in dB with a given beta (number or raster)"),
           ("pair", "Linear in dB, beta from an ascending/descending pair (Chen et al. 2022)"),
           ("timeseries", "Linear in dB, beta per pixel from a time series")]
UNITS = [("auto", "Detect (metadata, then values)"), ("dB", "dB"), ("linear", "Linear power")]
ESTIMATORS = [("median", "Median ratio (robust)"), ("ls", "Least squares through the origin")]


class SarNormalizationAlgorithm(SeracAlgorithm):
    ALG_ID = "sar_normalization"
    DISPLAY_NAME = "SAR incidence-angle normalization"
    GROUP_ID = "sar"
    GROUP = "SAR"
    TAGS = ("Sentinel-1", "SAR", "backscatter", "sigma0", "incidence angle", "normalization", "dB", "beta")
    SHORT_HELP = (
        "Normalizes SAR backscatter (sigma0, one band per polarisation, linear power or dB: detected from "
        "metadata/values or set) to a reference incidence angle (deg, default 35). Output is in dB. "
        "The incidence angle (deg) comes from a raster (band of a layer, reprojected onto the backscatter grid) "
        "or from a Sentinel-1 annotation XML (geolocation grid interpolated onto the image or map grid; with a "
        "DEM it follows the terrain height). Methods: cosine law (exponent n, 2 = Lambertian), applied as an "
        "additive dB correction; linear in dB, sigma_dB(ref) = sigma_dB - beta (angle - ref) with beta (dB/deg) "
        "a number or a raster; beta estimated from an overlapping ascending/descending pair per window and "
        "modelled as b0 + b1 lon + b2 lat + b3 elevation (Chen et al. 2022, Remote Sensing 14, 5534; give the "
        "other acquisition, its angle and a DEM); beta per pixel from a time series of co-registered images "
        "with their angles (least squares, with its standard error). Outputs the beta raster where estimated, "
        "the angle raster on request, and the fit numbers (regression coefficients, R2, RMSE in dB/deg; "
        "apparent angle slope of the backscatter before/after, dB/deg).")

    INPUT = "INPUT"
    BANDS = "BANDS"
    UNIT = "UNIT"
    ANGLE = "ANGLE"
    ANGLE_BAND = "ANGLE_BAND"
    ANNOTATION = "ANNOTATION"
    DEM = "DEM"
    METHOD = "METHOD"
    THETA_REF = "THETA_REF"
    COSINE_N = "COSINE_N"
    BETA = "BETA"
    BETA_RASTER = "BETA_RASTER"
    PAIR_OTHER = "PAIR_OTHER"
    PAIR_OTHER_ANGLE = "PAIR_OTHER_ANGLE"
    PAIR_OTHER_ANNOTATION = "PAIR_OTHER_ANNOTATION"
    WINDOW = "WINDOW"
    ESTIMATOR = "ESTIMATOR"
    STACK = "STACK"
    STACK_ANGLES = "STACK_ANGLES"
    OUTPUT = "OUTPUT"
    BETA_OUTPUT = "BETA_OUTPUT"
    ANGLE_OUTPUT = "ANGLE_OUTPUT"
    NUMBERS = dict(SLOPE_BEFORE="Apparent angle slope of band 1 before normalization (dB/deg)",
                   SLOPE_AFTER="Apparent angle slope of band 1 after normalization (dB/deg)",
                   BETA_INTERCEPT="Beta model intercept b0 (dB/deg)",
                   BETA_LON="Beta model longitude coefficient (dB/deg per deg)",
                   BETA_LAT="Beta model latitude coefficient (dB/deg per deg)",
                   BETA_ELEV="Beta model elevation coefficient (dB/deg per m)",
                   BETA_R2="Beta model R2 over the windows",
                   BETA_RMSE="Beta model RMSE over the windows (dB/deg)",
                   BETA_MEDIAN="Median estimated beta (dB/deg)",
                   BETA_SE_MEDIAN="Median standard error of the per-pixel beta (dB/deg)")

    def define_parameters(self):
        params.add_raster(self, self.INPUT, "Backscatter raster (sigma0; one band per polarisation)")
        self.addParameter(QgsProcessingParameterBand(self.BANDS, self.tr("Backscatter bands (default: all but the "
                                                                          "angle band)"), None, self.INPUT,
                                                     optional=True, allowMultiple=True))
        params.add_enum(self, self.UNIT, "Backscatter unit", UNITS, 0)
        params.add_raster(self, self.ANGLE, "Incidence angle raster (deg)", optional=True)
        self.addParameter(QgsProcessingParameterBand(self.ANGLE_BAND, self.tr("Incidence angle band"), 1,
                                                     self.ANGLE, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.ANNOTATION, self.tr("…or Sentinel-1 annotation XML (incidence angle from its geolocation grid)"),
            optional=True, fileFilter="Sentinel-1 annotation (*.xml *.XML);;Geolocation grid CSV (*.csv)"))
        params.add_raster(self, self.DEM, "DEM (m; angle from annotation over terrain, elevation term of "
                                          "the asc/desc beta model)", optional=True)
        params.add_enum(self, self.METHOD, "Method", METHODS, 0)
        params.add_number(self, self.THETA_REF, "Reference incidence angle (deg)", 35.0, 0.1, 89.9)
        params.add_number(self, self.COSINE_N, "Cosine-law exponent n (2 = Lambertian)", 2.0, 0.01, 10.0)
        params.add_number(self, self.BETA, "Beta (dB/deg) for the linear method", -0.2, -5.0, 5.0)
        params.add_raster(self, self.BETA_RASTER, "Beta raster (dB/deg) for the linear method (overrides the "
                                                  "number)", optional=True)
        params.add_raster(self, self.PAIR_OTHER, "Asc/desc method: the other acquisition (opposite pass)",
                          optional=True)
        params.add_raster(self, self.PAIR_OTHER_ANGLE, "Asc/desc method: incidence angle of the other (deg)",
                          optional=True)
        self.addParameter(QgsProcessingParameterFile(
            self.PAIR_OTHER_ANNOTATION, self.tr("Asc/desc method: …or annotation XML of the other"), optional=True,
            fileFilter="Sentinel-1 annotation (*.xml *.XML);;Geolocation grid CSV (*.csv)"))
        params.add_number(self, self.WINDOW, "Asc/desc method: window size (px)",
                          16, 4, 512, integer=True, advanced=True)
        params.add_enum(self, self.ESTIMATOR, "Asc/desc method: window estimator", ESTIMATORS, 0, advanced=True)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.STACK, self.tr("Time-series method: backscatter images (>= 3, same area)"), SOURCE_RASTER,
            optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.STACK_ANGLES, self.tr("Time-series method: their incidence angle rasters (deg, same order)"),
            SOURCE_RASTER, optional=True))
        self.add_raster_output(self.OUTPUT, "Normalized backscatter (dB)")
        for key, label in ((self.BETA_OUTPUT, "Beta (dB/deg; time series: beta, SE, sigma_ref, RMSE, count)"),
                           (self.ANGLE_OUTPUT, "Incidence angle (deg) on the backscatter grid")):
            self.add_raster_output(key, label, optional=True).setCreateByDefault(False)
        self.add_number_outputs(**self.NUMBERS)
        self.add_string_outputs(INPUT_UNIT="Backscatter unit used (and why)", REPORT="Fit numbers (JSON)")

    # -- run -----------------------------------------------------------------------------------------
    def _optional_raster(self, parameters, key, context, what):
        if self.parameterAsRasterLayer(parameters, key, context) is None:
            return None
        return raster_path(self, parameters, key, context, what, require_crs=False)

    def _angle_source(self, parameters, context, raster_key, band_key, xml_key, grid, dem, what):
        """Angle source from a raster band or an annotation file (exactly one), or None."""
        from ...core.sar.sources import AnnotationAngleSource, RasterSource

        angle = self._optional_raster(parameters, raster_key, context, what)
        xml = self.parameterAsFile(parameters, xml_key, context)
        if angle and xml:
            raise QgsProcessingException(f"Both an angle raster and an annotation file were given for the {what}. "
                                         "Fix: give only one of them.")
        if xml:
            return AnnotationAngleSource(xml, grid, dem=RasterSource(dem, grid, what="DEM") if dem else None)
        if angle:
            band = self.parameterAsInt(parameters, band_key, context) if band_key else 1
            return RasterSource(angle, grid, band=band or 1, what=what)
        return None

    def run_algorithm(self, parameters, context, feedback):
        from ...core.progress import Progress
        from ...core.raster_io import band_count, read_grid
        from ...core.sar.beta_estimation import BetaModelSource, estimate_beta_pair, estimate_beta_timeseries
        from ...core.sar.engine import normalize_raster, write_sources
        from ...core.sar.normalization import CosineLaw, LinearDB
        from ...core.sar.sources import RasterSource

        progress = Progress(feedback)
        src = raster_path(self, parameters, self.INPUT, context, "backscatter", require_crs=False)
        grid = read_grid(src)
        dem = self._optional_raster(parameters, self.DEM, context, "DEM")
        method_name = params.enum_value(self, parameters, context, self.METHOD, [m for m, _ in METHODS])
        unit = params.enum_value(self, parameters, context, self.UNIT, [u for u, _ in UNITS])
        theta_ref = self.parameterAsDouble(parameters, self.THETA_REF, context)
        angles = self._angle_source(parameters, context, self.ANGLE, self.ANGLE_BAND, self.ANNOTATION, grid, dem,
                                    "incidence angle")
        bands = self.parameterAsInts(parameters, self.BANDS, context) or None
        if bands is None and getattr(angles, "path", None) == src:  # angle stored as a band of the input
            bands = [b for b in range(1, band_count(src) + 1) if b != angles.band] or None
        numbers = {k: float("nan") for k in self.NUMBERS}
        report = {"method": method_name}
        beta_out = self.parameterAsOutputLayer(parameters, self.BETA_OUTPUT, context) or None
        start = 0.0

        if method_name == "cosine":
            method = CosineLaw(self.parameterAsDouble(parameters, self.COSINE_N, context), theta_ref)
        elif method_name == "linear":
            beta = self._optional_raster(parameters, self.BETA_RASTER, context, "beta")
            method = LinearDB(beta or self.parameterAsDouble(parameters, self.BETA, context), theta_ref)
        elif method_name == "pair":
            other = self._optional_raster(parameters, self.PAIR_OTHER, context, "other acquisition")
            if other is None:
                raise QgsProcessingException("The asc/desc method needs the other acquisition. Fix: set 'the other "
                                             "acquisition (opposite pass)' and its incidence angle.")
            other_angles = self._angle_source(parameters, context, self.PAIR_OTHER_ANGLE, None,
                                              self.PAIR_OTHER_ANNOTATION, grid, dem, "other acquisition's angle")
            pair = estimate_beta_pair(src, angles, other, other_angles, dem=dem, grid=grid,
                                      window=self.parameterAsInt(parameters, self.WINDOW, context),
                                      estimator=params.enum_value(self, parameters, context, self.ESTIMATOR,
                                                                  [e for e, _ in ESTIMATORS]),
                                      unit=unit, band=(bands or [1])[0], feedback=progress.sub(0.0, 0.4))
            m = pair.model
            numbers.update(BETA_INTERCEPT=m.intercept, BETA_LON=m.lon_coef, BETA_LAT=m.lat_coef,
                           BETA_ELEV=m.elev_coef, BETA_R2=m.r2, BETA_RMSE=m.rmse)
            report["beta_model"] = m.as_dict()
            method = LinearDB(BetaModelSource(m, grid, dem), theta_ref)
            start = 0.4
        else:
            stack = [lyr.source().split("|")[0] for lyr in self.parameterAsLayerList(parameters, self.STACK, context)]
            stack_angles = [lyr.source().split("|")[0]
                            for lyr in self.parameterAsLayerList(parameters, self.STACK_ANGLES, context)]
            beta_path = beta_out or QgsProcessingUtils.generateTempFilename("sar_beta_timeseries.tif")
            ts = estimate_beta_timeseries(stack, stack_angles, beta_path, theta_ref, grid=grid, unit=unit,
                                          feedback=progress.sub(0.0, 0.5))
            numbers.update(BETA_MEDIAN=ts.beta["median"], BETA_SE_MEDIAN=ts.beta_se["median"])
            report.update(beta=ts.beta, beta_se=ts.beta_se, fitted_fraction=ts.valid_fraction)
            method = LinearDB(RasterSource(beta_path, grid, band=1, what="per-pixel beta"), theta_ref)
            start = 0.5

        out_path = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = normalize_raster(src, out_path, method, angles, bands=bands, unit=unit,
                                  feedback=progress.sub(start, 0.9))
        numbers.update(SLOPE_BEFORE=result.slope_before[0], SLOPE_AFTER=result.slope_after[0])
        report.update(slope_before=result.slope_before, slope_after=result.slope_after,
                      angle_range=list(result.angle_range), display_range=result.display_range,
                      warnings=result.warnings)
        outputs = {self.OUTPUT: out_path}
        if method_name == "pair" and beta_out:
            write_sources(beta_out, grid, [method.beta], ["beta_dB_per_deg"], feedback=progress.sub(0.9, 0.95))
        if method_name in ("pair", "timeseries") and beta_out:
            outputs[self.BETA_OUTPUT] = beta_out
            self.style_output(context, beta_out, "sar_beta", self.tr("Beta (dB/deg)"))
        angle_out = self.parameterAsOutputLayer(parameters, self.ANGLE_OUTPUT, context) or None
        if angle_out:
            write_sources(angle_out, grid, [angles], ["incidence_angle_deg"], feedback=progress.sub(0.95, 1.0))
            outputs[self.ANGLE_OUTPUT] = angle_out
            self.style_output(context, angle_out, "sar_incidence_angle", self.tr("Incidence angle (deg)"))
        self._style_backscatter(context, out_path, result.display_range[0])
        outputs.update(numbers)
        outputs.update(INPUT_UNIT=f"{result.unit.unit} ({result.unit.source}: {result.unit.evidence})",
                       REPORT=json.dumps(report, default=float))
        return outputs

    def _style_backscatter(self, context, out_path, stretch):
        self.style_output(context, out_path, "sar_backscatter_db", self.tr("Normalized backscatter (dB)"),
                          value_range=stretch)
