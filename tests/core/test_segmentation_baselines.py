"""Classical baselines (NDSI, red/SWIR ratio, debris slope rule) on SYNTHETIC spectra: no real SWIR band is in the
shared data (the Everest/Khumbu images are true-colour RGB)."""

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.segmentation.baselines import baseline_mask, debris_extension, looks_like_dn, spectral_index
from serac.core.segmentation.metrics import segmentation_scores

# typical reflectances (red, green, SWIR 1.6 µm): clean ice/snow, rock, debris (spectrally rock)
SPECTRA = {"ice": (0.55, 0.62, 0.06), "rock": (0.20, 0.17, 0.28), "debris": (0.14, 0.12, 0.18)}


def _scene(rng, n=120):
    """Ice in the upper half, a debris tongue (flat) below it, rock (steep) around; 3 bands red, green, SWIR."""
    truth = np.full((n, n), "rock", dtype=object)
    truth[10:60, 20:100] = "ice"
    truth[60:100, 45:75] = "debris"
    bands = np.zeros((3, n, n), np.float32)
    for name, spectrum in SPECTRA.items():
        for b, v in enumerate(spectrum):
            bands[b][truth == name] = v
    bands *= rng.normal(1.0, 0.05, bands.shape).astype(np.float32)
    rows, cols = np.mgrid[:n, :n]
    dem = 5000.0 - 3.0 * rows  # glacier surface: about 6 degrees
    dem = np.where(truth == "rock", dem + 60.0 * np.abs(cols - 60), dem)  # valley walls: about 63°
    return bands, truth, dem


def test_ndsi_and_band_ratio_find_clean_ice():
    bands, truth, _ = _scene(np.random.default_rng(0))
    red, green, swir = bands
    ice = truth == "ice"
    for method in ("ndsi", "band_ratio"):
        mask, index = baseline_mask(method, red=red, green=green, swir=swir)
        assert segmentation_scores(mask, ice).iou > 0.98
    assert spectral_index("ndsi", green=np.array([0.6]), swir=np.array([0.2]))[0] == pytest.approx(0.5)
    assert spectral_index("band_ratio", red=np.array([0.6]), swir=np.array([0.2]))[0] == pytest.approx(3.0)
    assert np.isnan(spectral_index("ndsi", green=np.array([0.0]), swir=np.array([0.0]))[0])


def test_debris_rule_adds_the_flat_tongue_touching_ice_only():
    ice = np.zeros((20, 20), bool)
    ice[2:8, 2:8] = True
    slope = np.full((20, 20), 40.0)
    slope[8:14, 4:6] = 5.0     # flat tongue below the ice
    slope[15:19, 15:19] = 5.0  # flat, but not touching ice
    out = debris_extension(ice, slope, 24.0)
    assert out[8:14, 4:6].all() and not out[15:19, 15:19].any() and out[ice].all()


def test_job_writes_index_and_outlines_with_review_fields_and_warns_on_dn(tmp_path):
    from serac.core.jobs import run_job

    bands, truth, dem = _scene(np.random.default_rng(1))
    grid = rio.RasterGrid.from_bounds("EPSG:32645", 500000.0, 3100000.0 - 3600, 503600.0, 3100000.0, 30.0)
    with rio.RasterWriter(tmp_path / "ms.tif", grid, count=3, dtype="float32", nodata=float("nan")) as w:
        w.write(bands)
    with rio.RasterWriter(tmp_path / "dem.tif", grid, count=1, dtype="float32", nodata=float("nan")) as w:
        w.write(dem[None].astype(np.float32))
    out = {"output_index": str(tmp_path / "ndsi.tif"), "output_outlines": str(tmp_path / "o.gpkg")}
    settings = {"method": "ndsi", "red_band": 1, "green_band": 2, "swir_band": 3, "min_area_km2": 0.0}
    plain = run_job("glacier_outlines_classical", {"input": str(tmp_path / "ms.tif")}, out, settings)
    feats = plain.features["output_outlines"][0]
    assert feats and {"mean_index", "model", "review_status", "area_km2"} <= set(feats[0]["properties"])
    ice_km2 = (truth == "ice").sum() * 900 / 1e6
    assert plain.numbers["total_area_km2"] == pytest.approx(ice_km2, rel=0.03)
    debris = run_job("glacier_outlines_classical",
                     {"input": str(tmp_path / "ms.tif"), "dem": str(tmp_path / "dem.tif")}, out, settings)
    glacier_km2 = np.isin(truth, ["ice", "debris"]).sum() * 900 / 1e6
    assert debris.numbers["total_area_km2"] == pytest.approx(glacier_km2, rel=0.1)
    assert looks_like_dn(bands[0] * 10000) and not looks_like_dn(bands[0])
    from serac.core.progress import ConsoleFeedback

    feedback = ConsoleFeedback(verbose=False)

    with rio.RasterWriter(tmp_path / "dn.tif", grid, count=3, dtype="float32", nodata=float("nan")) as w:
        w.write(bands * 10000)
    run_job("glacier_outlines_classical", {"input": str(tmp_path / "dn.tif")}, out, settings, feedback=feedback)
    assert any("digital numbers" in m for m in feedback.messages)


def test_a_true_colour_image_is_refused_with_a_clear_error(tmp_path):
    from serac.core.errors import BandCountError
    from serac.core.jobs import run_job

    from tests.conftest import SAMPLE_DATA

    with pytest.raises(BandCountError, match="SWIR"):
        run_job("glacier_outlines_classical",
                {"input": str(SAMPLE_DATA / "segmentation" / "everest_landsat_rgb_heldout.tif")},
                {"output_index": str(tmp_path / "i.tif")}, {"swir_band": 5})
