"""Screenshots of Serac in a real QGIS window (on a private Xvfb display) for the user guide.

Usage: ``.venv/bin/python scripts/screenshots.py docs/images``

Starts Xvfb and the real ``qgis`` binary on it with Serac enabled in a
throw-away profile, then
* grabs the dialog of every Serac Processing algorithm (``dialog_<alg id>.png``);
* loads the Everest Landsat band and its RGI outlines (copied, with review fields
  added), opens the "Outline review" dock, records a few decisions and grabs the
  main window (``review_dock.png``);
and quits.
"""

import os
import shutil
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample_data" / "everest_landsat"

INSIDE_QGIS = r'''
import os, shutil
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

out_dir = os.environ["SERAC_SHOT_DIR"]
out = os.path.join(out_dir, "review_dock.png")
work = os.environ["SERAC_WORK"]
gpkg = os.path.join(work, "everest_outlines_review.gpkg")
shutil.copy(os.environ["SERAC_OUTLINES"], gpkg)

import traceback

def guarded(fn):
    def run():
        try:
            fn()
        except Exception:
            with open(os.path.join(work, "error.txt"), "w") as fh:
                fh.write(traceback.format_exc())
            iface.actionExit().trigger()
    return run

def step1():
    iface.mainWindow().resize(1500, 900)
    QgsProject.instance().addMapLayer(QgsRasterLayer(os.environ["SERAC_B4"], "Landsat 7 B4 (2000-10-30)"))
    layer = QgsVectorLayer(gpkg, "RGI 6.0 outlines", "ogr")
    from serac.plugin.review import fields as F
    F.add_review_fields(layer)
    QgsProject.instance().addMapLayer(layer)
    iface.setActiveLayer(layer)
    plugin = plugins["serac"]
    dock = plugin.toggle_review_dock()
    dock.layer_combo.setLayer(layer)
    dock.order_combo.setCurrentIndex(1)  # largest first
    dock.apply_status_style()
    for status in ("accepted", "accepted", "needs_edit", "rejected"):
        dock.decide(status)
    dock.comment.setText("terminus debris cover: check")
    QTimer.singleShot(2000, guarded(step2))

def step2():
    plugins["serac"].review_dock.refresh()  # zoom again after QGIS's own first-layer zoom
    QTimer.singleShot(2000, guarded(step3))

def step3():
    iface.mainWindow().grab().save(out, "PNG")
    QgsProject.instance().clear()  # nothing to save: exit without a prompt
    QTimer.singleShot(300, iface.actionExit().trigger)

import processing
from qgis.core import QgsApplication

DIALOGS = [a.id() for a in QgsApplication.processingRegistry().providerById("serac").algorithms()]

def dialogs():
    if not DIALOGS:
        QTimer.singleShot(500, guarded(step1))
        return
    alg_id = DIALOGS.pop(0)
    dialog = processing.createAlgorithmDialog(alg_id, {})
    dialog.resize(900, 700)
    dialog.show()
    def grab():
        dialog.grab().save(os.path.join(out_dir, "dialog_" + alg_id.split(":")[1].lower().replace(" ", "_") + ".png"), "PNG")
        dialog.close()
        QTimer.singleShot(200, guarded(dialogs))
    QTimer.singleShot(1200, guarded(grab))

QTimer.singleShot(3000, guarded(dialogs))
def watchdog():
    QgsProject.instance().clear()
    iface.actionExit().trigger()

QTimer.singleShot(150000, watchdog)
'''


def main(out_dir):
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    out_png = out_dir / "review_dock.png"
    if out_png.exists():
        out_png.unlink()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        pluginpath = work / "plugins"
        pluginpath.mkdir()
        (pluginpath / "serac").symlink_to(ROOT, target_is_directory=True)
        code = work / "shot.py"
        code.write_text(INSIDE_QGIS)
        env = dict(os.environ, HOME=str(work / "home"), QGIS_PLUGINPATH=str(pluginpath),
                   PYTHONPATH=os.pathsep.join([str(pluginpath)] + site.getsitepackages()),
                   SERAC_SHOT_DIR=str(out_dir), SERAC_WORK=str(work), SERAC_B4=str(SAMPLE / "LE71400412000304SGS00_B4.tif"),
                   SERAC_OUTLINES=str(SAMPLE / "15_rgi60_glacier_outlines.gpkg"))
        env.pop("QT_QPA_PLATFORM", None)
        qgis_process = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
        subprocess.run([qgis_process, "plugins", "enable", "serac"], env=dict(env, QT_QPA_PLATFORM="offscreen"),
                       capture_output=True)
        display = ":%d" % (90 + os.getpid() % 100)
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            cmd = ["qgis", "--nologo", "--noversioncheck", "--code", str(code)]
            proc = subprocess.run(cmd, env=dict(env, DISPLAY=display), capture_output=True, text=True, timeout=240)
        finally:
            xvfb.terminate()
        error = work / "error.txt"
        if not out_png.exists() or error.exists():
            details = error.read_text() if error.exists() else ""
            sys.exit(f"No screenshot was written.\n{details}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    print(f"Screenshots written to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
