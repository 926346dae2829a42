"""The example Processing models in resources/models load and run with processing.run."""

import numpy as np
import pytest
from affine import Affine

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

DEM = SAMPLE_DATA / "dem"


def test_every_model_file_loads_with_known_algorithms(serac_provider):
    from qgis.core import QgsApplication

    from serac.processing_provider.provider import load_example_models

    models = load_example_models()
    assert models, "no example models found"
    registry = QgsApplication.processingRegistry()
    for model in models:
        assert model.group() == "Example workflows" and model.shortHelpString()
        for child in model.childAlgorithms().values():
            assert registry.algorithmById(child.algorithmId()) is not None, child.algorithmId()
        assert serac_provider.algorithm(model.name()) is not None


@pytest.fixture
def thinned_pair(tmp_path):
    """Reference = real 1990 DEM crop; second DEM = same terrain offset by (+20, -10) m with 12 m thinning on glaciers."""
    from serac.core.masks import glacier_mask
    from serac.core.raster_io import read_raster, write_raster
    from serac.core.vector_io import read_geometries

    ref = read_raster(DEM / "longyearbyen_dem_1990.tif")
    outlines = DEM / "longyearbyen_glacier_outlines_1990.gpkg"
    mask = glacier_mask(read_geometries(outlines, ref.grid.crs), ref.grid).astype(bool)
    later = ref.band(1).copy()
    later[mask] -= 12.0
    t = ref.grid.transform
    shifted_grid = type(ref.grid)(ref.grid.crs, Affine(t.a, t.b, t.c + 20.0, t.d, t.e, t.f - 10.0),
                                  ref.grid.width, ref.grid.height)
    later_path = tmp_path / "later.tif"
    write_raster(later_path, later, shifted_grid)
    return DEM / "longyearbyen_dem_1990.tif", later_path, outlines


