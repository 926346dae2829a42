"""DEM co-registration on real DEMs (../shared/data/dem): known answers from xDEM, demcompare and known shifts."""

import numpy as np
import pytest
import rasterio

from serac.core import raster_io as rio
from serac.core.dem import StableTerrain, coregister, make_pipeline

LZD_SHIFT = (10.25, 1.91, -1.94)  # xDEM LZD translation applied to DEM_1990 (m; x east, y north, z up)


@pytest.fixture(scope="module")
def lyb(shared_data):
    d = shared_data / "dem" / "longyearbyen_partial"
    return d / "aligned_elev_LZD_xdem_workflow.tif", d / "DEM_1995.tif", d


def test_longyearbyen_recovers_xdem_lzd_shift(lyb, tmp_path):
    ref, dem, d = lyb
    result = coregister(ref, dem, tmp_path / "aligned.tif", tmp_path / "dh.tif", tmp_path / "report.html",
                        mask=d / "glacier_mask_1990_derived.tif")
    assert result.shift_x_m == pytest.approx(LZD_SHIFT[0], abs=0.3)
    assert result.shift_y_m == pytest.approx(LZD_SHIFT[1], abs=0.3)
    assert result.shift_z_m == pytest.approx(LZD_SHIFT[2], abs=0.05)
    assert result.stats_before["nmad"] == pytest.approx(2.6, abs=0.1)
    assert result.stats_after["nmad"] < 0.55 * result.stats_before["nmad"]
    # the written dh map agrees with the fit statistics on the stable terrain
    dh = rio.read_raster(tmp_path / "dh.tif")
    assert dh.grid.matches(rio.read_grid(ref))
    stable = rio.read_raster(d / "glacier_mask_1990_derived.tif").band(1) == 0
    assert np.nanmedian(dh.band(1)[stable]) == pytest.approx(result.stats_after["median"], abs=0.02)
    assert "Nuth" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_longyearbyen_outlines_and_deramp(lyb):
    ref, dem, d = lyb
    result = make_pipeline("nuth_kaab", deramp_order=1).fit(
        ref, dem, StableTerrain.from_files(d / "glacier_outlines_1990_derived.gpkg"))
    assert result.shift_x_m == pytest.approx(LZD_SHIFT[0], abs=0.3)
    assert result.shift_y_m == pytest.approx(LZD_SHIFT[1], abs=0.3)
    # the LZD matrix also tilts the DEM (1.3e-4 rad); the order-1 ramp takes it out
    assert result.stats_after["nmad"] < 0.25


def test_srtm_pair_geographic_shift_in_px(shared_data):
    d = shared_data / "dem" / "demcompare_srtm"
    result = make_pipeline("nuth_kaab").fit(d / "srtm_ref.tif", d / "srtm_blurred_and_shifted.tif")
    # secondary[i, j] == reference[i + 5, j + 3]: move it 3 px east and 5 px south
    assert result.work_grid.crs.to_epsg() == 32637
    assert result.shift_x_px == pytest.approx(3.0, abs=0.1)
    assert result.shift_y_px == pytest.approx(-5.0, abs=0.1)
    assert result.shift_x_m == pytest.approx(222.0, abs=3.0)
    assert result.shift_y_m == pytest.approx(-459.07, abs=3.0)


def test_exploradores_known_shift_with_rgi_outlines(shared_data, tmp_path):
    d = shared_data / "dem" / "exploradores_aster"
    ref = d / "AST_L1A_00303182012144228_Z.tif"
    r = rio.read_raster(ref)
    shift = (-23.7, 14.2, 6.3)
    moved = rio.RasterGrid(r.grid.crs, rasterio.Affine.translation(*shift[:2]) * r.grid.transform,
                           r.grid.width, r.grid.height)
    rio.write_raster(tmp_path / "displaced.tif", r.band(1) + shift[2], moved, nodata=-9999.0)
    result = make_pipeline("nuth_kaab").fit(ref, tmp_path / "displaced.tif",
                                            StableTerrain.from_files(d / "17_rgi60_glacier_outlines.gpkg"))
    assert result.shift_x_px == pytest.approx(-shift[0] / 30.0, abs=0.1)
    assert result.shift_y_px == pytest.approx(-shift[1] / 30.0, abs=0.1)
    assert result.shift_z_m == pytest.approx(-shift[2], abs=0.2)
    assert result.counts["stable"] < 0.6 * result.counts["both_valid"]  # the glaciers were masked
