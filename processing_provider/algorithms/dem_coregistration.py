"""Processing algorithm: DEM co-registration (Nuth & Kääb 2011, vertical shift, deramp) and elevation change.

Parameters in -> serac.core.dem.coregister -> aligned DEM and dh map on the reference grid
(styled: terrain colours, and a diverging ramp centred on 0 scaled to the dh map), an HTML
report with the stable-terrain dh histograms, and the shift and statistics as numbers.
"""

import json
import math

from qgis.core import (
    QgsProcessingParameterBoolean,
)

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..compat import PARAM_ADVANCED
from ..qgis_bridge import raster_path, source_geometries

METHODS = [("nuth_kaab", "Nuth & Kääb (2011): horizontal + vertical shift"), ("vertical", "Vertical shift only")]
DERAMP = [(0, "None"), (1, "Order 1 (plane)"), (2, "Order 2"), (3, "Order 3")]
NICE = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def symmetric_limit(summary, default=10.0):
    """A round half-range (m) covering the 1-99 % dh range of ``summary`` (robust_summary dict)."""
    if not summary or not summary.get("count"):
        return default
    extent = max(abs(summary["p01"]), abs(summary["p99"]))
    return next((n for n in NICE if n >= extent), NICE[-1]) if math.isfinite(extent) else default


