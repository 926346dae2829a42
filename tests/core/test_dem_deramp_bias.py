"""Deramp on the tilted Hintereisferner SRTM DEM: unbiased on skewed errors, robust to gross outliers."""

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.dem import CoregPipeline, Deramp


@pytest.fixture(scope="module")
def tilted(shared_data, tmp_path_factory):
    ref = shared_data / "outlines" / "oggm" / "hef_srtm.tif"
    r = rio.read_raster(ref)
    z = r.band(1).astype(np.float64)
    rows, cols = np.mgrid[0:r.grid.height, 0:r.grid.width]
    tilt = 10.0 * ((cols - r.grid.width / 2) / r.grid.width + 0.5 * (rows - r.grid.height / 2) / r.grid.height)
    folder = tmp_path_factory.mktemp("tilt")

    def centre_correction(extra, name, **deramp):
        path = folder / f"{name}.tif"
        rio.write_raster(path, (z + tilt + extra).astype(np.float32)[None], r.grid, nodata=-9999.0)
        return CoregPipeline([Deramp(1, **deramp)]).fit(ref, path).step_info("deramp")["correction_at_centre_m"]

    return centre_correction, z.shape


def test_deramp_unbiased_on_skewed_errors_and_robust_to_outliers(tilted):
    centre_correction, shape = tilted
    truth = centre_correction(0.0, "clean")
    rng = np.random.default_rng(0)
    skewed = rng.gamma(2.0, 2.0, shape) - 4.0  # zero-mean, skewed (median -0.66 m)
    bias = centre_correction(skewed, "skew") - truth
    old = centre_correction(skewed, "skew", recentre_clip=None) - truth  # the median-window fit alone
    least_squares = centre_correction(skewed, "skew", clip=1e9, recentre_clip=None) - truth
    assert abs(least_squares) < 0.03 and abs(old) > 0.08
    assert abs(bias) < 0.03
    gross = rng.normal(0.0, 1.0, shape) + np.where(rng.random(shape) < 0.05, 50.0, 0.0)  # 5 % at +50 m
    assert abs(centre_correction(gross, "gross") - truth) < 0.15
    assert abs(centre_correction(gross, "gross", clip=1e9, recentre_clip=None) - truth) > 2.0
