"""Processing algorithm: DEM co-registration (Nuth & Kääb 2011, vertical shift, deramp) and elevation change.

Parameters in -> the core job serac.core.jobs.dem -> aligned DEM and dh map on the reference grid
(styled: terrain colours, and a diverging ramp centred on 0 scaled to the dh map), an HTML
report with the stable-terrain dh histograms, and the shift and statistics as numbers.
"""

from ..job_algorithm import JobAlgorithm


class DemCoregistrationAlgorithm(JobAlgorithm):
    ALG_ID = "dem_coregistration"
    JOB_NAME = "dem_coregistration"
    LAYER_NAMES = {"dh": "Elevation difference dh (m)"}
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
        "processed in blocks. Vertical datums: when both DEMs declare theirs (a compound CRS such as "
        "EPSG:32633+5773 for EGM96 heights, or a 3-D CRS for ellipsoidal heights) and they differ, the heights of "
        "the DEM to align are converted to the reference's datum with PROJ (geoid undulation at every pixel), so "
        "the shift excludes the datum difference; the aligned DEM and dh are then on the reference's datum (a DEM "
        "moved by its geotransform keeps its own CRS and datum). The height added (mean, min, max in m) is "
        "reported. Where only one DEM declares a datum, or the geoid grid is not installed, nothing is converted "
        "and a warning says so and how to fix it; a vertical shift close to the local geoid undulation is flagged. "
        "The advanced setting 'Convert vertical datums' turns the conversion off.")
