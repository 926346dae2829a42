"""Processing algorithm: glacier surface velocity by image correlation (Serac issue 3).

Parameters in -> serac.core.velocity.glacier_velocity -> a multi-band velocity GeoTIFF (styled:
speed with a perceptual ramp, linear or log), an arrow point layer (styled: rotation and size
from the data), and the numbers (valid fraction, stable-ground median and NMAD in m/yr).
"""

import json

from qgis.core import (
    QgsProcessingException,
    QgsProcessingParameterBand,
    QgsProcessingParameterString,
)

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..compat import SOURCE_POINT, WKB_POINT
from ..qgis_bridge import raster_path, source_geometries, write_records

PREFILTERS = [("wallis", "Wallis (local contrast standardization)"), ("highpass", "Gaussian high-pass"),
              ("orientation", "Orientation correlation (gradient directions)"), ("none", "None")]
SUBPIXEL = [("dft", "Spectral Newton refinement (accurate, default)"), ("parabolic", "Parabola (fast, biased)"),
            ("gaussian", "Gaussian fit (fast, biased)"), ("none", "Integer pixels")]
SCALES = [("linear", "Linear"), ("log", "Logarithmic (1 - 10 000 m/yr)")]
BACKENDS = ["auto", "numpy", "torch-cpu", "torch-cuda"]
ARROW_FIELDS = [("speed", "Double"), ("direction", "Double"), ("vx", "Double"), ("vy", "Double"), ("ncc", "Double")]


