"""Processing algorithm: DEM co-registration to altimetry points (ICESat-2 ATL06, ICESat GLAS, GNSS, lidar).

Parameters in -> the core job serac.core.jobs.dem_points -> the aligned DEM (styled as the DEM pair's), dh at
the points before and after as a point layer (diverging ramp centred on 0, m), the HTML report, the shift,
statistics and the vertical-datum text as outputs; datum warnings go to the log as warnings.
"""

from ..job_algorithm import JobAlgorithm


class DemPointsCoregistrationAlgorithm(JobAlgorithm):
    ALG_ID = "dem_points_coregistration"
    JOB_NAME = "dem_points_coregistration"
    DISPLAY_NAME = "DEM co-registration to altimetry points"
    GROUP_ID = "dem"
    GROUP = "DEM"
    TAGS = ("DEM", "co-registration", "ICESat-2", "ATL06", "ICESat", "GLAS", "altimetry", "lidar", "GNSS", "points",
            "geoid", "EGM96", "EGM2008", "ellipsoid", "vertical datum", "Nuth", "Kääb", "dh")
    FIELDS = {"dh_points": [("h_m", "Double"), ("dh_before_m", "Double"), ("dh_after_m", "Double"),
                            ("stable", "Int")]}
    ORDER = ("dem", "points", "elevation_field", "atl06", "points_datum", "dem_datum", "outlines", "unstable_mask",
             "method", "deramp_order", "max_iterations", "tolerance", "slope_min", "slope_max", "min_points")
    SHORT_HELP = (
        "Aligns a DEM to elevation points taken as the reference: an ICESat-2 ATL06 granule (.h5; segments with "
        "atl06_quality_summary == 0 of the six beams, heights above the WGS 84 ellipsoid) or any point layer "
        "(CSV, GeoPackage, shapefile: ICESat GLAS, GNSS, lidar) with an elevation field in m (empty: the Z of 3-D "
        "points). The DEM is sampled at the points (bilinear) and dh = DEM - point height (m). Points on unstable "
        "terrain (glacier outlines and/or a mask raster whose non-zero pixels are unstable) are left out of the fit. "
        "Methods: Nuth & Kääb (2011) on the stable points whose DEM slope lies within the slope limits (needs "
        "sloping points facing many directions, at least the minimum number), or a vertical shift only (median); "
        "optionally a polynomial deramp of order 1-3 on the point positions.<br><br>"
        "<b>Vertical datums.</b> Give the datum of the points and of the DEM (ellipsoid, EGM96, EGM2008): when "
        "they differ the point heights are converted with PROJ where its geoid grid is installed, and the "
        "conversion is reported. A vertical shift close to the local geoid undulation (e.g. about 12 m over "
        "Franz Josef Land, 30 m over Svalbard) is flagged with a warning: an ellipsoidal DEM compared with "
        "orthometric heights, or the reverse. Such a shift must not be trusted as a correction.<br><br>"
        "Outputs: the aligned DEM (on its own grid), dh at the points on the DEM before and after (m, "
        "'stable' = used by the fit), the HTML report, the shift (x east, y north, z up, m and px of the DEM) "
        "and the stable-point median, NMAD and count of dh before and after.")
    LAYER_NAMES = {"dh_points": "dh at the points (m)"}