def test_dem_change_per_glacier_model(serac_provider, thinned_pair, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsVectorLayer

    from serac.core.raster_io import read_raster

    reference, later, outlines = thinned_pair
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    out = str(tmp_path / "glacier_change.gpkg")
    results = processing.run("serac:DEM change per glacier",
                             {"reference_dem": str(reference), "dem": str(later), "glacier_outlines": str(outlines),
                              "density": 900.0, "density_sigma": 60.0,
                              "per_glacier:glacier_change": out, "coregister:dh": str(tmp_path / "dh.tif"),
                              "coregister:aligned_dem": str(tmp_path / "aligned.tif"),
                              "uncertainty:dh_error": str(tmp_path / "dh_error.tif")},
                             context=context, feedback=QgsProcessingFeedback())
    layer = QgsVectorLayer(results["per_glacier:glacier_change"], "change", "ogr")
    assert layer.isValid() and layer.featureCount() == 18
    big = [f for f in layer.getFeatures() if f["dh_count"] and f["dh_count"] > 200]
    assert len(big) >= 5
    for f in big:  # glaciers well inside the crop: 12 m of thinning recovered, offset removed
        assert f["dh_median"] == pytest.approx(-12.0, abs=0.5)
        assert f["mean_dh_m"] == pytest.approx(-12.0, abs=0.5)  # (resampling blurs the thinning's edge)
        area_m2 = f["area_km2"] * 1e6  # on the 20 m grid: the outline's area within pixels along its edge
        assert area_m2 == pytest.approx(f.geometry().area(), rel=0.05)
        assert f["volume_change_m3"] == pytest.approx(f["mean_dh_m"] * area_m2, rel=1e-6)
        # errors: finite, positive, small against 12 m of thinning, and the volume's is the mean dh's x area
        sigma = f["sigma_mean_dh_m"]
        assert np.isfinite(sigma) and 0 < sigma < 2.0
        assert f["sigma_volume_m3"] == pytest.approx(sigma * area_m2, rel=1e-6)
        # mass change in m w.e. with the density parameter (900 ± 60 kg/m³), its error in quadrature
        assert f["mass_change_mwe"] == pytest.approx(f["mean_dh_m"] * 0.9, rel=1e-6)
        expected = np.hypot(sigma * 0.9, f["mean_dh_m"] * 0.06)
        assert f["sigma_mass_mwe"] == pytest.approx(expected, rel=1e-6)
    total = sum(f["volume_change_m3"] for f in big)
    assert total < 0
    error = read_raster(results["uncertainty:dh_error"]).band(1)
    assert np.isfinite(error).mean() > 0.9 and np.nanmin(error) > 0  # the per-pixel dh error (m)


def _run_model(model_name, params):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run(f"serac:{model_name}", params, context=context, feedback=QgsProcessingFeedback())


def test_velocity_per_glacier_model(serac_provider, tmp_path):
    """Known synthetic flow on the real Everest image: per-glacier median speed matches the truth."""
    from qgis.core import QgsVectorLayer

    from serac.core.masks import glacier_mask
    from serac.core.raster_io import read_raster
    from serac.core.vector_io import read_geometries

    reference = SAMPLE_DATA / "everest_landsat" / "LE71400412000304SGS00_B4.tif"
    secondary = SAMPLE_DATA / "velocity" / "everest_B4_SYNTHETIC_flow_20001115.tif"
    outlines = SAMPLE_DATA / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg"
    res = _run_model("Velocity per glacier", {
        "reference_image": str(reference), "secondary_image": str(secondary), "glacier_outlines": str(outlines),
        "chip_px": 32, "search_px": 8,
        "velocity:velocity": str(tmp_path / "v.tif"), "mask:glacier_velocity": str(tmp_path / "v_glaciers.tif"),
        "speed_per_glacier:glacier_speed": str(tmp_path / "speed.gpkg")})
    # truth: the synthetic displacement (thousandths of a px) less the uniform misregistration that the
    # stable-ground correction removes, averaged over a 32 px chip (what a chip can measure), at each grid
    # point (pixel centres of the velocity raster), over 16 days at 30 m
    from scipy.ndimage import uniform_filter

    truth = read_raster(SAMPLE_DATA / "velocity" / "everest_SYNTHETIC_displacement_px.tif")
    dx, dy = (uniform_filter(truth.band(b) / 1000 + off, 32) for b, off in ((1, 0.15), (2, -0.25)))
    velocity = read_raster(res["velocity:velocity"])
    rows, cols = np.mgrid[0:velocity.grid.height, 0:velocity.grid.width]
    c, r = ~truth.grid.transform * velocity.grid.xy(rows, cols)
    r, c = np.clip(np.floor(r).astype(int), 0, truth.grid.height - 1), np.clip(np.floor(c).astype(int), 0,
                                                                                truth.grid.width - 1)
    speed_true = np.hypot(dx[r, c], dy[r, c]) * 30.0 / 16 * 365.25
    layer = QgsVectorLayer(res["speed_per_glacier:glacier_speed"], "speed", "ogr")
    assert layer.isValid() and layer.featureCount() == 86
    geoms = read_geometries(outlines, velocity.grid.crs)
    speed = velocity.band(3)
    big = 0
    for feature, geom in zip(sorted(layer.getFeatures(), key=lambda f: f.id()), geoms):
        inside = glacier_mask([geom], velocity.grid).astype(bool) & np.isfinite(speed)
        if not feature["speed_count"]:
            continue
        # the zonal statistics are those of the velocity raster inside the outline
        assert feature["speed_count"] == pytest.approx(inside.sum(), abs=max(2, 0.05 * inside.sum()))
        assert feature["speed_max"] >= feature["speed_median"]
        if feature["speed_count"] >= 200:  # large glaciers: most chips lie on textured ice
            assert feature["speed_median"] == pytest.approx(np.median(speed_true[inside]), rel=0.25)
            big += 1
    # small glaciers are underestimated where a chip is mostly stable rock or featureless snow
    assert big >= 3
    masked = read_raster(res["mask:glacier_velocity"])
    on_ice = glacier_mask(read_geometries(outlines, masked.grid.crs), masked.grid).astype(bool)
    speed = masked.band(3)
    assert np.isnan(speed[~on_ice]).mean() > 0.95 and np.isfinite(speed[on_ice]).mean() > 0.5


def test_sar_outlines_for_review_model(serac_provider, tmp_path):
    """A known cosine-law angle effect added to the backscatter is removed, then outlines come out for review."""
    from qgis.core import QgsVectorLayer

    from serac.core.raster_io import read_raster, write_raster
    from serac.models import shipped_model_path

    scene = read_raster(SAMPLE_DATA / "segmentation" / "columbia_sar_simulated_50m.tif")
    rows, cols = scene.grid.shape
    angle = np.broadcast_to(np.linspace(30.0, 45.0, cols, dtype=np.float32), (rows, cols))
    effect_db = 10 * np.log10(np.cos(np.radians(angle)) ** 2 / np.cos(np.radians(35.0)) ** 2)
    write_raster(tmp_path / "angle.tif", angle, scene.grid)
    write_raster(tmp_path / "sigma0_db.tif", scene.band(1) + effect_db, scene.grid)
    res = _run_model("SAR glacier outlines for review", {
        "backscatter": str(tmp_path / "sigma0_db.tif"), "incidence_angle": str(tmp_path / "angle.tif"),
        "model": shipped_model_path("calving_zones_synthetic_v1"), "reference_angle": 35.0,
        "normalize:normalized": str(tmp_path / "norm.tif"),
        "outlines:probability": str(tmp_path / "p.tif"), "outlines:outlines_for_review": str(tmp_path / "o.gpkg")})
    normalized = read_raster(res["normalize:normalized"]).band(1)
    valid = np.isfinite(normalized) & np.isfinite(scene.band(1))
    assert valid.mean() > 0.9
    assert np.abs(normalized[valid] - scene.band(1)[valid]).max() < 0.01  # dB
    layer = QgsVectorLayer(res["outlines:outlines_for_review"], "outlines", "ogr")
    assert layer.isValid() and layer.featureCount() > 0
    assert {f["review_status"] for f in layer.getFeatures()} == {"unreviewed"}
    assert {f["model"] for f in layer.getFeatures()} == {"calving_zones_synthetic_v1"}


# -- issue 13: clean in the 3.22 modeler, run on bundled data, outputs styled ------------------------------------

BUNDLED_RUNS = {  # model: (inputs from resources/sample_data and models/, {output: expected renderer type})
    "DEM change per glacier": (
        {"reference_dem": DEM / "longyearbyen_reference_lzd_aligned.tif", "dem": DEM / "longyearbyen_dem_1990.tif",
         "glacier_outlines": DEM / "longyearbyen_glacier_outlines_1990.gpkg"},
        {"coregister:aligned_dem": "singlebandpseudocolor", "coregister:dh": "singlebandpseudocolor",
         "uncertainty:dh_error": "singlebandpseudocolor", "per_glacier:glacier_change": "graduatedSymbol"}),
    "SAR glacier outlines for review": (
        {"backscatter": SAMPLE_DATA / "segmentation" / "columbia_sar_simulated_50m.tif",
         "incidence_angle": SAMPLE_DATA / "segmentation" / "columbia_incidence_angle_synthetic_30_45deg.tif",
         "model": SAMPLE_DATA.parents[1] / "models" / "calving_zones_synthetic_v1.onnx", "reference_angle": 35.0},
        {"normalize:normalized": "singlebandgray", "outlines:probability": "singlebandpseudocolor",
         "outlines:outlines_for_review": "categorizedSymbol"}),
    "Velocity per glacier": (
        {"reference_image": SAMPLE_DATA / "everest_landsat" / "LE71400412000304SGS00_B4.tif",
         "secondary_image": SAMPLE_DATA / "velocity" / "everest_B4_SYNTHETIC_flow_20001115.tif",
         "glacier_outlines": SAMPLE_DATA / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg",
         "chip_px": 32, "search_px": 8},
        {"velocity:velocity": "singlebandpseudocolor", "mask:glacier_velocity": "singlebandpseudocolor",
         "speed_per_glacier:glacier_speed": "graduatedSymbol"}),
}


def test_every_model_opens_clean_in_the_modeler(serac_provider):
    """No child step is drawn red in the 3.22 modeler: every input parameter of every step has a value."""
    from serac.processing_provider.provider import load_example_models

    models = load_example_models()
    assert sorted(m.name() for m in models) == sorted(BUNDLED_RUNS)
    for model in models:
        for child_id, child in model.childAlgorithms().items():
            ok, issues = model.validateChildAlgorithm(child_id)
            assert ok, (model.name(), child_id, issues)
            missing = [d.name() for d in child.algorithm().parameterDefinitions()
                       if not d.isDestination() and d.name() not in child.parameterSources()]
            assert missing == [], (model.name(), child_id)


@pytest.mark.parametrize("model_name", sorted(BUNDLED_RUNS))
def test_every_model_runs_on_bundled_data_and_loads_styled(serac_provider, tmp_path, model_name):
    import processing
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

    inputs, expected = BUNDLED_RUNS[model_name]
    for path in (v for v in inputs.values() if hasattr(v, "exists")):
        assert path.exists() and "shared" not in path.parts  # bundled with the plugin
    params = {k: str(v) if hasattr(v, "exists") else v for k, v in inputs.items()}
    model = QgsApplication.processingRegistry().createAlgorithmById(f"serac:{model_name}")
    for definition in model.destinationParameterDefinitions():
        suffix = ".gpkg" if definition.type() == "sink" else ".tif"
        params[definition.name()] = str(tmp_path / (definition.name().replace(":", "_") + suffix))
    project = QgsProject.instance()
    project.clear()
    context = QgsProcessingContext()
    context.setProject(project)
    results = processing.runAndLoadResults(f"serac:{model_name}", params, feedback=QgsProcessingFeedback(),
                                           context=context)
    loaded = {layer.source().split("|")[0]: layer for layer in project.mapLayers().values()}
    assert len(loaded) == len(expected)
    for output, renderer_type in expected.items():
        layer = loaded[results[output]]
        assert layer.renderer().type() == renderer_type, (output, layer.renderer().type())
        if layer.type() == layer.VectorLayer:
            assert layer.featureCount() > 0, output
    if model_name == "Velocity per glacier":  # the masked velocity shows speed (band 3), not an RGB of vx/vy/speed
        masked = loaded[results["mask:glacier_velocity"]]
        assert masked.renderer().band() == 3
        assert masked.dataProvider().generateBandName(3).endswith("speed") or "speed" in masked.bandName(3)
    project.clear()


def test_dem_change_model_runs_from_the_command_line(qgis_process, tmp_path):
    """The README's qgis_process line: every model output named (one left out reaches its step as an invalid
    value in qgis_process, and the next step fails), TEMPORARY_OUTPUT for those not kept."""
    import sqlite3

    out = tmp_path / "change.gpkg"
    qgis_process("run", "serac:DEM change per glacier", "--",
                 f"reference_dem={DEM / 'longyearbyen_reference_lzd_aligned.tif'}",
                 f"dem={DEM / 'longyearbyen_dem_1990.tif'}",
                 f"glacier_outlines={DEM / 'longyearbyen_glacier_outlines_1990.gpkg'}", "density=850",
                 "density_sigma=60", "coregister:aligned_dem=TEMPORARY_OUTPUT", f"coregister:dh={tmp_path / 'dh.tif'}",
                 "uncertainty:dh_error=TEMPORARY_OUTPUT", f"per_glacier:glacier_change={out}")
    with sqlite3.connect(out) as db:
        table = db.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
        columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        sigmas = [row[0] for row in db.execute(f'SELECT sigma_mean_dh_m FROM "{table}"')]
    assert {"mean_dh_m", "sigma_mean_dh_m", "volume_change_m3", "sigma_volume_m3", "mass_change_mwe",
            "sigma_mass_mwe", "dh_median"} <= columns
    # the bundled reference has the glaciers masked: no dh on them, but the error the mean would have is there
    assert len(sigmas) == 18 and all(0 < s < 5 for s in sigmas)
