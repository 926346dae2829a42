"""Uncertainty of elevation change: heteroscedastic, spatially correlated errors (Hugonnet et al. 2022).

Hugonnet, R. et al. (2022). Uncertainty analysis of digital elevation models by spatial
inference from stable terrain. IEEE JSTARS 15, 6456-6472, doi:10.1109/JSTARS.2022.3188922.
Rolstad, C., Haug, T. and Denby, B. (2009). Spatially integrated geodetic glacier mass
balance and its uncertainty based on geostatistical analysis. J. Glaciol. 55(192), 666-680.
Huss, M. (2013). Density assumptions for converting geodetic glacier volume change to mass
change. The Cryosphere 7, 877-887 (850 +/- 60 kg/m3).

Everything is estimated on the stable terrain of a dh map (m), from random samples only,
so memory stays bounded for any grid size (no full slope or curvature map is made):

1. **Heteroscedasticity** (:class:`ErrorModel`): the NMAD of stable dh in bins of slope
   (degrees) and absolute curvature (1/100 m, the Laplacian of the DEM x 100), interpolated
   between bin centres, gives sigma_dh(slope, curvature) in m at every pixel.
2. **Standardization**: z = dh / sigma_dh, scaled so that NMAD(z) = 1 on stable terrain.
3. **Spatial correlation** (:func:`empirical_variogram`): semivariance of z in lag classes
   (m), each from random pixel pairs at random directions and distances within the class;
   fitted (:func:`fit_variogram`) with a nugget plus one or more spherical, exponential or
   Gaussian models (practical range, m).
4. **Propagation** (:func:`mean_dh_error`): the standard error of the mean dh over an area of
   N valid pixels is sigma^2 = (1/N^2) sum_i sum_j sigma_i sigma_j rho(d_ij) (Hugonnet et al.
   2022), evaluated as mean(sigma_i^2) / N + (1 - 1/N) E[sigma_i sigma_j rho(d_ij)] with the
   expectation over random pixel pairs of the area. :func:`rolstad_disk_error` gives the
   closed form of Rolstad et al. (2009) for a disk of the same area, as a cross-check.
5. **Volume and mass** (:func:`area_change`): dV = mean dh x area (m3), sigma_V = sigma_mean x
   area; mass balance in m w.e. = mean dh x density / 1000 with the density error added in
   quadrature.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.optimize import curve_fit

from ..errors import InputError
from ..stats import nmad
from .terrain import slope_aspect_at

MODELS = ("spherical", "exponential", "gaussian")
WATER_DENSITY = 1000.0  # kg/m3


def curvature_at(dem, rows, cols, res):
    """Absolute curvature (1/100 m): |Laplacian| of ``dem`` x 100 at pixels (rows, cols); NaN on the border."""
    res_x, res_y = (res, res) if np.isscalar(res) else res
    dem = np.asarray(dem)
    height, width = dem.shape
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    inside = (rows >= 1) & (rows <= height - 2) & (cols >= 1) & (cols <= width - 2)
    r = np.where(inside, rows, 1)
    c = np.where(inside, cols, 1)
    z = dem[r, c].astype(np.float64)
    lap = ((dem[r, c - 1] + dem[r, c + 1] - 2 * z) / res_x ** 2 + (dem[r - 1, c] + dem[r + 1, c] - 2 * z) / res_y ** 2)
    out = np.abs(lap) * 100.0
    out[~inside] = np.nan
    return out


def terrain_at(dem, rows, cols, res):
    """(slope in degrees, absolute curvature in 1/100 m) at pixels (rows, cols) of ``dem``."""
    slope, _ = slope_aspect_at(dem, rows, cols, res)
    return slope.astype(np.float64), curvature_at(dem, rows, cols, res)


def random_pixels(mask, count, rng):
    """Up to ``count`` random (row, col) where ``mask`` is True, drawn with replacement without listing the mask."""
    height, width = mask.shape
    fraction = max(float(mask.mean()) if mask.size <= 4_000_000 else
                   float(mask.ravel()[rng.integers(0, mask.size, 200_000)].mean()), 1e-6)
    rows, cols, have = [], [], 0
    for _ in range(20):
        n = int(min(5 * (count - have) / fraction + 1000, 20_000_000))
        flat = rng.integers(0, mask.size, n)
        flat = flat[mask.ravel()[flat]]
        rows.append(flat // width)
        cols.append(flat % width)
        have += flat.size
        if have >= count:
            break
    r, c = np.concatenate(rows)[:count], np.concatenate(cols)[:count]
    return r, c


@dataclass
class ErrorModel:
    """sigma_dh (m) as a function of slope (degrees) and absolute curvature (1/100 m), from stable terrain.

    ``nmad`` (slope bins x curvature bins) at the bin centres ``slope_centres``, ``curv_centres``;
    ``counts`` stable pixels per bin; ``scale``: factor making NMAD(dh / sigma) = 1 on stable terrain.
    """

    slope_centres: np.ndarray
    curv_centres: np.ndarray
    nmad: np.ndarray
    counts: np.ndarray
    scale: float = 1.0

    def __call__(self, slope, curvature):
        s = np.clip(np.nan_to_num(np.asarray(slope, dtype=np.float64), nan=0.0), self.slope_centres[0],
                    self.slope_centres[-1])
        k = np.clip(np.nan_to_num(np.asarray(curvature, dtype=np.float64), nan=0.0), self.curv_centres[0],
                    self.curv_centres[-1])
        if self.slope_centres.size == 1 or self.curv_centres.size == 1:
            axis, values = ((self.curv_centres, k) if self.slope_centres.size == 1 else (self.slope_centres, s))
            return self.scale * np.interp(values, axis, self.nmad.ravel())
        f = RegularGridInterpolator((self.slope_centres, self.curv_centres), self.nmad)
        return self.scale * f(np.stack([s, k], axis=-1))

    def to_dict(self):
        return {"slope_centres_deg": self.slope_centres.tolist(), "curvature_centres": self.curv_centres.tolist(),
                "nmad_m": self.nmad.tolist(), "counts": self.counts.tolist(), "scale": self.scale}


def _fill_nearest(table):
    """Replace NaN cells of a 2-D table by the nearest valid cell (index space)."""
    bad = ~np.isfinite(table)
    if not bad.any():
        return table
    good = np.argwhere(~bad)
    for i, j in np.argwhere(bad):
        d = (good[:, 0] - i) ** 2 + (good[:, 1] - j) ** 2
        table[i, j] = table[tuple(good[np.argmin(d)])]
    return table


def fit_error_model(dh, slope, curvature, n_bins=8, min_count=200):
    """:class:`ErrorModel` from stable samples of dh (m), slope (degrees) and curvature (1/100 m).

    Bin edges are quantiles (up to ``n_bins`` per variable); bins with fewer than ``min_count``
    samples take the value of the nearest populated bin.
    """
    ok = np.isfinite(dh) & np.isfinite(slope) & np.isfinite(curvature)
    dh, slope, curvature = dh[ok], slope[ok], curvature[ok]
    if dh.size < 4 * min_count:
        raise InputError(f"Only {dh.size} stable pixels to model the elevation error (at least {4 * min_count}).",
                         "include more stable terrain (mask only the glaciers).")
    n_bins = int(max(1, min(n_bins, dh.size // (4 * min_count))))
    edges = []
    for v in (slope, curvature):
        e = np.unique(np.quantile(v, np.linspace(0, 1, n_bins + 1)))
        edges.append(e if e.size >= 2 else np.array([v.min(), v.max() + 1e-9]))
    si = np.clip(np.searchsorted(edges[0], slope, side="right") - 1, 0, edges[0].size - 2)
    ci = np.clip(np.searchsorted(edges[1], curvature, side="right") - 1, 0, edges[1].size - 2)
    table = np.full((edges[0].size - 1, edges[1].size - 1), np.nan)
    counts = np.zeros(table.shape, dtype=np.int64)
    centres = [np.zeros(table.shape[0]), np.zeros(table.shape[1])]
    for i in range(table.shape[0]):
        centres[0][i] = np.median(slope[si == i]) if (si == i).any() else 0.5 * (edges[0][i] + edges[0][i + 1])
    for j in range(table.shape[1]):
        centres[1][j] = np.median(curvature[ci == j]) if (ci == j).any() else 0.5 * (edges[1][j] + edges[1][j + 1])
    key = si * table.shape[1] + ci
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(table.size + 1))
    for b in range(table.size):
        v = dh[order[bounds[b]:bounds[b + 1]]]
        counts.flat[b] = v.size
        if v.size >= min_count:
            table.flat[b] = nmad(v)
    if not np.isfinite(table).any():
        table[:] = nmad(dh)
    for k in (0, 1):  # centres must increase strictly for the interpolator
        centres[k] = np.maximum.accumulate(centres[k] + np.arange(centres[k].size) * 1e-9)
    return ErrorModel(centres[0], centres[1], _fill_nearest(table), counts)


@dataclass
class Variogram:
    """Empirical semivariance ``gamma`` of standardized dh at mean lags ``lag_m`` (m), ``pairs`` per class."""

    lag_m: np.ndarray
    gamma: np.ndarray
    pairs: np.ndarray

    def to_dict(self):
        return {"lag_m": self.lag_m.tolist(), "gamma": self.gamma.tolist(), "pairs": self.pairs.tolist()}


def lag_classes(res_m, extent_m, count=24):
    """Lag class edges (m): log-spaced from one pixel to half the grid extent."""
    return np.unique(np.concatenate([[0.0], np.geomspace(res_m, max(extent_m / 2.0, 4 * res_m), count)]))


def empirical_variogram(values, valid, res, edges=None, pairs_per_class=20_000, seed=0):
    """:class:`Variogram` of ``values`` (2-D, e.g. standardized dh) where ``valid`` (2-D bool) is True.

    ``res``: pixel size (x, y) in m; ``edges``: lag class edges in m (default :func:`lag_classes`).
    Each class draws ``pairs_per_class`` first pixels at random among the valid ones and a second
    pixel at a random direction and a distance uniform over the annulus of the class; pairs whose
    second pixel is invalid or off the grid are dropped. Memory: O(pairs_per_class).
    """
    rng = np.random.default_rng(seed)
    res_x, res_y = (res, res) if np.isscalar(res) else res
    height, width = values.shape
    if edges is None:
        edges = lag_classes(min(res_x, res_y), max(width * res_x, height * res_y))
    lags, gammas, npairs = [], [], []
    for d0, d1 in zip(edges[:-1], edges[1:]):
        r, c = random_pixels(valid, pairs_per_class, rng)
        dist = np.sqrt(rng.uniform(d0 ** 2, d1 ** 2, r.size))
        angle = rng.uniform(0, 2 * np.pi, r.size)
        r2 = np.rint(r + dist * np.sin(angle) / res_y).astype(np.int64)
        c2 = np.rint(c + dist * np.cos(angle) / res_x).astype(np.int64)
        ok = (r2 >= 0) & (r2 < height) & (c2 >= 0) & (c2 < width)
        ok[ok] = valid[r2[ok], c2[ok]]
        ok &= (r2 != r) | (c2 != c)
        if ok.sum() < 30:
            continue
        d = np.hypot((r2[ok] - r[ok]) * res_y, (c2[ok] - c[ok]) * res_x)
        diff = values[r[ok], c[ok]].astype(np.float64) - values[r2[ok], c2[ok]]
        finite = np.isfinite(diff)
        if finite.sum() < 30:
            continue
        lags.append(float(d[finite].mean()))
        gammas.append(0.5 * float(np.mean(diff[finite] ** 2)))
        npairs.append(int(finite.sum()))
    if len(lags) < 3:
        raise InputError("Too few stable pixel pairs to estimate the spatial correlation of the errors.",
                         "include more stable terrain (mask only the glaciers).")
    return Variogram(np.array(lags), np.array(gammas), np.array(npairs))


def model_gamma(kind, h, sill, rng_m):
    """Semivariance of one model at lags ``h`` (m): partial ``sill``, practical range ``rng_m`` (m)."""
    h = np.asarray(h, dtype=np.float64)
    if kind == "spherical":
        u = np.minimum(h / rng_m, 1.0)
        return sill * (1.5 * u - 0.5 * u ** 3)
    if kind == "exponential":
        return sill * (1.0 - np.exp(-3.0 * h / rng_m))
    if kind == "gaussian":
        return sill * (1.0 - np.exp(-3.0 * (h / rng_m) ** 2))
    raise InputError(f"Unknown variogram model '{kind}'.", f"use one of {', '.join(MODELS)}.")


@dataclass
class VariogramModel:
    """Nugget plus a sum of models (kind, partial sill, practical range in m) of standardized dh."""

    nugget: float
    components: list = field(default_factory=list)

    @property
    def sill(self):
        return self.nugget + sum(s for _, s, _ in self.components)

    def gamma(self, h):
        h = np.asarray(h, dtype=np.float64)
        g = np.where(h > 0, self.nugget, 0.0)
        for kind, s, a in self.components:
            g = g + model_gamma(kind, h, s, a)
        return g

    def correlation(self, h):
        """Correlation rho(h) = 1 - gamma(h) / sill (1 at h = 0)."""
        return 1.0 - self.gamma(h) / self.sill

    def to_dict(self):
        return {"nugget": self.nugget, "sill": self.sill,
                "components": [{"model": k, "partial_sill": s, "range_m": a} for k, s, a in self.components]}


def fit_variogram(variogram, models=("spherical", "spherical")):
    """Least-squares :class:`VariogramModel` (nugget + ``models``) of an empirical variogram.

    Classes are weighted by the square root of their pair count; ranges are bounded by the
    largest lag and ordered short to long so that several models describe several scales.
    """
    h, g, n = variogram.lag_m, variogram.gamma, variogram.pairs
    models = tuple(models)
    for kind in models:
        if kind not in MODELS:
            raise InputError(f"Unknown variogram model '{kind}'.", f"use one of {', '.join(MODELS)}.")
    top = float(np.max(g))
    hmax = float(h.max())
    hmin = float(h.min())

    def f(hh, nugget, *p):
        out = np.full(hh.shape, nugget)
        for k, kind in enumerate(models):
            out = out + model_gamma(kind, hh, p[2 * k], p[2 * k + 1])
        return out

    p0, lo, hi = [0.1 * top], [0.0], [top * 2]
    for k in range(len(models)):
        p0 += [top / len(models), hmin * 4 * (10 ** (k * 1.5))]
        lo += [0.0, hmin * 0.5]
        hi += [top * 2, hmax * 2]
    p0 = [min(max(v, a + 1e-9), b - 1e-9) for v, a, b in zip(p0, lo, hi)]
    sigma = 1.0 / np.sqrt(np.maximum(n, 1))
    try:
        popt, _ = curve_fit(f, h, g, p0=p0, bounds=(lo, hi), sigma=sigma, maxfev=20_000)
    except RuntimeError:
        popt = np.array(p0)
    comps = sorted([(kind, float(popt[1 + 2 * k]), float(popt[2 + 2 * k])) for k, kind in enumerate(models)],
                   key=lambda t: t[2])
    return VariogramModel(float(popt[0]), comps)


def rolstad_disk_error(area_m2, sigma_m, model):
    """Standard error (m) of the mean over a disk of ``area_m2`` (Rolstad et al. 2009), spherical components only.

    sigma_m: the (uniform) dh error in m; exponential/Gaussian components are treated as
    spherical with the same practical range (an approximation).
    """
    radius = np.sqrt(area_m2 / np.pi)
    var = 0.0
    total = model.sill
    for _, s, a in model.components:
        ratio = radius / a
        frac = (1.0 / 5.0) / ratio ** 2 if ratio >= 1 else 1.0 - ratio + ratio ** 3 / 5.0
        var += (s / total) * frac  # the nugget (uncorrelated) part averages out over the pixels
    return float(sigma_m * np.sqrt(var))


def mean_dh_error(sigma, rows, cols, res, model, n_valid, pairs=2_000_000, seed=0):
    """Standard error (m) of the mean of dh over ``n_valid`` pixels, from a sample of them.

    ``sigma``: dh error (m) at the sampled pixels (rows, cols, px); ``res``: (x, y) m per px;
    ``model``: :class:`VariogramModel` of the standardized dh. The off-diagonal mean
    E[sigma_i sigma_j rho(d_ij)] is taken over ``pairs`` random pairs of the sample.
    """
    rng = np.random.default_rng(seed)
    res_x, res_y = (res, res) if np.isscalar(res) else res
    sigma = np.asarray(sigma, dtype=np.float64)
    m = sigma.size
    if m == 0 or n_valid == 0:
        return float("nan")
    if m == 1 or n_valid == 1:
        return float(sigma[0])
    total, done = 0.0, 0
    chunk = 500_000
    while done < pairs:
        k = min(chunk, pairs - done)
        i = rng.integers(0, m, k)
        j = rng.integers(0, m, k)
        keep = i != j
        i, j = i[keep], j[keep]
        d = np.hypot((rows[i] - rows[j]) * res_y, (cols[i] - cols[j]) * res_x)
        total += float(np.sum(sigma[i] * sigma[j] * model.correlation(d)))
        done += k
        if m * m <= done:  # small areas: the random pairs already cover all of them many times
            break
    off = total / max(1, int(done * (1 - 1.0 / m)))
    var = float(np.mean(sigma ** 2)) / n_valid + (1.0 - 1.0 / n_valid) * off
    return float(np.sqrt(max(var, 0.0)))


@dataclass
class DhUncertainty:
    """The error model of a dh map: heteroscedasticity, standardization and spatial correlation."""

    error_model: ErrorModel
    variogram: Variogram
    model: VariogramModel
    res: tuple
    stable_count: int
    warnings: list = field(default_factory=list)

    def sigma_at(self, dem, rows, cols):
        """dh error (m) at pixels (rows, cols) of ``dem`` (the terrain the error model was fitted on)."""
        return self.error_model(*terrain_at(dem, rows, cols, self.res))

    def to_dict(self):
        return {"error_model": self.error_model.to_dict(), "variogram": self.variogram.to_dict(),
                "model": self.model.to_dict(), "stable_count": self.stable_count, "warnings": list(self.warnings)}


def estimate_uncertainty(dh, dem, stable, res, models=("spherical", "spherical"), samples=300_000,
                         pairs_per_class=20_000, n_bins=8, seed=0):
    """:class:`DhUncertainty` of a dh map (m) over its ``stable`` terrain (2-D bool).

    ``dem``: the elevation (m) the slope and curvature come from (usually the reference DEM);
    ``res``: pixel size (x, y) in m (a metric grid). Works on random samples only.
    """
    res = (float(res), float(res)) if np.isscalar(res) else (float(res[0]), float(res[1]))
    dh = np.asarray(dh)
    valid = np.asarray(stable, dtype=bool) & np.isfinite(dh) & np.isfinite(dem)
    count = int(valid.sum())
    if count < 1000:
        raise InputError(f"Only {count} stable pixels with a valid dh (at least 1000 are needed).",
                         "include more stable terrain (mask only the glaciers) or check the dh map's nodata.")
    rng = np.random.default_rng(seed)
    r, c = random_pixels(valid, samples, rng)
    slope, curv = terrain_at(dem, r, c, res)
    err = fit_error_model(dh[r, c].astype(np.float64), slope, curv, n_bins=n_bins)
    # standardize: z = dh / sigma; the scale makes NMAD(z) = 1
    z_sample = dh[r, c] / err(slope, curv)
    err.scale = float(nmad(z_sample)) if np.isfinite(nmad(z_sample)) else 1.0
    warnings = []
    if abs(np.nanmedian(dh[r, c])) > 0.5 * nmad(dh[r, c]):
        warnings.append(f"The stable-terrain dh has a median of {np.nanmedian(dh[r, c]):+.2f} m: the DEMs are not "
                        "co-registered vertically; the uncertainty assumes they are.")
    z = _StandardizedView(dh, dem, err, res)
    vario = empirical_variogram(z, valid, res, pairs_per_class=pairs_per_class, seed=seed + 1)
    model = fit_variogram(vario, models)
    if not 0.67 <= model.sill <= 1.5:
        warnings.append(f"The standardized stable dh has a variogram sill of {model.sill:.2f} instead of about 1: its "
                        "errors are heavier-tailed or correlated over longer distances than its NMAD says, so the "
                        "propagated errors (which use the NMAD) may be too small.")
    extent = max(dh.shape[0] * res[1], dh.shape[1] * res[0])
    if model.components and model.components[-1][2] > extent / 2:
        warnings.append(f"The errors stay correlated up to {model.components[-1][2]:.0f} m, beyond half the grid "
                        f"extent ({extent / 2:.0f} m): a tilt or long-wavelength bias is left; consider a deramp.")
    return DhUncertainty(err, vario, model, res, count, warnings)


class _StandardizedView:
    """dh / sigma_dh evaluated only at the indexed pixels (no full standardized map in memory)."""

    def __init__(self, dh, dem, err, res):
        self.dh, self.dem, self.err, self.res = dh, dem, err, res
        self.shape = dh.shape

    def __getitem__(self, index):
        rows, cols = index
        return self.dh[rows, cols] / self.err(*terrain_at(self.dem, rows, cols, self.res))


def area_change(dh, dem, area_mask, uncertainty, density=850.0, density_sigma=60.0, samples=5000, pairs=2_000_000,
                seed=0):
    """Mean elevation change, volume and mass change ± 1 sigma of one area (e.g. a glacier outline mask).

    ``dh`` (m), ``dem`` (m) and ``area_mask`` (bool) on the same grid; ``uncertainty``: a
    :class:`DhUncertainty`. dh voids inside the area are left out of the mean (the mean is
    taken as representative of the whole area). ``density`` ± ``density_sigma`` in kg/m3
    (default 850 ± 60, Huss 2013). Returns a dict: area (m2), valid fraction, mean dh and its
    standard error (m), volume change and its error (m3), mass balance and its error (m w.e.).
    """
    res_x, res_y = uncertainty.res
    area_mask = np.asarray(area_mask, dtype=bool)
    n_area = int(area_mask.sum())
    valid = area_mask & np.isfinite(dh)
    n_valid = int(valid.sum())
    area = n_area * res_x * res_y
    # sigma is sampled over the whole area (dh voids included: the error of the mean the area would have)
    where = area_mask & np.isfinite(dem)
    n_where = int(where.sum())
    nan = float("nan")
    if n_where == 0:
        return {"area_m2": area, "valid_fraction": 0.0, "mean_dh_m": nan, "sigma_mean_dh_m": nan,
                "volume_change_m3": nan, "sigma_volume_m3": nan, "mass_balance_mwe": nan, "sigma_mass_mwe": nan}
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(where) if n_where <= samples else random_pixels(where, samples, rng)
    sigma = uncertainty.sigma_at(dem, rows, cols)
    mean = float(np.mean(dh[valid])) if n_valid else nan
    se = mean_dh_error(sigma, rows, cols, (res_x, res_y), uncertainty.model, max(n_valid, n_where), pairs, seed)
    factor = density / WATER_DENSITY
    mwe = mean * factor
    sigma_mwe = float(np.hypot(se * factor, mean * density_sigma / WATER_DENSITY)) if n_valid else nan
    return {"area_m2": area, "valid_fraction": n_valid / n_area, "mean_dh_m": mean, "sigma_mean_dh_m": se,
            "volume_change_m3": mean * area, "sigma_volume_m3": se * area, "mass_balance_mwe": mwe,
            "sigma_mass_mwe": sigma_mwe, "density_kg_m3": density, "density_sigma_kg_m3": density_sigma}


def area_changes(dh, dem, labels, uncertainty, density=850.0, density_sigma=60.0, samples=5000, pairs=500_000,
                 seed=0):
    """:func:`area_change` for every positive label of ``labels`` (e.g. rasterized glacier ids); {label: dict}.

    Labels are found in one pass (sorted pixel indices), so many glaciers stay cheap.
    """
    labels = np.asarray(labels)
    flat = labels.ravel()
    idx = np.flatnonzero(flat > 0)
    order = np.argsort(flat[idx], kind="stable")
    idx = idx[order]
    values, starts = np.unique(flat[idx], return_index=True)
    ends = np.append(starts[1:], idx.size)
    out = {}
    for value, a, b in zip(values, starts, ends):
        rows, cols = np.divmod(idx[a:b], labels.shape[1])
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        mask[rows - r0, cols - c0] = True
        m0, m1 = max(0, r0 - 1), min(labels.shape[0], r1 + 1)  # one pixel more for the slope and curvature
        n0, n1 = max(0, c0 - 1), min(labels.shape[1], c1 + 1)
        big = np.zeros((m1 - m0, n1 - n0), dtype=bool)
        big[r0 - m0:r0 - m0 + mask.shape[0], c0 - n0:c0 - n0 + mask.shape[1]] = mask
        out[int(value)] = area_change(dh[m0:m1, n0:n1], dem[m0:m1, n0:n1], big, uncertainty, density,
                                      density_sigma, samples, pairs, seed + int(value))
    return out
