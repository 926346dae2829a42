"""Estimating beta, the slope of backscatter against incidence angle (dB/deg).

Two estimators, both working in dB (where the model ``sigma_dB(theta) = alpha + beta theta``
is linear) and blockwise:

* :func:`estimate_beta_pair` -- from a near-simultaneous ascending/descending pair, after
  Chen et al. (2022), *Remote Sensing* 14(21), 5534: the same ground seen at two incidence
  angles gives, per window of ``window`` x ``window`` px, ``d_sigma = beta * d_theta + r``
  (d = ascending - descending). The window betas are then modelled by multiple linear
  regression ``beta = b0 + b_lon lon + b_lat lat + b_elev elevation`` (lon/lat in deg,
  elevation in m from a DEM), with a robust refit after rejecting windows further than
  ``outlier_nmad`` NMADs from the first fit. The model gives a smooth beta map.
* :func:`estimate_beta_timeseries` -- per pixel from a stack of N co-registered acquisitions
  of the same area at different incidence angles: least squares
  ``sigma_i = sigma_ref + beta (theta_i - theta_ref)`` per pixel, with the standard error of
  beta, closed-form and vectorized over pixels (:func:`~.regression.fit_line`).

Assumption in both: the backscatter changes between acquisitions only through the angle
(no change of the surface, e.g. melt, between dates; aspect effects of opposite look
directions average out within windows).
"""

import os
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import raster_io
from ..errors import InputError
from ..progress import as_progress
from ..stats import NMAD_FACTOR, robust_summary
from .annotation import to_lonlat
from .engine import check_angle_source, decide_raster_unit, read_db
from .normalization import DEFAULT_THETA_REF, check_angles, check_theta_ref
from .regression import fit_line, fit_linear_model
from .sources import LonLatSource, RasterSource, as_source

ESTIMATORS = ("median", "ls")


# -- asc/desc pair (method 3) -------------------------------------------------------------
@dataclass
class BetaModel:
    """``beta = intercept + lon_coef lon + lat_coef lat + elev_coef elevation`` (dB/deg).

    Coefficients in dB/deg per deg of longitude/latitude and per m of elevation; ``*_se``
    their standard errors. ``r2``/``rmse`` (dB/deg) describe the fit to the window betas
    used (``n_windows``; ``n_rejected`` outliers left out). ``centre`` (lon, lat, elev) is
    where the model is evaluated in centred form for numerical precision.
    """

    intercept: float
    lon_coef: float
    lat_coef: float
    elev_coef: float
    intercept_se: float
    lon_se: float
    lat_se: float
    elev_se: float
    r2: float
    rmse: float
    n_windows: int
    n_rejected: int
    centre: tuple
    uses_elevation: bool = True

    def predict(self, lon, lat, elev=None):
        """beta (dB/deg) at lon/lat (deg) and elevation (m; ignored if the model has no elevation term)."""
        lon0, lat0, elev0 = self.centre
        beta0 = self.intercept + self.lon_coef * lon0 + self.lat_coef * lat0 + self.elev_coef * elev0
        out = beta0 + self.lon_coef * (_wrap(lon, lon0) - lon0) + self.lat_coef * (np.asarray(lat) - lat0)
        if self.uses_elevation:
            out = out + self.elev_coef * (np.asarray(elev, dtype=np.float64) - elev0)
        return out

    def as_dict(self):
        return asdict(self)


def _wrap(lon, lon0):
    return (np.asarray(lon, dtype=np.float64) - lon0 + 180.0) % 360.0 - 180.0 + lon0


