"""Processing algorithm: glacier surface velocity by image correlation (Serac issue 3).

Parameters in -> the core job serac.core.jobs.velocity -> a multi-band velocity GeoTIFF (styled:
speed with a perceptual ramp, linear or log), an arrow point layer (styled: rotation and size
from the data), and the numbers (valid fraction, stable-ground median and NMAD in m/yr).
"""

from ..job_algorithm import JobAlgorithm

ARROW_FIELDS = [("speed", "Double"), ("direction", "Double"), ("vx", "Double"), ("vy", "Double"), ("ncc", "Double")]


class GlacierVelocityAlgorithm(JobAlgorithm):
    ALG_ID = "glacier_velocity"
    JOB_NAME = "glacier_velocity"
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
        "below the correlation and peak-ratio thresholds and by a normalized median test; chips with more than "
        "the given fraction of saturated or featureless pixels are not matched. Misregistration: with glacier "
        "outlines (outside = stable) or stable areas (e.g. bare rock), the median offset of the stable points is "
        "removed and its NMAD is the error estimate (m/yr); without them, the densest cluster of offsets near "
        "zero (the slow-moving population) is used, and a warning says when neither is possible. An optional "
        "error raster gives each point's 1-sigma velocity error (m/yr) from the sharpness and strength of its "
        "correlation peak, calibrated on the stable points. Gaps (nodata, e.g. Landsat 7 SLC-off stripes) are "
        "ignored by a masked correlation; lower the smallest valid fraction (e.g. 0.5) for striped scenes. "
        "Output bands: vx (east), vy (north), speed (m/yr), ncc, peak_ratio, chip_px, status (1 valid, "
        "0 no data, 2 low quality, 3 outlier, 4 match at the search edge). Arrows: direction in "
        "degrees clockwise from grid north. Backends: numpy, or torch on CPU/GPU (same results).")

    ORDER = ("reference", "reference_band", "secondary", "secondary_band", "reference_date", "secondary_date", "chip",
             "search", "max_speed", "spacing", "prefilter", "outlines", "stable_areas", "offset_correction",
             "prior_vx", "prior_vy", "backend", "max_chip", "min_ncc", "min_ratio", "min_valid", "max_featureless",
             "median_threshold", "subpixel_method", "speed_scale", "arrow_step")
    LAYER_NAMES = {"output": "Glacier velocity (speed, m/yr)"}
    FIELDS = {"arrows": ARROW_FIELDS}
