"""The plugin in a real QgsApplication: loading, provider, algorithms, styles, qgis_process."""

import json

import numpy as np
import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

EVEREST = SAMPLE_DATA / "everest_landsat"
B4 = EVEREST / "LE71400412000304SGS00_B4.tif"
OUTLINES = EVEREST / "15_rgi60_glacier_outlines.gpkg"


def test_metadata_is_complete_for_plugins_repository():
    import configparser

    from tests.conftest import ROOT

    meta = configparser.ConfigParser()
    meta.read(ROOT / "metadata.txt", encoding="utf-8")
    general = meta["general"]
    for key in ("name", "description", "about", "version", "qgisMinimumVersion", "author", "email",
                "tracker", "repository", "license", "tags", "icon"):
        assert general.get(key), key
    assert general["qgisMinimumVersion"] == "3.22" and general["qgisMaximumVersion"] == "4.99"
    assert general["supportsQt6"] == "True" and general["hasProcessingProvider"] == "yes"
    assert (ROOT / general["icon"]).is_file() and (ROOT / "LICENSE").is_file()


def test_class_factory_init_gui_and_unload(qgis_iface, qgis_app):
    from qgis.core import QgsApplication

    import serac

    plugin = serac.classFactory(qgis_iface)
    registry = QgsApplication.processingRegistry()
    plugin.initGui()
    try:
        assert registry.providerById("serac") is plugin.provider
        titles = [a.text() for a in qgis_iface.mainWindow().menuBar().actions()]
        assert "Serac" in titles
        texts = [a.text() for a in plugin.actions]
        assert "Glacier mask from outlines" in texts and "Check dependencies…" in texts
    finally:
        plugin.unload()
    assert registry.providerById("serac") is None
    assert plugin.menu is None and plugin.actions == []


def test_provider_registers_discovered_algorithms(serac_provider):
    from serac.processing_provider.base_algorithm import SeracAlgorithm
    from serac.processing_provider.provider import discover_algorithm_classes, load_example_models

    ids = {a.name() for a in serac_provider.algorithms()}
    assert "rasterize_outlines" in ids
    assert ids == {c.ALG_ID for c in discover_algorithm_classes()} | {m.name() for m in load_example_models()}
    for alg in serac_provider.algorithms():
        if not isinstance(alg, SeracAlgorithm):
            continue
        assert alg.displayName() and alg.group() and alg.shortHelpString(), alg.id()
        ok, message = alg.canExecute()  # False only for an optional package not installed (torch on Debian 13)
        assert ok == (not alg.missing_requirements()) and (ok or "Check dependencies" in message), message


def test_rasterize_outlines_through_processing_run(run_alg, tmp_path):
    from serac.core.masks import glacier_mask
    from serac.core.raster_io import read_grid, read_raster
    from serac.core.vector_io import read_geometries

    out = tmp_path / "mask.tif"
    res = run_alg("rasterize_outlines", {"INPUT": str(B4), "OUTLINES": str(OUTLINES), "OUTPUT": str(out)})
    mask = read_raster(out).band(1)
    grid = read_grid(B4)
    assert mask.shape == grid.shape
    expected = glacier_mask(read_geometries(OUTLINES, grid.crs), grid)
    np.testing.assert_array_equal(mask, expected)  # same core, same answer through QGIS
    assert 0.3 < res["GLACIER_FRACTION"] < 0.8  # the Everest crop is mostly glacierised
    assert res["GLACIER_AREA_KM2"] == pytest.approx(expected.sum() * 30 * 30 / 1e6)


def test_bad_input_gives_processing_exception(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    from serac.core.raster_io import RasterGrid, write_raster

    nocrs = tmp_path / "nocrs.tif"
    from affine import Affine

    write_raster(nocrs, np.zeros((10, 10), "float32"), RasterGrid(None, Affine(1, 0, 0, 0, -1, 10), 10, 10))
    with pytest.raises(QgsProcessingException, match="no coordinate reference system"):
        run_alg("rasterize_outlines", {"INPUT": str(nocrs), "OUTLINES": str(OUTLINES),
                                       "OUTPUT": str(tmp_path / "x.tif")})
    assert not (tmp_path / "x.tif").exists()


def test_cancelled_run_leaves_no_output(run_alg, tmp_path):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    out = tmp_path / "cancelled.tif"
    with pytest.raises(QgsProcessingException, match="cancelled"):
        run_alg("rasterize_outlines", {"INPUT": str(B4), "OUTLINES": str(OUTLINES), "OUTPUT": str(out)},
                feedback=feedback)
    assert list(tmp_path.iterdir()) == []


def test_output_loaded_on_completion_carries_qml_style(serac_provider, tmp_path):
    import processing
    from qgis.core import QgsProject

    QgsProject.instance().removeAllMapLayers()
    out = tmp_path / "styled_mask.tif"
    processing.runAndLoadResults("serac:rasterize_outlines",
                                 {"INPUT": str(B4), "OUTLINES": str(OUTLINES), "OUTPUT": str(out)})
    layers = QgsProject.instance().mapLayersByName("Glacier mask")
    assert len(layers) == 1
    renderer = layers[0].renderer()
    assert renderer.type() == "paletted"
    assert [c.label for c in renderer.classes()] == ["outside glaciers", "glacier"]
    QgsProject.instance().removeAllMapLayers()


def test_qgis_process_lists_and_runs_serac(qgis_process, tmp_path):
    listing = qgis_process("list").stdout
    assert "serac:rasterize_outlines" in listing
    out = tmp_path / "cli_mask.tif"
    proc = qgis_process("--json", "run", "serac:rasterize_outlines", "--",
                        f"INPUT={B4}", f"OUTLINES={OUTLINES}", f"OUTPUT={out}")
    results = json.loads(proc.stdout[proc.stdout.index("{"):])["results"]
    assert results["OUTPUT"] == str(out) and out.exists()
    assert 0.3 < results["GLACIER_FRACTION"] < 0.8