def fit_beta_model(lon, lat, beta, elev=None, outlier_nmad=3.0, weights=None):
    """Fit a :class:`BetaModel` to window betas (1-D arrays; ``elev`` optional, m).

    Weighted least squares (``weights`` proportional to the inverse variance of each window
    beta, e.g. count x d_theta^2 since beta = d_sigma / d_theta; default equal), then one
    refit without windows whose normalized residual exceeds ``outlier_nmad`` x NMAD
    (skipped if ``outlier_nmad`` is None).
    """
    lon, lat, beta = (np.asarray(a, dtype=np.float64).ravel() for a in (lon, lat, beta))
    use_elev = elev is not None
    elev = np.zeros_like(beta) if elev is None else np.asarray(elev, dtype=np.float64).ravel()
    weights = np.ones_like(beta) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    ok = (np.isfinite(lon) & np.isfinite(lat) & np.isfinite(beta) & np.isfinite(elev)
          & np.isfinite(weights) & (weights > 0))
    n_params = 4 if use_elev else 3
    if ok.sum() < 2 * n_params:
        raise InputError(f"Only {int(ok.sum())} window(s) gave a beta estimate; at least {2 * n_params} are needed.",
                         "use inputs that overlap more, a smaller window, or a smaller minimum angle difference.")
    lon0 = float(np.median(lon[ok]))
    lon = _wrap(lon, lon0)
    centre = (float(lon[ok].mean()), float(lat[ok].mean()), float(elev[ok].mean()) if use_elev else 0.0)

    def design(sel):
        cols = [np.ones(sel.sum()), lon[sel] - centre[0], lat[sel] - centre[1]]
        if use_elev:
            cols.append(elev[sel] - centre[2])
        return np.column_stack(cols)

    used = ok.copy()
    coef, se, rmse, r2 = fit_linear_model(design(used), beta[used], weights[used])
    rejected = 0
    if outlier_nmad is not None:
        resid = np.full(beta.shape, np.nan)
        resid[ok] = (beta[ok] - design(ok) @ coef) * np.sqrt(weights[ok] / weights[ok].mean())
        spread = NMAD_FACTOR * np.median(np.abs(resid[used] - np.median(resid[used])))
        keep = used & (np.abs(resid) <= outlier_nmad * max(spread, 1e-12))
        if keep.sum() >= 2 * n_params and keep.sum() < used.sum():
            rejected = int(used.sum() - keep.sum())
            used = keep
            coef, se, rmse, r2 = fit_linear_model(design(used), beta[used], weights[used])
    b_elev = coef[3] if use_elev else 0.0
    intercept = coef[0] - coef[1] * centre[0] - coef[2] * centre[1] - b_elev * centre[2]
    # standard error of the raw intercept is dominated by extrapolation to lon = lat = 0; report the centred one
    return BetaModel(float(intercept), float(coef[1]), float(coef[2]), float(b_elev), float(se[0]), float(se[1]),
                     float(se[2]), float(se[3]) if use_elev else 0.0, r2, rmse, int(used.sum()), rejected,
                     centre, use_elev)


def _windows(array, window):
    """(nwr, nwc, window*window) view of a 2-D array padded with NaN to whole windows."""
    h, w = array.shape
    ph, pw = -h % window, -w % window
    if ph or pw:
        array = np.pad(array, ((0, ph), (0, pw)), constant_values=np.nan)
    nwr, nwc = array.shape[0] // window, array.shape[1] // window
    return array.reshape(nwr, window, nwc, window).transpose(0, 2, 1, 3).reshape(nwr, nwc, window * window)


def window_betas(d_sigma, d_theta, window, estimator="median", min_delta_theta=2.0, min_valid_fraction=0.5):
    """Per-window beta (dB/deg) from differences d_sigma (dB) and d_theta (deg) of an overlapping pair.

    ``estimator`` 'median': median(d_sigma) / median(d_theta) (robust to speckle and outliers;
    d_theta is nearly constant in a window); 'ls': least squares through the origin.
    Windows with fewer than ``min_valid_fraction`` valid pixels or |median d_theta| below
    ``min_delta_theta`` (deg) are NaN. Returns (beta, median d_theta, valid count), each (nwr, nwc).
    """
    if estimator not in ESTIMATORS:
        raise InputError(f"Unknown beta estimator '{estimator}'.", f"use one of {ESTIMATORS}.")
    ds = _windows(np.where(np.isfinite(d_theta), d_sigma, np.nan), window)
    dt = _windows(np.where(np.isfinite(d_sigma), d_theta, np.nan), window)
    count = np.isfinite(ds).sum(axis=-1)
    enough = count >= max(3, min_valid_fraction * window * window)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows -> NaN
        med_dt = np.nanmedian(dt, axis=-1)
        if estimator == "median":
            beta = np.nanmedian(ds, axis=-1) / med_dt
        else:
            beta = fit_line(dt, ds, axis=-1, through_origin=True).slope
    bad = ~enough | ~(np.abs(med_dt) >= min_delta_theta)
    return np.where(bad, np.nan, beta), med_dt, count


