"""Known-answer inputs for checking normalization on real backscatter.

A real backscatter image is taken as the truth at the reference angle; these helpers add a
known incidence-angle effect, speckle and a smooth elevation field so that the
normalization or the beta estimation can be checked against the answer used to build them.
Used by the tests, the benchmark and ``scripts/validate_sar.py``.
"""

import numpy as np


def angle_ramp(shape, near=30.0, far=45.0, axis=1, reverse=False):
    """Incidence angle (deg) rising linearly from ``near`` to ``far`` along ``axis`` (1 = columns)."""
    n = shape[axis]
    ramp = np.linspace(near, far, n, dtype=np.float64)
    ramp = ramp[::-1] if reverse else ramp
    ramp = ramp[None, :] if axis == 1 else ramp[:, None]
    return np.ascontiguousarray(np.broadcast_to(ramp, shape), dtype=np.float32)


def add_linear_effect(sigma_db, theta, beta, theta_ref=35.0):
    """Backscatter seen at ``theta`` (deg) if ``sigma_db`` is at ``theta_ref``: sigma + beta (theta - theta_ref)."""
    return (sigma_db + np.asarray(beta) * (theta - theta_ref)).astype(np.float32)


def add_cosine_effect(sigma_linear, theta, n=2.0, theta_ref=35.0):
    """Linear power seen at ``theta`` (deg) under a cos^n law: sigma * cos^n(theta) / cos^n(theta_ref)."""
    ratio = np.cos(np.radians(theta)) / np.cos(np.radians(theta_ref))
    return (sigma_linear * ratio ** n).astype(np.float32)


def speckle_db(shape, looks=10, seed=0):
    """Multiplicative speckle of ``looks``-look intensity (unit-mean gamma), in dB."""
    rng = np.random.default_rng(seed)
    return (10.0 * np.log10(rng.gamma(looks, 1.0 / looks, size=shape))).astype(np.float32)


