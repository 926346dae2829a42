"""Processing algorithm: SAR backscatter incidence-angle normalization (Serac issue 5).

Parameters in -> the core job (serac.core.jobs.sar) -> normalized backscatter in dB (greyscale, stretched
to its 2-98 % range), optional beta and incidence-angle rasters, and the numbers of the fit.
"""

from ..job_algorithm import JobAlgorithm


class SarNormalizationAlgorithm(JobAlgorithm):
    JOB_NAME = "sar_normalization"
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

    NO_CRS_NEEDED = ("input", "angle", "dem", "beta_raster", "pair_other", "pair_other_angle")
    ORDER = ("input", "bands", "unit", "angle", "angle_band", "annotation", "dem", "method", "theta_ref", "cosine_n",
             "beta", "beta_raster", "pair_other", "pair_other_angle", "pair_other_annotation", "window", "estimator",
             "stack", "stack_angles")
    LAYER_NAMES = {"beta_output": "Beta (dB/deg)", "angle_output": "Incidence angle (deg)"}
