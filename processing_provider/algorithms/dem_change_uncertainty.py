"""Processing algorithm: uncertainty of elevation change per glacier (heteroscedastic, spatially correlated errors).

Parameters in -> the core job serac.core.jobs.dem_change (dem_change_uncertainty) -> the glacier outlines with
mean dh, volume and mass change ± 1 sigma, the per-pixel dh error map (styled), the error model and variogram
in the report.
"""

from ..job_algorithm import JobAlgorithm


class DemChangeUncertaintyAlgorithm(JobAlgorithm):
    ALG_ID = "dem_change_uncertainty"
    JOB_NAME = "dem_change_uncertainty"
    DISPLAY_NAME = "Elevation change uncertainty per glacier"
    GROUP_ID = "dem"
    GROUP = "DEM"
    TAGS = ("DEM", "dh", "uncertainty", "error", "variogram", "heteroscedasticity", "volume change", "mass balance",
            "geodetic mass balance", "Hugonnet", "Rolstad", "m w.e.")
    FIELDS = {"output": [("id", "LongLong"), ("area_km2", "Double"), ("coverage", "Double"), ("mean_dh_m", "Double"),
                         ("sigma_mean_dh_m", "Double"), ("volume_change_m3", "Double"),
                         ("sigma_volume_m3", "Double"), ("mass_change_mwe", "Double"), ("sigma_mass_mwe", "Double"),
                         ("dhdt_m_yr", "Double"), ("sigma_dhdt_m_yr", "Double"), ("mass_rate_mwe_yr", "Double"),
                         ("sigma_mass_rate_mwe_yr", "Double")]}
    SHORT_HELP = (
        "Mean elevation change, volume change and mass change of every glacier outline with their 1-sigma errors, "
        "as in Hugonnet et al. (2022). Give the elevation difference dh (m), or the aligned DEM (dh = aligned - "
        "reference), and the reference DEM (its slope and curvature drive the error). Stable terrain is everything "
        "outside the glacier outlines (and outside a mask raster's non-zero pixels when given). On stable terrain: "
        "the NMAD of dh in bins of slope and curvature gives the error of each pixel (heteroscedasticity; the error "
        "map), dh divided by it is standardized, and its empirical variogram is fitted with a nugget plus one or two "
        "models (spatial correlation). Both are propagated to the mean dh of each outline (m); the volume change is "
        "mean dh x area (m³) and the mass change mean dh x density / 1000 (m w.e.), the density error (default "
        "850 ± 60 kg/m³, Huss 2013) added in quadrature. A time span (years) adds rates. dh voids inside an outline "
        "are left out of its mean (coverage: valid fraction). Outlines keep their order ('id' = 1 for the first); "
        "areas are measured on the grid (km²). The report holds the error model (NMAD per slope and curvature bin), "
        "the variogram and its fit; warnings say when the DEMs look not co-registered or a long-range bias is left. "
        "When the aligned DEM and the reference declare different vertical datums (compound or 3-D CRS), the aligned "
        "DEM's heights are converted to the reference's datum with PROJ before differencing (advanced setting "
        "'Convert vertical datums'); a dh map given directly is used as it is.")
    LAYER_NAMES = {"output": "Glacier elevation change ± 1 sigma", "error_map": "dh error, 1 sigma (m)"}