@dataclass
class PairBetaResult:
    """Beta model from an asc/desc pair plus the per-window estimates (1-D arrays in ``windows``:
    row, col (px, window centres on ``grid``), lon, lat (deg), elev (m), beta (dB/deg),
    delta_theta (deg), count)."""

    model: BetaModel
    windows: dict
    grid: raster_io.RasterGrid
    window: int
    estimator: str
    units: tuple
    warnings: list = field(default_factory=list)

    def summary(self):
        m = self.model
        elev = f" {m.elev_coef:+.3e} * elev(m)" if m.uses_elevation else ""
        return (f"beta model from {m.n_windows} windows of {self.window} px ({m.n_rejected} outliers rejected): "
                f"beta = {m.intercept:+.4f} {m.lon_coef:+.5f} * lon {m.lat_coef:+.5f} * lat{elev} dB/deg; "
                f"R2 {m.r2:.3f}, RMSE {m.rmse:.4f} dB/deg.")


def estimate_beta_pair(asc, asc_angles, desc, desc_angles, dem=None, grid=None, window=32, estimator="median",
                       unit="auto", band=1, min_delta_theta=2.0, min_valid_fraction=0.5, outlier_nmad=3.0,
                       block_windows=16, feedback=None):
    """Beta model (Chen et al. 2022) from an ascending (``asc``) and descending (``desc``) backscatter raster.

    ``*_angles``: incidence angle (deg) of each as number/raster/annotation/source; ``dem``
    (optional raster path, m) adds the elevation term; ``grid`` defaults to the ascending
    raster's grid (the descending image, angles and DEM are resampled onto it). ``window``
    in px. Returns a :class:`PairBetaResult`.
    """
    progress = as_progress(feedback)
    asc, desc = os.fspath(asc), os.fspath(desc)
    grid = grid or raster_io.read_grid(asc)
    if grid.crs is None:
        raise InputError("The ascending raster has no CRS; the asc/desc method needs georeferenced rasters.",
                         "terrain-correct both acquisitions onto a map grid first.")
    window = int(window)
    if window < 2:
        raise InputError(f"The window of {window} px is too small.", "use windows of 8-64 px.")
    units_ = tuple(decide_raster_unit(p, unit, band, progress, f"The {w} raster")
                   for p, w in ((asc, "ascending"), (desc, "descending")))
    desc_src = RasterSource(desc, grid, band=band, what="descending backscatter")  # checks overlap / grids
    angle_srcs = [as_source(a, grid, f"{w} incidence angle") for a, w in
                  ((asc_angles, "ascending"), (desc_angles, "descending"))]
    for s, w in zip(angle_srcs, ("ascending", "descending")):
        check_angle_source(s, grid, f"The {w} incidence angle")
    dem_src = RasterSource(dem, grid, what="DEM") if dem is not None else None
    block = window * max(1, int(block_windows))
    blocks = list(raster_io.iter_blocks(grid.shape, block))
    parts = {k: [] for k in ("row", "col", "elev", "beta", "delta_theta", "count")}
    for i, (win, _) in enumerate(blocks):
        sig_a = read_db(asc, grid, band, win, units_[0].unit)[0]
        sig_d = read_db(desc_src.path, grid, band, win, units_[1].unit)[0]
        th_a, th_d = (s.read(win) for s in angle_srcs)
        check_angles(th_a, "The ascending incidence angle")
        check_angles(th_d, "The descending incidence angle")
        beta, dtheta, count = window_betas(sig_a - sig_d, th_a - th_d, window, estimator, min_delta_theta,
                                           min_valid_fraction)
        nwr, nwc = beta.shape
        rows = win.row_off + np.minimum(np.arange(nwr) * window + (window - 1) / 2.0, win.height - 1)
        cols = win.col_off + np.minimum(np.arange(nwc) * window + (window - 1) / 2.0, win.width - 1)
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        parts["row"].append(rr.ravel())
        parts["col"].append(cc.ravel())
        if dem_src is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows -> NaN
                parts["elev"].append(np.nanmean(_windows(dem_src.read(win), window), axis=-1).ravel())
        parts["beta"].append(beta.ravel())
        parts["delta_theta"].append(dtheta.ravel())
        parts["count"].append(count.ravel())
        progress.update((i + 1) / len(blocks))
    windows = {k: np.concatenate(v) for k, v in parts.items() if v}
    lon, lat = to_lonlat(*grid.xy(windows["row"], windows["col"]), grid.crs)
    windows["lon"], windows["lat"] = lon, lat
    # window beta = d_sigma / d_theta: its variance falls with the pixel count and d_theta^2
    weights = windows["count"] * windows["delta_theta"] ** 2
    model = fit_beta_model(lon, lat, windows["beta"], windows.get("elev"), outlier_nmad, weights)
    result = PairBetaResult(model, windows, grid, window, estimator, units_,
                            [u.warning for u in units_ if u.warning])
    if dem is None:
        result.warnings.append("No DEM was given: the beta model has no elevation term.")
        progress.warn(result.warnings[-1])
    progress.info(result.summary())
    return result


