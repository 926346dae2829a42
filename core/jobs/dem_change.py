"""Jobs: uncertainty of elevation change per glacier (Hugonnet et al. 2022) and elevation change rate from a DEM series.

* ``dem_change_uncertainty``: the dh error model (slope and curvature bins), its spatial correlation (variogram)
  and their propagation to the mean dh, volume and mass change of every glacier outline (± 1 sigma), with the
  per-pixel dh error map; :mod:`serac.core.dem.uncertainty`.
* ``dem_change_rate``: dh/dt (m/yr) per pixel by Theil-Sen regression over dated DEMs, with its error;
  :mod:`serac.core.dem.rate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import VARIOGRAM_MODELS
from ..errors import InputError
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, optional_output, require_input, require_vector, \
    setting, thread_limits
from .dem import CONVERT_DATUMS_LABEL, symmetric_limit

# -- uncertainty per glacier --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemUncertaintySettings(Settings):
    density: float = setting(850.0, "Density of the volume change (kg/m³)", unit="kg/m³", minimum=1.0,
                             maximum=1000.0)
    density_sigma: float = setting(60.0, "Density uncertainty, 1 sigma (kg/m³)", unit="kg/m³", minimum=0.0,
                                   maximum=1000.0)
    years: Optional[float] = setting(None, "Time between the DEMs for rates (years; empty: no rates)", unit="yr",
                                     minimum=0.01, maximum=1000.0, optional=True, kind=float)
    variogram: str = setting("spherical+spherical", "Variogram model of the errors", choices=VARIOGRAM_MODELS,
                             advanced=True)
    samples: int = setting(300_000, "Stable pixels sampled for the error model (px)", unit="px", minimum=10_000,
                           maximum=10_000_000, advanced=True)
    convert_datums: bool = setting(True, CONVERT_DATUMS_LABEL, advanced=True)


#: Attributes of every glacier outline written by ``dem_change_uncertainty`` (name -> label with unit).
GLACIER_FIELDS = dict(
    id="Outline number (1 = first input outline)", area_km2="Area on the grid (km²)",
    coverage="Fraction of the area with a valid dh", mean_dh_m="Mean elevation change (m)",
    sigma_mean_dh_m="Error of the mean elevation change, 1 sigma (m)", volume_change_m3="Volume change (m³)",
    sigma_volume_m3="Error of the volume change, 1 sigma (m³)", mass_change_mwe="Mass change (m w.e.)",
    sigma_mass_mwe="Error of the mass change, 1 sigma (m w.e.)", dhdt_m_yr="Elevation change rate (m/yr)",
    sigma_dhdt_m_yr="Error of the elevation change rate (m/yr)", mass_rate_mwe_yr="Mass change rate (m w.e./yr)",
    sigma_mass_rate_mwe_yr="Error of the mass change rate (m w.e./yr)")

UNCERTAINTY_NUMBERS = dict(
    n_glaciers="Glacier outlines", glacier_area_km2="Glacier area on the grid (km²)",
    mean_dh_m="Area-weighted mean dh of the glaciers (m)",
    volume_change_m3="Volume change of all glaciers (m³)",
    sigma_volume_sum_m3="Error of the total volume change, glacier errors summed (fully correlated: an upper "
                        "bound, m³)",
    stable_px="Stable pixels with a valid dh", stable_nmad_m="NMAD of stable dh (m)",
    variogram_sill="Sill of the standardized variogram (about 1 expected)",
    correlation_range_m="Longest correlation range of the errors (m)")


def _dh_and_reference(inputs, work, convert_datums=True, progress=None):
    """(dh, elevations for the slope and curvature, :class:`~serac.core.dem.pair_datum.PairDatum` or None) on the
    metric working grid ``work`` (float32, NaN = nodata): the reference DEM, its voids (e.g. glaciers masked out of
    it) filled from the aligned DEM when one is given, whose heights are read on the reference's vertical datum
    (:func:`~serac.core.dem.pair_datum.match_datums`)."""
    import numpy as np

    from ..dem.pair_datum import match_datums
    from ..dem.sources import DemSource

    reference = DemSource.of(require_input(inputs, "reference", "reference DEM"), "reference DEM")
    ref = reference.read(work)
    if inputs.get("dh") and inputs.get("dem"):
        raise InputError("Both a dh map and a DEM to difference were given.", "give the dh map or the aligned DEM.")
    if inputs.get("dh"):
        source = DemSource.of(inputs["dh"], "dh map")
        source.require_overlap(work)
        return source.read(work), ref, None
    dem = require_input(inputs, "dem", "dh map (or the aligned DEM to difference with the reference)")
    source = DemSource.of(dem, "aligned DEM")
    source.require_overlap(work)
    source, pair = match_datums(reference, source, convert_datums, progress)
    aligned = source.read(work)
    return aligned - ref, np.where(np.isfinite(ref), ref, aligned), pair


def glacier_labels(geoms, grid):
    """int32 labels on ``grid``: i + 1 inside outline i (GeoJSON in the grid's CRS; later outlines win overlaps)."""
    import numpy as np
    from rasterio.features import rasterize

    if not geoms:
        return np.zeros(grid.shape, dtype="int32")
    return rasterize([(g, i + 1) for i, g in enumerate(geoms)], out_shape=grid.shape, transform=grid.transform,
                     fill=0, dtype="int32")


def error_map(uncertainty, reference, rows_per_block=256):
    """The dh error sigma_dh (m, float32) at every pixel of ``reference`` from the error model, block by block."""
    import numpy as np

    out = np.full(reference.shape, np.nan, dtype=np.float32)
    width = reference.shape[1]
    for r0 in range(0, reference.shape[0], rows_per_block):
        r1 = min(reference.shape[0], r0 + rows_per_block)
        rows, cols = np.mgrid[r0:r1, 0:width]
        sigma = uncertainty.sigma_at(reference, rows.ravel(), cols.ravel()).reshape(rows.shape)
        out[r0:r1] = np.where(np.isfinite(reference[r0:r1]), sigma, np.nan)
    return out


def _glacier_properties(index, stats, n_px, px_km2, years):
    nan = float("nan")
    p = {"id": index, "area_km2": n_px * px_km2, "coverage": float(stats.get("valid_fraction", 0.0)) if stats else 0.0}
    for key, name in (("mean_dh_m", "mean_dh_m"), ("sigma_mean_dh_m", "sigma_mean_dh_m"),
                      ("volume_change_m3", "volume_change_m3"), ("sigma_volume_m3", "sigma_volume_m3"),
                      ("mass_balance_mwe", "mass_change_mwe"), ("sigma_mass_mwe", "sigma_mass_mwe")):
        p[name] = float(stats[key]) if stats else nan
    rate = (lambda v: v / years) if years else (lambda v: nan)
    p.update(dhdt_m_yr=rate(p["mean_dh_m"]), sigma_dhdt_m_yr=rate(p["sigma_mean_dh_m"]),
             mass_rate_mwe_yr=rate(p["mass_change_mwe"]), sigma_mass_rate_mwe_yr=rate(p["sigma_mass_mwe"]))
    return p


def run_uncertainty(inputs: Mapping, outputs: Mapping, settings: DemUncertaintySettings, feedback=None,
                    threads: Optional[int] = None) -> Result:
    """Error model of ``inputs['dh']`` (or ``dem`` - ``reference``) on stable terrain, propagated to each outline."""
    import numpy as np
    import rasterio.warp

    from ..dem.pipeline import stable_terrain
    from ..dem.uncertainty import area_changes, estimate_uncertainty
    from ..dem.workgrid import working_grid
    from ..masks import stable_mask
    from ..raster_io import display_range, pixel_area_m2, read_grid, write_raster
    from ..stats import nmad

    progress = Progress(core_feedback(feedback))
    s = settings
    grid = read_grid(require_input(inputs, "reference", "reference DEM"))
    work = working_grid(grid)
    outlines = require_vector(inputs, "outlines", "glacier outlines", grid.crs)
    if not outlines:
        raise InputError("The glacier outlines layer is empty.", "give the outlines of the glaciers to measure.")
    on_work = outlines if work.crs == grid.crs else [rasterio.warp.transform_geom(grid.crs, work.crs, g)
                                                     for g in outlines]
    error_path = optional_output(outputs, "error_map")
    with thread_limits(threads):
        dh, ref, pair = _dh_and_reference(inputs, work, s.convert_datums, progress)
        labels = glacier_labels(on_work, work)
        stable = stable_mask(on_work, work, np.isfinite(dh))  # outside the outlines and the pixels they touch
        extra = stable_terrain(None, None, inputs.get("unstable_mask") or None)
        if extra is not None:
            stable &= extra.stable(work)
        progress.update(0.1)
        progress.check_cancelled()
        u = estimate_uncertainty(dh, ref, stable, work.res, models=tuple(s.variogram.split("+")),
                                 samples=s.samples)
        for text in u.warnings:
            progress.warn(text)
        progress.update(0.4)
        per = area_changes(dh, ref, labels, u, density=s.density, density_sigma=s.density_sigma)
        progress.update(0.8)
        progress.check_cancelled()
        if error_path:
            sigma_map = error_map(u, ref)
            write_raster(error_path, sigma_map[None], work, band_names=["dh_error"],
                         tags={"UNITS": "m", "SERAC_PRODUCT": "dh error (1 sigma)"})
    counts = np.bincount(labels.ravel(), minlength=len(outlines) + 1)
    px_km2 = pixel_area_m2(work) / 1e6
    features = [{"geometry": g, "properties": _glacier_properties(i + 1, per.get(i + 1), int(counts[i + 1]), px_km2,
                                                                   s.years)}
                for i, g in enumerate(outlines)]
    props = [f["properties"] for f in features]
    measured = [p for p in props if np.isfinite(p["mean_dh_m"])]
    area = sum(p["area_km2"] for p in props)
    nan = float("nan")
    volume = sum(p["volume_change_m3"] for p in measured) if measured else nan
    sigma_sum = sum(p["sigma_volume_m3"] for p in measured) if measured else nan
    measured_area = sum(p["area_km2"] for p in measured)
    if len(measured) < len(props):
        progress.warn(f"{len(props) - len(measured)} of {len(props)} outline(s) have no valid dh (off the grid or "
                      "all void): their mean dh and volume change are empty.")
    numbers = {"n_glaciers": len(outlines), "glacier_area_km2": area,
               "mean_dh_m": volume / (measured_area * 1e6) if measured_area else nan,
               "volume_change_m3": volume, "sigma_volume_sum_m3": sigma_sum,
               "stable_px": u.stable_count, "stable_nmad_m": float(nmad(dh[stable])),
               "variogram_sill": u.model.sill,
               "correlation_range_m": max((a for _, _, a in u.model.components), default=0.0)}
    progress.info(f"{len(measured)} glacier(s) measured: volume change {volume:.4g} m³ over {measured_area:.3f} km²; "
                  f"stable NMAD {numbers['stable_nmad_m']:.3f} m, variogram sill {u.model.sill:.2f}.")
    report = {**u.to_dict(), "heteroscedasticity": heteroscedasticity_table(u.error_model), "glaciers": props,
              "density_kg_m3": [s.density, s.density_sigma], "years": s.years,
              "datum": pair.to_dict() if pair is not None else None}
    written = {}
    if error_path:
        written["error_map"] = error_path
        step = max(1, int(np.sqrt(sigma_map.size / 1e6)))
        error_range = display_range(sigma_map[::step, ::step], stretch="from zero")
        report["display_ranges"] = {"error_map": error_range} if error_range else {}
    progress.update(1.0)
    return Result(written, numbers, report, features={"output": (features, grid.crs, "MultiPolygon")})


def heteroscedasticity_table(error_model):
    """Rows {slope_deg, curvature, nmad_m, count} of the error model's bins (the NMAD of stable dh per bin, m)."""
    rows = []
    for i, slope in enumerate(error_model.slope_centres):
        for j, curv in enumerate(error_model.curv_centres):
            rows.append({"slope_deg": float(slope), "curvature_per_100m": float(curv),
                         "nmad_m": float(error_model.nmad[i, j]), "count": int(error_model.counts[i, j])})
    return rows


UNCERTAINTY = Job(
    "dem_change_uncertainty", "Elevation change uncertainty per glacier", DemUncertaintySettings, run_uncertainty,
    {"reference": Port("raster", "Reference DEM (m; slope and curvature)"),
     "dh": Port("raster", "Elevation difference dh (m)", optional=True),
     "dem": Port("raster", "Or: aligned DEM (m; dh = aligned - reference)", optional=True),
     "outlines": Port("polygons", "Glacier outlines"),
     "unstable_mask": Port("raster", "Other unstable terrain: mask raster, non-zero = unstable",
                           optional=True)},
    {"output": Port("polygons", "Glacier elevation, volume and mass change ± 1 sigma"),
     "error_map": Port("raster", "dh error, 1 sigma (m)", optional=True, style="dem_error")},
    UNCERTAINTY_NUMBERS)

# -- rate from a series -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemRateSettings(Settings):
    dates: Optional[str] = setting(None, "DEM dates, one YYYY-MM-DD per DEM in order, separated by ';' (empty: from "
                                         "the file names or metadata)", optional=True, widget="dates_text", kind=str)
    errors: Optional[str] = setting(None, "DEM errors, one per DEM in order, separated by ';' (m, e.g. the stable "
                                          "NMAD after co-registration; empty: from the scatter only)", optional=True,
                                    kind=str)
    min_count: int = setting(2, "Minimum valid DEMs per pixel", minimum=2, maximum=1000)
    block: int = setting(512, "Block size (px)", unit="px", minimum=64, maximum=16384, advanced=True)
    convert_datums: bool = setting(True, "Convert vertical datums: put each DEM's heights on the first DEM's "
                                         "datum with PROJ when both declare different ones (compound or 3-D CRS)",
                                   advanced=True)


RATE_NUMBERS = dict(n_dems="DEMs", first_year="First date (decimal year)", last_year="Last date (decimal year)",
                    median_rate_m_yr="Median dh/dt (m/yr)", nmad_rate_m_yr="NMAD of dh/dt (m/yr)",
                    median_error_m_yr="Median error of dh/dt (m/yr)", pixels_with_rate="Pixels with a rate")


def _split(text):
    return [t.strip() for t in str(text or "").replace("\n", ";").split(";") if t.strip()]


def dem_dates(paths, dates_text=None):
    """One ``datetime.date`` per DEM: from the text (YYYY-MM-DD; ...) or each raster's metadata or file name."""
    from ..velocity.dates import as_date, date_of_raster

    given = _split(dates_text)
    if given:
        if len(given) != len(paths):
            raise InputError(f"{len(given)} dates were given for {len(paths)} DEMs.",
                             "give one YYYY-MM-DD per DEM, in the order of the DEMs, or leave the dates empty.")
        return [as_date(d, "DEM date") for d in given]
    dates = [date_of_raster(p) for p in paths]
    missing = [p for p, d in zip(paths, dates) if d is None]
    if missing:
        import os

        names = ", ".join(os.path.basename(str(p)) for p in missing)
        raise InputError(f"No date found in the name or metadata of {names}.",
                         "give the dates (YYYY-MM-DD; one per DEM, in order).")
    return dates


def dem_errors(text, count):
    """Per-DEM errors (m) from '0.5; 0.4; ...', or None when empty."""
    values = _split(text)
    if not values:
        return None
    if len(values) != count:
        raise InputError(f"{len(values)} DEM errors were given for {count} DEMs.",
                         "give one error (m) per DEM or none.")
    try:
        errors = [float(v) for v in values]
    except ValueError:
        raise InputError(f"The DEM errors '{text}' are not numbers.", "write e.g. 0.5; 0.4; 0.45 (m).") from None
    if any(not e >= 0 for e in errors):
        raise InputError("A DEM error is negative or not a number.", "give errors in m, >= 0.")
    return errors


def run_rate(inputs: Mapping, outputs: Mapping, settings: DemRateSettings, feedback=None,
             threads: Optional[int] = None) -> Result:
    """dh/dt (m/yr) and its error from ``inputs['dems']`` at their dates, on the first DEM's grid."""
    import numpy as np

    from ..dem.rate import elevation_change_rate
    from ..raster_io import read_raster

    progress = Progress(core_feedback(feedback))
    s = settings
    dems = list(inputs.get("dems") or [])
    if len(dems) < 2:
        raise InputError(f"{len(dems)} DEM(s) were given; a rate needs at least two.", "select the dated DEMs.")
    dates = dem_dates(dems, s.dates)
    errors = dem_errors(s.errors, len(dems))
    out_path = str(require_input(outputs, "output", "dh/dt output"))
    error_path = optional_output(outputs, "error")
    paths = {"rate": out_path, **({"rate_error": error_path} if error_path else {})}
    with thread_limits(threads):
        _, summary = elevation_change_rate(dems, dates, errors, min_count=s.min_count, block_size=s.block,
                                           out_paths=paths, convert_datums=s.convert_datums,
                                           feedback=progress.sub(0.0, 0.95))
    rate = summary["rate_summary"]
    pixels = int(np.isfinite(read_raster(out_path).band(1)).sum())
    median_error = float("nan")
    if error_path:
        err = read_raster(error_path).band(1)
        if np.isfinite(err).any():
            median_error = float(np.nanmedian(err))
    if errors is None and (len(dems) < 3 or s.min_count < 3):
        progress.warn("No DEM errors were given: where fewer than three DEMs are valid the rate has no error "
                      "(the scatter needs three). Give the DEM errors (m) to propagate them.")
    years = summary["years"]
    progress.info(f"dh/dt from {len(dems)} DEMs ({', '.join(d.isoformat() for d in dates)}): median "
                  f"{rate['median']:+.3f} m/yr, NMAD {rate['nmad']:.3f} m/yr over {rate['count']} sampled px.")
    written = {"output": out_path, **({"error": error_path} if error_path else {})}
    limit = symmetric_limit(rate)
    ranges = {"output": (-limit, limit)}
    if error_path and np.isfinite(median_error):
        ranges["error"] = (0.0, 3.0 * median_error)
    numbers = {"n_dems": len(dems), "first_year": min(years), "last_year": max(years),
               "median_rate_m_yr": rate["median"], "nmad_rate_m_yr": rate["nmad"], "median_error_m_yr": median_error,
               "pixels_with_rate": pixels}
    progress.update(1.0)
    return Result(written, numbers, {"dates": [d.isoformat() for d in dates], "years": years, "errors_m": errors,
                                     "rate_summary": rate, "display_ranges": ranges, "datums": summary["datums"]})


RATE = Job(
    "dem_change_rate", "Elevation change rate from a DEM series", DemRateSettings, run_rate,
    {"dems": Port("rasters", "Dated DEMs (m, co-registered)")},
    {"output": Port("raster", "Elevation change rate dh/dt (m/yr)", style="dem_dh"),
     "error": Port("raster", "Error of dh/dt, 1 sigma (m/yr)", optional=True, style="dem_error")},
    RATE_NUMBERS)

JOBS = {job.name: job for job in (UNCERTAINTY, RATE)}
