"""Screenshot of the "Outline review" dock in a real QGIS window (on a private Xvfb display).

Usage: ``.venv/bin/python scripts/screenshot_review.py docs/images/review_dock.png``

Starts Xvfb and the real ``qgis`` binary on it with Serac enabled in a
throw-away profile, loads the Everest Landsat band and its RGI outlines (copied,
with review fields added), opens the dock, records a few decisions, grabs the
main window and quits.
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

out = os.environ["SERAC_SHOT"]
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

QTimer.singleShot(3000, guarded(step1))
def watchdog():
    QgsProject.instance().clear()
    iface.actionExit().trigger()

QTimer.singleShot(90000, watchdog)
'''


def main(out_png):
    out_png = Path(out_png).resolve()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        pluginpath = work / "plugins"
        pluginpath.mkdir()
        (pluginpath / "serac").symlink_to(ROOT, target_is_directory=True)
        code = work / "shot.py"
        code.write_text(INSIDE_QGIS)
        env = dict(os.environ, HOME=str(work / "home"), QGIS_PLUGINPATH=str(pluginpath),
                   PYTHONPATH=os.pathsep.join([str(pluginpath)] + site.getsitepackages()),
                   SERAC_SHOT=str(out_png), SERAC_WORK=str(work), SERAC_B4=str(SAMPLE / "LE71400412000304SGS00_B4.tif"),
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
    print(f"Screenshot written to {out_png}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images/review_dock.png")
