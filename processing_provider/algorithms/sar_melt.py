"""Processing algorithms: wet snow and melt timing from a Sentinel-1 time series (Serac issue 18), and the local
incidence angle with its layover/shadow mask on its own.

Parameters in -> the core jobs (serac.core.jobs.melt) -> a wet-snow raster with one dated band per acquisition
, melt onset/end (day numbers), the number of wet
dates, the wet fraction per outline and date, and optionally the local incidence angle and layover/shadow mask.
The job reports the dates of the wet-snow bands as ``time_steps``, which JobAlgorithm passes to the styling (QGIS
temporal properties: the Temporal Controller animates the dates).
"""

from ..job_algorithm import JobAlgorithm

WET_FRACTION_FIELDS = [("outline", "LongLong"), ("date", "String"), ("wet_fraction", "Double"),
                       ("wet_area_km2", "Double"), ("classified_fraction", "Double")]


class SarMeltAlgorithm(JobAlgorithm):
    JOB_NAME = "sar_melt"
    ALG_ID = "sar_melt"
    DISPLAY_NAME = "Wet snow and melt detection (Sentinel-1)"
    GROUP_ID = "sar"
    GROUP = "SAR"
    TAGS = ("Sentinel-1", "SAR", "wet snow", "melt", "snowmelt", "backscatter", "Nagler", "time series",
            "local incidence angle", "layover", "shadow")
    SHORT_HELP = (
        "Maps wet snow on every date of a Sentinel-1 backscatter time series of ONE relative orbit, and the melt "
        "onset, melt end and number of wet dates per pixel.\n"
        "Input: VV (or HH for EW scenes) and, for the dual-polarisation rule, VH (or HV) sigma0, as dated rasters "
        "(one per date, date in the file name) or a dated multi-band stack (date in each band description, e.g. "
        "VV_20210401, or a DATE band tag), linear power or dB, all on one grid; or give the dates (YYYY-MM-DD, one "
        "per band, in order). Dates of different relative orbits or passes are refused.\n"
        "Method: a dry-snow reference per pixel (mean of the linear power, or median in dB, of the acquisitions in a "
        "reference window: dates you give, default December-February in the northern hemisphere, June-August in the "
        "southern), then the ratio of each date to it in dB. Dual-pol: the combined ratio of Nagler et al. (2016) "
        "R_C = W R_VH + (1 - W) R_VV, with W = 1 below the local incidence angle theta1 = 20 deg, "
        "W = k (1 + (theta2 - theta)/(theta2 - theta1)) up to theta2 = 45 deg and W = k = 0.5 above; wet snow where "
        "R_C < -2 dB. Single-pol (no VH, or chosen): wet where R < -3 dB (Nagler & Rott 2000). Pixels whose local "
        "incidence angle is outside 15-75 deg, or in layover or shadow, are not classified (value 255).\n"
        "Angle: a local incidence angle raster (deg), or the Sentinel-1 annotation XML of the track with a DEM (m): "
        "the local incidence angle from the annotation's incidence angle and look direction and the DEM slope, with "
        "the layover/shadow mask; the annotation without a DEM gives the ellipsoid angle (slopes ignored).\n"
        "Outputs: wet snow per date (1 wet, 0 dry, 255 not classified; one band per date, band names wet_YYYY-MM-DD, "
        "dates in the band tags); melt onset and end as day numbers (day of year of the first date's year, "
        "continuing past 365 into the next year) of the first/last run of at least N consecutive wet dates; the "
        "number of wet dates; the wet fraction per outline and date (table with outline number, date, wet fraction "
        "of the classified pixels, wet area in km2); optionally the local incidence angle (deg) and the "
        "layover/shadow mask. Processed block by block: memory grows with the number of dates x block size squared.")

    NO_CRS_NEEDED = ("angle",)
    ORDER = ("vv", "vh", "dates", "unit", "angle", "annotation", "dem", "outlines", "reference_start",
             "reference_end", "reference_statistic", "rule", "dual_threshold", "single_threshold", "min_angle",
             "max_angle", "min_run", "speckle_size", "theta1", "theta2", "k", "block")
    FIELDS = {"wet_fraction": WET_FRACTION_FIELDS}
    LAYER_NAMES = {"wet_snow": "Wet snow", "melt_onset": "Melt onset (day number)",
                   "melt_end": "Melt end (day number)", "wet_count": "Wet dates",
                   "local_angle": "Local incidence angle (deg)", "layover_shadow": "Layover / shadow"}


class SarLocalIncidenceAlgorithm(JobAlgorithm):
    JOB_NAME = "sar_local_incidence"
    ALG_ID = "sar_local_incidence"
    DISPLAY_NAME = "Local incidence angle and layover/shadow (Sentinel-1)"
    GROUP_ID = "sar"
    GROUP = "SAR"
    TAGS = ("Sentinel-1", "SAR", "local incidence angle", "layover", "shadow", "DEM", "annotation")
    SHORT_HELP = (
        "Local incidence angle (deg) of a Sentinel-1 acquisition on a DEM's grid (m, projected CRS), from the "
        "incidence angle and look direction of the annotation XML's geolocation grid at the DEM heights and the "
        "DEM slope; and the layover/shadow mask (0 valid, 1 layover: slope facing the sensor steeper than the "
        "incidence angle, 2 shadow: slope facing away steeper than the grazing angle, 3 local angle outside the "
        "range given). Layover and shadow are the local (active) ones; shadows cast by distant terrain are not "
        "traced.")
    LAYER_NAMES = {"local_angle": "Local incidence angle (deg)", "layover_shadow": "Layover / shadow"}
