"""Screenshots of Serac in a real QGIS window (on a private Xvfb display) for the user guide.

Usage: ``.venv/bin/python scripts/screenshots.py docs/images``

Starts Xvfb and the real ``qgis`` binary on it with Serac enabled in a
throw-away profile, then
* grabs the dialog of every Serac Processing algorithm (``dialog_<alg id>.png``);
* predicts glacier outlines on the bundled Landsat RGB block as the dialog does (outputs loaded
  and styled), opens the "Outline review" dock on the fresh output (no extra step), records a few
  decisions and grabs the main window (``review_dock.png``);
* runs DEM co-registration and glacier velocity the same way and grabs the window with the styled
  dh and speed maps and their legends (``qgis_dh_legend.png``, ``qgis_speed_legend.png``);
* opens the example model "Velocity per glacier" in the modeler (``qgis_modeler_velocity_per_glacier.png``);
and quits.
"""

import sys
import tempfile
from pathlib import Path

from qgis_window import ROOT, run_in_qgis

SAMPLE = ROOT / "resources" / "sample_data"
SHOTS = ("review_dock.png", "qgis_dh_legend.png", "qgis_speed_legend.png", "qgis_modeler_velocity_per_glacier.png")

INSIDE_QGIS = r'''
import os, traceback
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins
import processing

out_dir = os.environ["SERAC_SHOT_DIR"]
work = os.environ["SERAC_WORK"]
sample = os.environ["SERAC_SAMPLE"]
project = QgsProject.instance()

def guarded(fn):
    def run():
        try:
            fn()
        except Exception:
            with open(os.path.join(work, "error.txt"), "w") as fh:
                fh.write(traceback.format_exc())
            project.clear()
            iface.actionExit().trigger()
    return run

def later(fn, ms=2000):
    QTimer.singleShot(ms, guarded(fn))

def shot(name, widget=None):
    (widget or iface.mainWindow()).grab().save(os.path.join(out_dir, name), "PNG")

def run_and_load(alg_id, params):
    # as the dialog does with "Open output file after running": Serac styles the outputs on loading
    return processing.runAndLoadResults(alg_id, params)

def layer_from(path):
    return next(l for l in project.mapLayers().values() if l.source().split("|")[0] == path)

def frame(layer):
    project.layerTreeRoot().findLayer(layer.id()).setExpanded(True)  # show its legend
    project.setCrs(layer.crs())
    iface.mapCanvas().setDestinationCrs(layer.crs())
    iface.mapCanvas().setExtent(layer.extent())
    iface.mapCanvas().refresh()

def hide(layer):
    project.layerTreeRoot().findLayer(layer.id()).setItemVisibilityChecked(False)

# 1. the review dock on a freshly predicted layer (no extra step: the output has every review field)
def review():
    iface.mainWindow().resize(1500, 900)
    rgb = os.path.join(sample, "segmentation", "everest_landsat_rgb_heldout.tif")
    project.addMapLayer(QgsRasterLayer(rgb, "Landsat 7 RGB, Everest (2000-10-30)"))
    res = run_and_load("serac:segmentation_glacier_outlines", {
        "INPUT": rgb, "BACKEND": 1, "MIN_AREA_KM2": 0.05, "SIMPLIFY_M": 15.0,
        "OUTPUT_PROBABILITY": os.path.join(work, "probability.tif"),
        "OUTPUT_OUTLINES": os.path.join(work, "predicted_outlines.gpkg")})
    hide(layer_from(res["OUTPUT_PROBABILITY"]))
    outlines = layer_from(res["OUTPUT_OUTLINES"])
    iface.setActiveLayer(outlines)
    dock = plugins["serac"].toggle_review_dock()
    dock.layer_combo.setLayer(outlines)
    dock.session.go_to(0)
    for status in ("accepted", "accepted", "needs_edit", "rejected"):
        dock.decide(status)
    dock.comment.setText("debris-covered tongue: check the terminus")
    later(review_shot)

def review_shot():
    plugins["serac"].review_dock.refresh()  # zoom again after QGIS's own first-layer zoom
    later(lambda: (shot("review_dock.png"), later(dh, 300)))

# 2. a styled dh map with its legend, right after the run
def dh():
    plugins["serac"].review_dock.hide()
    project.clear()
    dem = os.path.join(sample, "dem")
    res = run_and_load("serac:dem_coregistration", {
        "REFERENCE": os.path.join(dem, "longyearbyen_reference_lzd_aligned.tif"),
        "DEM": os.path.join(dem, "longyearbyen_dem_1990.tif"),
        "OUTLINES": os.path.join(dem, "longyearbyen_glacier_outlines_1990.gpkg"),
        "OUTPUT": os.path.join(work, "aligned.tif"), "DH": os.path.join(work, "dh.tif")})
    hide(layer_from(res["OUTPUT"]))
    frame(layer_from(res["DH"]))
    later(lambda: (shot("qgis_dh_legend.png"), later(speed, 300)))

# 3. a styled speed map with its legend
def speed():
    project.clear()
    ev = os.path.join(sample, "everest_landsat")
    b4 = os.path.join(ev, "LE71400412000304SGS00_B4.tif")
    res = run_and_load("serac:glacier_velocity", {
        "REFERENCE": b4, "SECONDARY": os.path.join(sample, "velocity", "everest_B4_SYNTHETIC_flow_20001115.tif"),
        "OUTLINES": os.path.join(ev, "15_rgi60_glacier_outlines.gpkg"), "SEARCH": 8, "MAX_CHIP": 32,
        "BACKEND": 1, "ARROW_STEP": 4, "OUTPUT": os.path.join(work, "velocity.tif"),
        "ARROWS": os.path.join(work, "arrows.gpkg")})
    speed_layer = layer_from(res["OUTPUT"])
    frame(speed_layer)
    def grab():
        project.layerTreeRoot().findLayer(speed_layer.id()).setExpanded(True)
        iface.layerTreeView().expandAll()
        later(lambda: (shot("qgis_speed_legend.png"), later(modeler, 300)), 800)
    later(grab)

# 4. an example model in the modeler (every step drawn clean)
def modeler():
    from processing.modeler.ModelerDialog import ModelerDialog

    model = QgsApplication.processingRegistry().createAlgorithmById("serac:Velocity per glacier")
    dialog = ModelerDialog.create(model)
    dialog.resize(1400, 850)
    dialog.show()
    def fit():
        from qgis.PyQt.QtCore import Qt
        view = dialog.view() if hasattr(dialog, "view") else None
        if view is not None:
            view.fitInView(view.scene().itemsBoundingRect(), Qt.AspectRatioMode.KeepAspectRatio)
    later(fit, 800)
    def grab():
        shot("qgis_modeler_velocity_per_glacier.png", dialog)
        dialog.setDirty(False) if hasattr(dialog, "setDirty") else None
        dialog.close()
        project.clear()
        later(iface.actionExit().trigger, 300)
    later(grab, 2500)

DIALOGS = [a.id() for a in QgsApplication.processingRegistry().providerById("serac").algorithms()]

def dialogs():
    if not DIALOGS:
        later(review, 500)
        return
    alg_id = DIALOGS.pop(0)
    dialog = processing.createAlgorithmDialog(alg_id, {})
    dialog.resize(900, 700)
    dialog.show()
    def grab():
        shot("dialog_" + alg_id.split(":")[1].lower().replace(" ", "_") + ".png", dialog)
        dialog.close()
        later(dialogs, 200)
    later(grab, 1200)

later(dialogs, 3000)

def watchdog():
    project.clear()
    iface.actionExit().trigger()

QTimer.singleShot(280000, watchdog)
'''


def main(out_dir):
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SHOTS:
        if (out_dir / name).exists():
            (out_dir / name).unlink()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        proc = run_in_qgis(INSIDE_QGIS, work, env=dict(SERAC_SHOT_DIR=str(out_dir), SERAC_SAMPLE=str(SAMPLE)))
        error = work / "error.txt"
        missing = [name for name in SHOTS if not (out_dir / name).exists()]
        if missing or error.exists():
            details = error.read_text() if error.exists() else ""
            sys.exit(f"Screenshots missing: {missing}.\n{details}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    print(f"Screenshots written to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
