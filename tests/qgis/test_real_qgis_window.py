"""Serac in the real QGIS application (``qgis`` on a private Xvfb display), run as a user runs it.

The algorithm dialogs run in a background task and load their outputs into the project when they
finish: a path that pytest-qgis's ``processing.run`` never takes. Each dialog here runs with the
dialog's default temporary outputs; the test reads back what the run left: whether it finished,
"not correctly generated" in the dialog's log (a temporary output resolved twice once caused it),
the layers loaded and whether their files exist, and the GDAL version rasterio runs on inside
QGIS (the application links the system's GDAL into the whole process: see
``serac.core.native_libs``; a shapely simplification crashed QGIS before).
"""

import importlib.util
import json

import pytest

from tests.conftest import ROOT, SAMPLE_DATA

pytestmark = pytest.mark.qgis

_spec = importlib.util.spec_from_file_location("qgis_window", ROOT / "scripts" / "qgis_window.py")
qgis_window = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qgis_window)

INSIDE = r'''
import json, os, time, traceback
from qgis.core import QgsProcessing, QgsProcessingOutputLayerDefinition, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QTextEdit
from qgis.utils import iface
import processing

work = os.environ["SERAC_WORK"]
CASES = json.loads(os.environ["SERAC_CASES"])
report = {"runs": []}
state = {}

def save_and_quit():
    report["layers"] = [{"name": l.name(), "valid": l.isValid(), "provider": l.providerType(),
                         "exists": os.path.exists(l.source().split("|")[0])}  # QGIS removes its temporary
                        for l in QgsProject.instance().mapLayers().values()]  # files when it quits
    import rasterio  # as Serac loaded it
    report["rasterio_gdal"] = rasterio.__gdal_version__
    with open(os.path.join(work, "report.json"), "w") as fh:
        json.dump(report, fh)
    QgsProject.instance().clear()
    QTimer.singleShot(300, iface.actionExit().trigger)

def log_text(dialog):
    return "\n".join(e.toPlainText() for e in dialog.findChildren(QTextEdit))

def next_case():
    try:
        if not CASES:
            save_and_quit()
            return
        alg_id, params, outputs = CASES.pop(0)
        for key in outputs:
            params[key] = QgsProcessingOutputLayerDefinition(QgsProcessing.TEMPORARY_OUTPUT, QgsProject.instance())
        dialog = processing.createAlgorithmDialog(alg_id, params)
        dialog.show()
        state.update(dialog=dialog, alg=alg_id, start=time.time())
        dialog.runAlgorithm()
        QTimer.singleShot(500, poll)
    except Exception:
        report["error"] = traceback.format_exc()
        save_and_quit()

def poll():
    dialog = state["dialog"]
    text = log_text(dialog)
    done = "Loading resulting layers" in text or "Execution failed" in text
    if not done and time.time() - state["start"] < 180:
        QTimer.singleShot(500, poll)
        return
    QTimer.singleShot(1500, lambda: finish(done))

def finish(done):
    dialog = state["dialog"]
    text = log_text(dialog)
    report["runs"].append({"alg": state["alg"], "finished": done and "Execution failed" not in text,
                           "not_generated": [l for l in text.splitlines() if "not correctly generated" in l
                                             or l.startswith("\u2022")]})
    dialog.close()
    QTimer.singleShot(500, next_case)

QTimer.singleShot(2000, next_case)
QTimer.singleShot(400000, save_and_quit)
'''


@pytest.fixture(scope="module")
def qgis_run(tmp_path_factory):
    if not qgis_window.available():
        pytest.skip("needs Xvfb and the QGIS application")
    velocity = SAMPLE_DATA / "velocity"
    cases = [
        ["serac:segmentation_glacier_outlines",
         {"INPUT": str(SAMPLE_DATA / "segmentation" / "everest_landsat_rgb_heldout.tif"), "BACKEND": 1,
          "SIMPLIFY_M": 15.0}, ["OUTPUT_PROBABILITY", "OUTPUT_OUTLINES"]],
        ["serac:glacier_velocity",
         {"REFERENCE": str(SAMPLE_DATA / "everest_landsat" / "LE71400412000304SGS00_B4.tif"),
          "SECONDARY": str(velocity / "everest_B4_SYNTHETIC_flow_20001115.tif"), "SEARCH": 8, "MAX_CHIP": 32,
          "SPACING": 24, "BACKEND": 1}, ["OUTPUT", "ERROR", "ARROWS"]],
    ]
    work = tmp_path_factory.mktemp("qgis_window")
    proc = qgis_window.run_in_qgis(INSIDE, work, env={"SERAC_CASES": json.dumps(cases)}, timeout=480)
    report = work / "report.json"
    assert report.exists(), f"QGIS ended ({proc.returncode}) without a report:\n{proc.stderr[-4000:]}"
    return json.loads(report.read_text())


def test_dialogs_finish_and_load_every_output_they_wrote(qgis_run):
    assert "error" not in qgis_run, qgis_run.get("error")
    runs = {r["alg"]: r for r in qgis_run["runs"]}
    assert set(runs) == {"serac:segmentation_glacier_outlines", "serac:glacier_velocity"}
    for run in runs.values():
        assert run["finished"] and run["not_generated"] == [], run
    layers = qgis_run["layers"]
    names = {layer["name"] for layer in layers}
    assert {"Glacier outlines (deep learning)", "Per-point velocity error (m/yr, 1 sigma)"} <= names
    assert all(layer["valid"] for layer in layers), layers
    assert all(layer["exists"] for layer in layers if layer["provider"] != "memory"), layers


def test_rasterio_runs_on_its_own_gdal_inside_qgis(qgis_run):
    from serac.core.native_libs import bundles_libraries

    if not bundles_libraries("rasterio"):
        pytest.skip("rasterio is built against the system's GDAL here")
    import rasterio

    assert qgis_run["rasterio_gdal"] == rasterio.__gdal_version__  # the same as in a plain Python
