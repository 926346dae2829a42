"""Processing algorithm: elevation change rate dh/dt (m/yr) from a series of dated DEMs.

Parameters in -> the core job serac.core.jobs.dem_change (dem_change_rate) -> dh/dt and its error, styled.
"""

from ..job_algorithm import JobAlgorithm


class DemChangeRateAlgorithm(JobAlgorithm):
    ALG_ID = "dem_change_rate"
    JOB_NAME = "dem_change_rate"
    DISPLAY_NAME = "Elevation change rate from a DEM series"
    GROUP_ID = "dem"
    GROUP = "DEM"
    TAGS = ("DEM", "dh/dt", "elevation change rate", "thinning", "time series", "Theil-Sen", "trend")
    SHORT_HELP = (
        "Elevation change rate dh/dt (m/yr) at every pixel from two or more dated DEMs (co-registered first, e.g. "
        "with 'DEM co-registration and elevation change'). Dates: one YYYY-MM-DD per DEM in the order of the DEMs, "
        "or empty to read them from each DEM's metadata or file name (YYYYMMDD, YYYY-MM-DD, ...). The rate is the "
        "Theil-Sen slope (median of the pairwise rates: one blunder among three DEMs cannot pull it); its 1-sigma "
        "error is the larger of the scatter about the line (three DEMs or more) and the DEM errors propagated "
        "(give one error in m per DEM, e.g. the stable-terrain NMAD after co-registration). Pixels with fewer valid "
        "DEMs than the minimum are empty. The DEMs are read on the first DEM's grid (others reprojected), in blocks. "
        "A DEM that declares another vertical datum than the first (compound or 3-D CRS) is converted to the first "
        "DEM's datum with PROJ (advanced setting 'Convert vertical datums'); where only one declares a datum a "
        "warning says what was assumed.")
    LAYER_NAMES = {"output": "dh/dt (m/yr)", "error": "dh/dt error, 1 sigma (m/yr)"}