class GlacierVelocityAlgorithm(SeracAlgorithm):
    ALG_ID = "glacier_velocity"
    DISPLAY_NAME = "Glacier velocity (image correlation)"
    GROUP_ID = "velocity"
    GROUP = "Velocity"
    TAGS = ("velocity", "feature tracking", "offset tracking", "image correlation", "NCC", "autoRIFT", "Landsat",
            "Sentinel-2", "Sentinel-1", "displacement", "speed", "flow")
    SHORT_HELP = (
        "Surface velocity (m/yr) from two images of the same area (optical band or SAR amplitude) by normalized "
        "cross-correlation of image chips. The secondary image is reprojected onto the reference grid when the "
        "grids or CRSs differ (a geographic reference is worked in UTM). Dates: YYYY-MM-DD, or left empty to read "
        "them from the file names (Landsat, Sentinel-2, YYYYMMDD) or metadata; identical dates are refused. "
        "A chip (px) of the reference is searched for in the secondary within ± the search range (px), or within "
        "the range a maximum expected speed (m/yr) needs over the interval; points lie on a grid of the given "
        "spacing (px), one output pixel per point. Prefilters: Wallis, Gaussian high-pass, orientation "
        "correlation, none. A prior velocity (vx, vy rasters in m/yr, e.g. ITS_LIVE) centres each search. "
        "Points where a chip fails are retried with larger chips (up to the maximum chip). Matches are rejected "
        "below the correlation and peak-ratio thresholds and by a normalized median test. With glacier outlines, "
        "everything outside them is stable ground: its median offset is removed and its NMAD is the error "
        "estimate (m/yr). Output bands: vx (east), vy (north), speed (m/yr), ncc, peak_ratio, chip_px, status "
        "(1 valid, 0 no data, 2 low quality, 3 outlier, 4 match at the search edge). Arrows: direction in "
        "degrees clockwise from grid north. Backends: numpy, or torch on CPU/GPU (same results).")

    REFERENCE = "REFERENCE"
    REFERENCE_BAND = "REFERENCE_BAND"
    SECONDARY = "SECONDARY"
    SECONDARY_BAND = "SECONDARY_BAND"
    REFERENCE_DATE = "REFERENCE_DATE"
    SECONDARY_DATE = "SECONDARY_DATE"
    CHIP = "CHIP"
    SEARCH = "SEARCH"
    MAX_SPEED = "MAX_SPEED"
    SPACING = "SPACING"
    PREFILTER = "PREFILTER"
    OUTLINES = "OUTLINES"
    PRIOR_VX = "PRIOR_VX"
    PRIOR_VY = "PRIOR_VY"
    BACKEND = "BACKEND"
    MAX_CHIP = "MAX_CHIP"
    MIN_NCC = "MIN_NCC"
    MIN_RATIO = "MIN_RATIO"
    MEDIAN_THRESHOLD = "MEDIAN_THRESHOLD"
    SUBPIXEL_METHOD = "SUBPIXEL_METHOD"
    SPEED_SCALE = "SPEED_SCALE"
    ARROW_STEP = "ARROW_STEP"
    OUTPUT = "OUTPUT"
    ARROWS = "ARROWS"
    NUMBERS = dict(VALID_FRACTION="Fraction of grid points with a valid velocity (0-1)",
                   MEDIAN_SPEED="Median speed of the valid points (m/yr)",
                   STABLE_COUNT="Valid points on stable ground",
                   STABLE_MEDIAN_VX="Stable-ground median vx before correction (m/yr)",
                   STABLE_MEDIAN_VY="Stable-ground median vy before correction (m/yr)",
                   STABLE_NMAD_VX="Stable-ground NMAD of vx after correction (m/yr)",
                   STABLE_NMAD_VY="Stable-ground NMAD of vy after correction (m/yr)",
                   INTERVAL_DAYS="Days from the reference to the secondary acquisition")

    def define_parameters(self):
        params.add_raster(self, self.REFERENCE, "Reference image (earlier)")
        self.addParameter(QgsProcessingParameterBand(self.REFERENCE_BAND, self.tr("Reference band"), 1,
                                                     self.REFERENCE, optional=True))
        params.add_raster(self, self.SECONDARY, "Secondary image (later)")
        self.addParameter(QgsProcessingParameterBand(self.SECONDARY_BAND, self.tr("Secondary band"), 1,
                                                     self.SECONDARY, optional=True))
        for key, what in ((self.REFERENCE_DATE, "Reference"), (self.SECONDARY_DATE, "Secondary")):
            self.addParameter(QgsProcessingParameterString(
                key, self.tr(f"{what} acquisition date (YYYY-MM-DD; empty: from the file name or metadata)"),
                optional=True))
        params.add_number(self, self.CHIP, "Chip (template) size (px)", 32, 8, 1024, integer=True)
        params.add_number(self, self.SEARCH, "Search range ± (px)", 16, 2, 1024, integer=True)
        params.add_number(self, self.MAX_SPEED, "Maximum expected speed (m/yr; 0: use the search range)", 0.0, 0.0, 1e6)
        params.add_number(self, self.SPACING, "Grid spacing (px)", 12, 1, 4096, integer=True)
        params.add_enum(self, self.PREFILTER, "Prefilter", PREFILTERS, 0)
        params.add_outlines(self, self.OUTLINES, "Glacier outlines: outside = stable ground (optional)")
        params.add_raster(self, self.PRIOR_VX, "Prior velocity vx, east (m/yr, optional)", optional=True)
        params.add_raster(self, self.PRIOR_VY, "Prior velocity vy, north (m/yr, optional)", optional=True)
        params.add_backend(self, self.BACKEND, options=BACKENDS)
        params.add_number(self, self.MAX_CHIP,
                          "Largest chip of the fallback (px; 0: twice the chip; = chip: no fallback)",
                          0, 0, 4096, integer=True, advanced=True)
        params.add_number(self, self.MIN_NCC, "Minimum correlation (ZNCC peak, -1 to 1)", 0.2, -1.0, 1.0, advanced=True)
        params.add_number(self, self.MIN_RATIO, "Minimum peak-to-second-peak ratio", 1.1, 1.0, 100.0, advanced=True)
        params.add_number(self, self.MEDIAN_THRESHOLD, "Normalized median test threshold (0: off)", 3.0, 0.0, 100.0,
                          advanced=True)
        params.add_enum(self, self.SUBPIXEL_METHOD, "Sub-pixel method", SUBPIXEL, advanced=True)
        params.add_enum(self, self.SPEED_SCALE, "Speed colour scale", SCALES, advanced=True)
        params.add_number(self, self.ARROW_STEP, "Arrows: one every N grid points",
                          2, 1, 1000, integer=True, advanced=True)
        self.add_raster_output(self.OUTPUT, "Velocity (vx, vy, speed m/yr, quality, status)")
        self.add_vector_output(self.ARROWS, "Velocity arrows", SOURCE_POINT, optional=True)
        self.add_number_outputs(**self.NUMBERS)
        self.add_string_outputs(SUMMARY_JSON="Velocity summary (JSON)")

    def run_algorithm(self, parameters, context, feedback):
        import numpy as np

        from ...core.raster_io import read_grid
        from ...core.velocity import CorrelationParams, glacier_velocity

        reference = raster_path(self, parameters, self.REFERENCE, context, "reference")
        secondary = raster_path(self, parameters, self.SECONDARY, context, "secondary")
        grid = read_grid(reference)
        outlines = source_geometries(self, parameters, self.OUTLINES, context, grid.crs, feedback)
        prior = self._prior(parameters, context)
        max_chip = self.parameterAsInt(parameters, self.MAX_CHIP, context)
        threshold = self.parameterAsDouble(parameters, self.MEDIAN_THRESHOLD, context)
        settings = CorrelationParams(
            chip=self.parameterAsInt(parameters, self.CHIP, context),
            search=self.parameterAsInt(parameters, self.SEARCH, context),
            spacing=self.parameterAsInt(parameters, self.SPACING, context),
            prefilter=params.choice(self, parameters, context, self.PREFILTER, PREFILTERS),
            subpixel=params.choice(self, parameters, context, self.SUBPIXEL_METHOD, SUBPIXEL),
            max_chip=max_chip or None,
            min_ncc=self.parameterAsDouble(parameters, self.MIN_NCC, context),
            min_ratio=self.parameterAsDouble(parameters, self.MIN_RATIO, context),
            median_threshold=threshold if threshold > 0 else None)
        max_speed = self.parameterAsDouble(parameters, self.MAX_SPEED, context)
        out_path = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        result = glacier_velocity(
            reference, secondary, out_path,
            reference_date=self.parameterAsString(parameters, self.REFERENCE_DATE, context).strip() or None,
            secondary_date=self.parameterAsString(parameters, self.SECONDARY_DATE, context).strip() or None,
            params=settings, max_speed=max_speed if max_speed > 0 else None, outlines=outlines or None,
            prior=prior, reference_band=self.parameterAsInt(parameters, self.REFERENCE_BAND, context) or 1,
            secondary_band=self.parameterAsInt(parameters, self.SECONDARY_BAND, context) or 1,
            backend=params.enum_value(self, parameters, context, self.BACKEND, BACKENDS), feedback=feedback)
        s = result.summary
        feedback.pushInfo(
            f"{s['valid_count']} of {s['point_count']} points valid ({100 * s['valid_fraction']:.1f} %); median speed "
            f"{s['median_speed']:.1f} m/yr over {s['interval_days']} days; status counts {s['status_counts']}.")
        if s["stable_count"]:
            feedback.pushInfo(
                f"Stable ground ({s['stable_count']} points): median offset vx {s['stable_median_vx']:.2f}, "
                f"vy {s['stable_median_vy']:.2f} m/yr removed; NMAD after: vx {s['stable_nmad_vx']:.2f}, "
                f"vy {s['stable_nmad_vy']:.2f} m/yr.")
        outputs = {self.OUTPUT: out_path, "SUMMARY_JSON": json.dumps(s, default=float)}
        for key in self.NUMBERS:
            outputs[key] = float(s[key.lower()])
        scale = params.choice(self, parameters, context, self.SPEED_SCALE, SCALES)
        speed_range = None
        if scale == "linear":
            top = float(result.speed[result.valid].max()) if result.valid.any() else 0.0
            p98 = float(np.percentile(result.speed[result.valid], 98)) if result.valid.any() else 0.0
            speed_range = (0.0, p98 if p98 > 0 else max(top, 1.0))
        self.style_output(context, out_path, f"velocity_speed_{scale}", self.tr("Glacier velocity (speed, m/yr)"),
                          value_range=speed_range)
        arrows = self._write_arrows(parameters, context, result, feedback)
        if arrows:
            outputs[self.ARROWS] = arrows
            self.style_output(context, arrows, "velocity_arrows", self.tr("Velocity arrows"))
        return outputs

    def _prior(self, parameters, context):
        layers = [self.parameterAsRasterLayer(parameters, key, context) for key in (self.PRIOR_VX, self.PRIOR_VY)]
        if all(layer is None for layer in layers):
            return None
        if any(layer is None for layer in layers):
            raise QgsProcessingException("Only one of the prior velocity rasters (vx, vy) was given. "
                                         "Fix: give both, or neither.")
        return (raster_path(self, parameters, self.PRIOR_VX, context, "prior vx"),
                raster_path(self, parameters, self.PRIOR_VY, context, "prior vy"))

    def _write_arrows(self, parameters, context, result, feedback):
        step = self.parameterAsInt(parameters, self.ARROW_STEP, context)
        pts = result.points(step=step)
        names = [name for name, _ in ARROW_FIELDS]
        records = (({"type": "Point", "coordinates": [float(pts["x"][i]), float(pts["y"][i])]},
                    {name: float(pts[name][i]) for name in names}) for i in range(len(pts["x"])))
        return write_records(self, parameters, self.ARROWS, context, ARROW_FIELDS, WKB_POINT, result.grid.crs,
                             records, feedback)