def smooth_elevation(shape, low=0.0, high=2000.0, seed=0):
    """A smooth elevation field (m): a sum of a few broad Gaussian hills scaled to [low, high]."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0: shape[0], 0: shape[1]].astype(np.float64)
    z = np.zeros(shape)
    for _ in range(4):
        r0, c0 = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        s = rng.uniform(0.25, 0.5) * max(shape)
        z += rng.uniform(0.5, 1.0) * np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * s * s))
    z = (z - z.min()) / max(np.ptp(z), 1e-12)
    return (low + (high - low) * z).astype(np.float32)


# -- wet-snow time series (melt detection) -------------------------------------------------------------------


def ridge_dem(shape, res=20.0, height=200.0, wavelength=2000.0, cliff_col=None, cliff_height=300.0, seed=0):
    """A DEM (m) of parallel ridges along the rows (slopes up to atan(2 pi height / wavelength) across the columns)
    on a smooth regional rise, and a cliff rising ``cliff_height`` m westwards over 4 px at column ``cliff_col``
    (default: a fifth of the width): local incidence angles spread widely, with layover on the cliff for a
    sensor looking west (descending pass) and shadow behind it for one looking east."""
    cols = np.arange(shape[1], dtype=np.float64) * res
    ridges = height * np.sin(2 * np.pi * cols / wavelength)[None, :]
    c0 = shape[1] // 5 if cliff_col is None else cliff_col
    cliff = cliff_height * np.clip((c0 - np.arange(shape[1])) / 4.0, 0.0, 1.0)[None, :]
    return (1500.0 + ridges + cliff + smooth_elevation(shape, 0.0, 400.0, seed)).astype(np.float32)


def wet_drop_db(theta_loc, low=2.0, high=6.0, theta_low=15.0, theta_high=60.0):
    """Backscatter drop (dB, positive) of wet snow at local incidence angle ``theta_loc`` (deg): ``low`` at
    ``theta_low`` rising linearly to ``high`` at ``theta_high`` (clipped): the 2-6 dB of the test stacks."""
    t = np.clip((np.asarray(theta_loc, dtype=np.float64) - theta_low) / (theta_high - theta_low), 0.0, 1.0)
    return (low + (high - low) * t).astype(np.float32)


def melt_period(dem, dry_fraction=0.25, onset=(120, 180), end=(260, 210), first_day=0):
    """Known melt period per pixel (day numbers, NaN = never wet): the lowest pixels melt first and longest
    (onset day of year 120 -> 180, end 260 -> 210 with elevation, plus ``first_day`` - the day number of
    the day before 1 January of the melt year); the right ``dry_fraction`` of the columns stays dry."""
    z = (dem - np.nanmin(dem)) / max(float(np.nanmax(dem) - np.nanmin(dem)), 1e-9)
    start = (first_day + onset[0] + (onset[1] - onset[0]) * z).astype(np.float32)
    stop = (first_day + end[0] + (end[1] - end[0]) * z).astype(np.float32)
    dry = np.zeros(dem.shape, bool)
    dry[:, int(round(dem.shape[1] * (1 - dry_fraction))):] = True
    start[dry] = np.nan
    stop[dry] = np.nan
    return start, stop


def melt_series(base_db, dates, theta_loc, period, looks=17, date_noise_db=0.2, cross_offset_db=-6.0, seed=0):
    """Yield (date index, VV dB, VH dB, truth wet mask) for every date of a dry/wet time series.

    ``base_db``: dry backscatter (dB, real VV); VH is ``base_db + cross_offset_db`` (no real VH here). Each date
    gets independent ``looks``-look speckle per pixel and polarisation and a per-date offset (normal,
    ``date_noise_db`` dB); pixels inside their melt ``period`` (start, end day numbers) drop by
    :func:`wet_drop_db` of their local angle in both polarisations.
    """
    from .melt import day_numbers

    rng = np.random.default_rng(seed)
    days = day_numbers(dates)
    drop = wet_drop_db(theta_loc)
    start, stop = period
    for i, day in enumerate(days):
        with np.errstate(invalid="ignore"):
            wet = (day >= start) & (day <= stop)
        offset = np.float32(rng.normal(0.0, date_noise_db))
        vv = base_db + offset + speckle_db(base_db.shape, looks, seed=seed * 1000 + 2 * i)
        vh = (base_db + np.float32(cross_offset_db) + offset
              + speckle_db(base_db.shape, looks, seed=seed * 1000 + 2 * i + 1))
        vv[wet] -= drop[wet]
        vh[wet] -= drop[wet]
        yield i, vv.astype(np.float32), vh.astype(np.float32), wet


#: The test scene's grid: 20 m UTM 32N inside the footprint of the real S1B IW annotation (Central Alps).
MELT_SCENE_ORIGIN = (560_000.0, 5_230_000.0)


def write_melt_scene(folder, base_db, annotation_xml, dates, res=20.0, looks=17, seed=0, orbit=168,
                     vh_as_stack=True):
    """Write a melt test scene into ``folder``; returns a dict of paths and the truth.

    ``base_db``: real dry backscatter (dB), placed on a ``res`` m UTM 32N grid inside the annotation's
    footprint; a ridge DEM (:func:`ridge_dem`) gives the local incidence angle through
    :class:`~.local_incidence.LocalIncidenceSource`. VV is written as one single-band raster per date
    (date in the file name), VH as one multi-band stack (date in each band description) or single files;
    both tagged with the relative orbit ``orbit``. Truth: ``period`` (start, end day numbers), ``wet``
    (dates, rows, cols) bool, ``theta_loc`` (deg), ``codes`` (layover/shadow), ``drop`` (dB).
    """
    import os

    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window

    from .. import raster_io as rio
    from .local_incidence import LocalIncidenceSource

    os.makedirs(folder, exist_ok=True)
    base_db = np.asarray(base_db, dtype=np.float32)
    grid = rio.RasterGrid(CRS.from_epsg(32632), Affine(res, 0, MELT_SCENE_ORIGIN[0], 0, -res, MELT_SCENE_ORIGIN[1]),
                          base_db.shape[1], base_db.shape[0])
    dem = ridge_dem(base_db.shape, res, seed=seed)
    dem_path = os.path.join(folder, "dem.tif")
    rio.write_raster(dem_path, dem, grid, band_names=["elevation_m"], cog=False)
    theta_loc, codes, theta_e = LocalIncidenceSource(annotation_xml, dem_path, grid, (15.0, 75.0)).read_all(
        Window(0, 0, grid.width, grid.height))
    dates = np.asarray(dates, dtype="datetime64[D]")
    from .melt import day_numbers

    melt_year = dates.max().astype("datetime64[Y]").astype("datetime64[D]")
    period = melt_period(dem, first_day=int(day_numbers(np.append(dates, melt_year))[-1]) - 1)
    tags = {"RELATIVE_ORBIT": orbit, "PASS": "DESCENDING", "UNIT": "dB"}
    vv_paths, vh_bands, wet = [], [], []
    for i, vv, vh, truth in melt_series(base_db, dates, theta_loc, period, looks=looks, seed=seed):
        name = str(dates[i]).replace("-", "")
        path = os.path.join(folder, f"s1_melttest_VV_{name}.tif")
        rio.write_raster(path, vv, grid, band_names=[f"VV_{name}"], tags=tags, cog=False)
        vv_paths.append(path)
        vh_bands.append(vh)
        wet.append(truth)
    if vh_as_stack:
        vh_paths = [os.path.join(folder, "s1_melttest_VH_stack.tif")]
        rio.write_raster(vh_paths[0], np.stack(vh_bands), grid, tags=tags, cog=False,
                         band_names=[f"VH_{str(d).replace('-', '')}" for d in dates])
    else:
        vh_paths = []
        for d, vh in zip(dates, vh_bands):
            vh_paths.append(os.path.join(folder, f"s1_melttest_VH_{str(d).replace('-', '')}.tif"))
            rio.write_raster(vh_paths[-1], vh, grid, tags=tags, cog=False)
    return {"grid": grid, "dem": dem_path, "vv": vv_paths, "vh": vh_paths, "annotation": annotation_xml,
            "dates": dates, "period": period, "wet": np.stack(wet), "theta_loc": theta_loc, "codes": codes,
            "theta_e": theta_e, "drop": wet_drop_db(theta_loc)}