class DemCoregistrationAlgorithm(SeracAlgorithm):
    ALG_ID = "dem_coregistration"
    DISPLAY_NAME = "DEM co-registration and elevation change"
    GROUP_ID = "dem"
    GROUP = "DEM"
    TAGS = ("DEM", "co-registration", "coregistration", "Nuth", "Kääb", "elevation change", "dh", "shift",
            "deramp", "NMAD", "geodetic mass balance")
    SHORT_HELP = (
        "Aligns a DEM to a reference DEM and maps the elevation difference dh = aligned - reference (m). "
        "The DEM to align may have another CRS, resolution or extent: it is reprojected onto the reference grid; "
        "a geographic reference is worked in UTM. Unstable terrain (glaciers: outlines and/or a mask raster "
        "whose non-zero pixels are unstable) is excluded from the fit. Methods: Nuth & Kääb (2011) — "
        "dh/tan(slope) against aspect fitted with a cos(b - aspect) + c on stable terrain within the slope "
        "limits (deg), robust (median per aspect bin), iterated until the horizontal step is below the "
        "tolerance (m) — or a vertical shift only (median); optionally followed by a polynomial deramp of "
        "order 1-3. The DEM is moved by bilinear resampling (or, on request, by moving its geotransform). "
        "Reported shift: the displacement applied to the DEM to align, x east, y north, z up, in m (and px "
        "of the reference grid), with the stable-terrain median and NMAD of dh before and after. The HTML "
        "report shows the dh histograms. Fitting uses a random subsample of stable pixels; large DEMs are "
        "processed in blocks.")

    REFERENCE = "REFERENCE"
    DEM = "DEM"
    OUTLINES = "OUTLINES"
    UNSTABLE_MASK = "UNSTABLE_MASK"
    METHOD = "METHOD"
    DERAMP_ORDER = "DERAMP_ORDER"
    MAX_ITERATIONS = "MAX_ITERATIONS"
    TOLERANCE = "TOLERANCE"
    SLOPE_MIN = "SLOPE_MIN"
    SLOPE_MAX = "SLOPE_MAX"
    SUBSAMPLE = "SUBSAMPLE"
    SHIFT_GEOTRANSFORM = "SHIFT_GEOTRANSFORM"
    OUTPUT = "OUTPUT"
    DH = "DH"
    REPORT = "REPORT"
    NUMBERS = dict(SHIFT_X_M="Shift applied, x east (m)", SHIFT_Y_M="Shift applied, y north (m)",
                   SHIFT_Z_M="Shift applied, z up (m)", SHIFT_X_PX="Shift applied, x east (px of the reference)",
                   SHIFT_Y_PX="Shift applied, y north (px of the reference)",
                   MEDIAN_BEFORE_M="Stable-terrain median dh before (m)",
                   NMAD_BEFORE_M="Stable-terrain NMAD of dh before (m)",
                   MEDIAN_AFTER_M="Stable-terrain median dh after (m)",
                   NMAD_AFTER_M="Stable-terrain NMAD of dh after (m)",
                   ITERATIONS="Nuth & Kääb iterations")

    def define_parameters(self):
        params.add_raster(self, self.REFERENCE, "Reference DEM (m)")
        params.add_raster(self, self.DEM, "DEM to align (m)")
        params.add_outlines(self, self.OUTLINES, "Unstable terrain: glacier outlines (optional)")
        params.add_raster(self, self.UNSTABLE_MASK, "Unstable terrain: mask raster, non-zero = unstable (optional)",
                          optional=True)
        params.add_enum(self, self.METHOD, "Method", METHODS, 0)
        params.add_enum(self, self.DERAMP_ORDER, "Polynomial deramp after the shift", DERAMP, 0)
        params.add_number(self, self.MAX_ITERATIONS, "Maximum iterations", 10, 1, 100, integer=True)
        params.add_number(self, self.TOLERANCE, "Tolerance: stop when the horizontal step is below (m)",
                          0.01, 1e-4, 100.0)
        params.add_number(self, self.SLOPE_MIN, "Minimum slope used by Nuth & Kääb (deg)", 5.0, 0.0, 89.0)
        params.add_number(self, self.SLOPE_MAX, "Maximum slope used by Nuth & Kääb (deg)", 70.0, 1.0, 90.0)
        params.add_number(self, self.SUBSAMPLE, "Subsample: stable pixels used by the fit", 500000, 1000, 100_000_000,
                          integer=True, advanced=True)
        param = QgsProcessingParameterBoolean(
            self.SHIFT_GEOTRANSFORM, self.tr("Move the geotransform instead of resampling (aligned DEM keeps its "
                                             "own grid)"), defaultValue=False)
        param.setFlags(param.flags() | PARAM_ADVANCED)
        self.addParameter(param)
        self.add_raster_output(self.OUTPUT, "Aligned DEM")
        self.add_raster_output(self.DH, "Elevation difference dh = aligned - reference (m)",
                               optional=True).setCreateByDefault(True)
        self.add_file_output(self.REPORT, "Co-registration report", "HTML files (*.html)",
                             optional=True).setCreateByDefault(True)
        self.add_number_outputs(**self.NUMBERS)
        self.add_string_outputs(RESULT_JSON="Co-registration result (JSON)")

    def run_algorithm(self, parameters, context, feedback):
        from ...core.dem import coregister
        from ...core.raster_io import read_grid

        reference = raster_path(self, parameters, self.REFERENCE, context, "reference DEM")
        dem = raster_path(self, parameters, self.DEM, context, "DEM to align")
        grid = read_grid(reference)
        outlines = source_geometries(self, parameters, self.OUTLINES, context, grid.crs, feedback)
        mask = None
        if self.parameterAsRasterLayer(parameters, self.UNSTABLE_MASK, context) is not None:
            mask = raster_path(self, parameters, self.UNSTABLE_MASK, context, "unstable-terrain mask")
        aligned_path = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        dh_path = self.parameterAsOutputLayer(parameters, self.DH, context) or None
        report_path = self.parameterAsFileOutput(parameters, self.REPORT, context) or None
        result = coregister(
            reference, dem, aligned_path, dh_path, report_path,
            method=params.enum_value(self, parameters, context, self.METHOD, [m for m, _ in METHODS]),
            deramp_order=params.enum_value(self, parameters, context, self.DERAMP_ORDER, [d for d, _ in DERAMP]),
            outlines=outlines or None, outlines_crs=grid.crs, mask=mask,
            max_iterations=self.parameterAsInt(parameters, self.MAX_ITERATIONS, context),
            tolerance_m=self.parameterAsDouble(parameters, self.TOLERANCE, context),
            slope_limits=(self.parameterAsDouble(parameters, self.SLOPE_MIN, context),
                          self.parameterAsDouble(parameters, self.SLOPE_MAX, context)),
            subsample=self.parameterAsInt(parameters, self.SUBSAMPLE, context),
            shift_by="geotransform" if self.parameterAsBoolean(parameters, self.SHIFT_GEOTRANSFORM, context)
            else "resample", feedback=feedback)
        feedback.pushInfo(result.summary_line())
        d = result.to_dict()
        outputs = {self.OUTPUT: aligned_path, "SHIFT_X_M": d["shift_x_m"], "SHIFT_Y_M": d["shift_y_m"],
                   "SHIFT_Z_M": d["shift_z_m"], "SHIFT_X_PX": d["shift_x_px"], "SHIFT_Y_PX": d["shift_y_px"],
                   "MEDIAN_BEFORE_M": d["median_before_m"], "NMAD_BEFORE_M": d["nmad_before_m"],
                   "MEDIAN_AFTER_M": d["median_after_m"], "NMAD_AFTER_M": d["nmad_after_m"],
                   "ITERATIONS": d["iterations"],
                   "RESULT_JSON": json.dumps({k: v for k, v in d.items() if k != "histogram"}, default=float)}
        summary = result.aligned_summary
        if summary and summary.get("count"):
            self._style(context, aligned_path, "dem_elevation", self.tr("Aligned DEM"),
                        (summary["p01"], summary["p99"]))
        if dh_path:
            outputs[self.DH] = dh_path
            limit = symmetric_limit(result.dh_map_summary)
            self._style(context, dh_path, "dem_dh", self.tr("Elevation difference dh (m)"), (-limit, limit))
        if report_path:
            outputs[self.REPORT] = report_path
        return outputs

    def _style(self, context, path, style, name, value_range):
        self.style_output(context, path, style, name, value_range=tuple(float(v) for v in value_range))