class BetaModelSource:
    """beta (dB/deg) from a :class:`BetaModel` on ``grid``: lon/lat of each pixel and the DEM height (m)."""

    def __init__(self, model, grid, dem=None, step=16):
        if model.uses_elevation and dem is None:
            raise InputError("The beta model has an elevation term but no DEM was given to evaluate it.",
                             "give the DEM used for the estimation.")
        self.model = model
        self.lonlat = LonLatSource(grid, step)
        self.dem = as_source(dem, grid, "DEM") if dem is not None else None
        self.description = "beta model (lon, lat" + (", elevation)" if model.uses_elevation else ")")

    def read(self, window):
        lon, lat = self.lonlat.read_both(window)
        elev = self.dem.read(window) if self.model.uses_elevation else None
        return self.model.predict(lon, lat, elev).astype(np.float32)


# -- time series (method 4) ----------------------------------------------------------------
TIMESERIES_BANDS = ("beta_dB_per_deg", "beta_se_dB_per_deg", "sigma_ref_dB", "rmse_dB", "count")


@dataclass
class TimeSeriesBetaResult:
    """Per-pixel beta from a stack; ``path`` holds bands :data:`TIMESERIES_BANDS`.

    ``beta``/``beta_se`` are :func:`~serac.core.stats.robust_summary` dicts (dB/deg) over a
    regular subsample of valid pixels; ``valid_fraction`` is the share of pixels with a fit.
    """

    path: str
    n_images: int
    theta_ref: float
    beta: dict
    beta_se: dict
    valid_fraction: float
    units: tuple
    warnings: list = field(default_factory=list)

    def summary(self):
        return (f"Per-pixel beta from {self.n_images} images: median {self.beta['median']:+.4f} dB/deg "
                f"(NMAD {self.beta['nmad']:.4f}), median standard error {self.beta_se['median']:.4f} dB/deg, "
                f"{100 * self.valid_fraction:.1f} % of pixels fitted.")


