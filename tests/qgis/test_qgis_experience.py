"""The smaller points of the QGIS experience (issue 13): a short toolbar with one icon per group, the
missing-package message pointing at the top-level "Serac" menu, numbers printed by qgis_process."""

import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis


def test_short_toolbar_with_one_icon_per_group(qgis_iface):
    from qgis.PyQt.QtWidgets import QToolButton

    import serac

    plugin = serac.classFactory(qgis_iface)
    plugin.initGui()
    try:
        groups = [a.menu() for a in plugin.menu.actions() if a.menu() is not None]
        buttons = plugin.toolbar.findChildren(QToolButton)
        group_buttons = [b for b in buttons if b.objectName().startswith("seracGroup_")]
        assert len(group_buttons) == len(groups) >= 5  # one button per group, not one per algorithm
        assert len(plugin.toolbar.actions()) == len(groups) + 1  # + "Outline review"
        images = []
        for button in group_buttons:
            assert button.menu() is not None and button.menu().actions()  # opens the group's algorithms
            images.append(button.icon().pixmap(32, 32).toImage())
        assert all(images[i] != images[j] for i in range(len(images)) for j in range(i + 1, len(images)))
        texts = [a.text() for a in plugin.menu.actions()]
        assert "Check dependencies…" in texts and "Outline review" in texts
    finally:
        plugin.unload()


def test_dependency_messages_point_to_the_serac_menu():
    from serac.core.errors import DEPENDENCY_MENU, DependencyMissing

    assert DEPENDENCY_MENU == "Serac > Check dependencies…"
    message = str(DependencyMissing("onnxruntime", "to run a model"))
    assert DEPENDENCY_MENU in message and "Plugins >" not in message


def test_qgis_process_prints_the_outlines_total_area(qgis_process, tmp_path):
    # SIMPLIFY_M: shapely's simplification crashed qgis_process (and QGIS) when shapely's wheel bound to
    # QGIS's GEOS (serac.core.native_libs)
    proc = qgis_process("run", "serac:segmentation_glacier_outlines", "--",
                        f"INPUT={SAMPLE_DATA / 'segmentation' / 'everest_landsat_rgb_heldout.tif'}", "BACKEND=1",
                        "SIMPLIFY_M=15",
                        f"OUTPUT_PROBABILITY={tmp_path / 'p.tif'}", f"OUTPUT_OUTLINES={tmp_path / 'o.gpkg'}")
    lines = dict(line.split(":\t", 1) for line in proc.stdout.splitlines() if ":\t" in line)
    assert float(lines["TOTAL_AREA_KM2"]) > 1.0  # km², printed (a numpy float printed empty)
    assert int(lines["N_OUTLINES"]) > 0


def test_temporary_outputs_load_from_the_files_written(run_alg):
    """The dialog's defaults: every output a temporary file to load into the project. Each path QGIS will
    load must be the file written (checking the output folders once made a second temporary name for
    the error raster, and the dialog said "not correctly generated")."""
    import os

    from qgis.core import QgsProcessing, QgsProcessingContext, QgsProcessingOutputLayerDefinition, QgsProject

    project = QgsProject.instance()
    context = QgsProcessingContext()
    context.setProject(project)
    temporary = {key: QgsProcessingOutputLayerDefinition(QgsProcessing.TEMPORARY_OUTPUT, project)
                 for key in ("OUTPUT", "ERROR", "ARROWS")}
    res = run_alg("glacier_velocity", {
        "REFERENCE": str(SAMPLE_DATA / "everest_landsat" / "LE71400412000304SGS00_B4.tif"),
        "SECONDARY": str(SAMPLE_DATA / "velocity" / "everest_B4_SYNTHETIC_flow_20001115.tif"),
        "SEARCH": 8, "MAX_CHIP": 32, "SPACING": 24, "BACKEND": 1, **temporary}, context=context)
    to_load = context.layersToLoadOnCompletion()
    files = [p for p in to_load if os.path.isabs(p)]  # memory layers (the arrows) are named by an id
    assert {res["OUTPUT"], res["ERROR"]} <= set(to_load)
    assert files and all(os.path.exists(p) for p in files), files