def estimate_beta_timeseries(backscatter, angles, out_path, theta_ref=DEFAULT_THETA_REF, grid=None, unit="auto",
                             band=1, min_images=3, min_angle_spread=1.0, block_size=512, sample_step=4,
                             feedback=None):
    """Per-pixel least squares ``sigma_i = sigma_ref + beta (theta_i - theta_ref)`` over a stack.

    ``backscatter``: list of N raster paths (same area; resampled onto ``grid``, default the
    first one's); ``angles``: list of N incidence-angle inputs (deg; number/raster/annotation/
    source). Pixels with fewer than ``min_images`` valid pairs or an angle standard deviation
    below ``min_angle_spread`` (deg) get NaN. Writes bands :data:`TIMESERIES_BANDS` (beta and
    its standard error in dB/deg, sigma at theta_ref in dB, residual RMSE in dB, count) to
    ``out_path``; returns a :class:`TimeSeriesBetaResult`.
    """
    progress = as_progress(feedback)
    theta_ref = check_theta_ref(theta_ref)
    paths = [os.fspath(p) for p in backscatter]
    if len(paths) < 3 or len(paths) != len(angles):
        raise InputError(f"{len(paths)} backscatter raster(s) and {len(angles)} angle input(s) were given.",
                         "give at least 3 acquisitions and one incidence angle input per acquisition, in order.")
    grid = grid or raster_io.read_grid(paths[0])
    decisions = tuple(decide_raster_unit(p, unit, band, progress, f"Image {i + 1}") for i, p in enumerate(paths))
    for i, p in enumerate(paths[1:], start=2):
        RasterSource(p, grid, band=band, what=f"image {i}")  # grid/overlap check with a clear message
    angle_srcs = [as_source(a, grid, f"incidence angle of image {i + 1}") for i, a in enumerate(angles)]
    for i, s in enumerate(angle_srcs):
        check_angle_source(s, grid, f"The incidence angle of image {i + 1}")
    blocks = list(raster_io.iter_blocks(grid.shape, block_size))
    samples = {"beta": [], "se": []}
    fitted = 0
    with raster_io.RasterWriter(out_path, grid, count=len(TIMESERIES_BANDS), dtype="float32",
                                band_names=list(TIMESERIES_BANDS),
                                tags={"SERAC_PRODUCT": "sar_beta_timeseries", "THETA_REF_DEG": f"{theta_ref:g}",
                                      "N_IMAGES": str(len(paths))}) as writer:
        for i, (win, _) in enumerate(blocks):
            sigma = np.stack([read_db(p, grid, band, win, d.unit)[0] for p, d in zip(paths, decisions)])
            theta = np.stack([s.read(win) for s in angle_srcs])
            check_angles(theta)
            theta -= np.float32(theta_ref)
            fit = fit_line(theta, sigma, axis=0, min_count=max(2, min_images), min_spread=min_angle_spread)
            out = np.stack([fit.slope, fit.slope_se, fit.intercept, fit.rmse,
                            np.where(np.isfinite(fit.slope), fit.n, 0)]).astype(np.float32)
            fitted += int(np.count_nonzero(np.isfinite(fit.slope)))
            samples["beta"].append(out[0, ::sample_step, ::sample_step].ravel())
            samples["se"].append(out[1, ::sample_step, ::sample_step].ravel())
            writer.write(out, win)
            progress.update((i + 1) / len(blocks))
        if fitted == 0:  # raising inside the writer leaves no output behind
            raise InputError("No pixel could be fitted: the incidence angles barely differ between the images or "
                             "too few images are valid per pixel.",
                             f"use acquisitions from different orbits (angle spread >= {min_angle_spread:g} deg).")
    result = TimeSeriesBetaResult(os.fspath(out_path), len(paths), theta_ref,
                                  robust_summary(np.concatenate(samples["beta"])),
                                  robust_summary(np.concatenate(samples["se"])),
                                  fitted / float(grid.width * grid.height), decisions,
                                  [d.warning for d in decisions if d.warning])
    progress.info(result.summary())
    return result
