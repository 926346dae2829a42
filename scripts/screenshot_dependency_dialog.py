"""Screenshots of the dependency dialog (Plugins > Serac > Check dependencies) after real pip runs.

Usage: ``python3 scripts/screenshot_dependency_dialog.py docs/images`` (the system Python,
no venv: then the declared packages are really missing, as in a fresh QGIS).

Starts a private Xvfb display, opens the dialog in a real (non-offscreen) Qt window with a
throw-away Serac package folder, and grabs it
* after a failed run (a requirement that does not exist: ``dependencies_failed.png``);
* after installing the declared requirements (``dependencies_installed.png``).
"""

import os
import subprocess
import sys
import tempfile

from _checkout import ROOT, link_plugin
from qgis_window import virtual_display

INSIDE = r"""
import os, sys
sys.path.insert(0, os.environ["SERAC_PLUGINPATH"])
from qgis.core import QgsApplication
app = QgsApplication([], True)
app.initQgis()
from serac.plugin import dependencies
from serac.plugin.dependency_dialog import DependencyDialog
out, target = os.environ["SERAC_SHOT_DIR"], os.environ["SERAC_TARGET"]

def shot(dialog, name):
    dialog.resize(900, 560)
    dialog.show()
    dialog.log.verticalScrollBar().setValue(dialog.log.verticalScrollBar().maximum())
    for _ in range(20):
        app.processEvents()
    dialog.grab().save(os.path.join(out, name), "PNG")
    dialog.close()

failing = (dependencies.Requirement("serac-no-such-package==0.0.1"),)
d = DependencyDialog(target=target, requirements=failing)
d.install(); d.wait()
shot(d, "dependencies_failed.png")
d = DependencyDialog(target=target)
d.install(); d.wait(1800000)
shot(d, "dependencies_installed.png")
print("EXIT", d.exit_code)
"""


def main(out_dir):
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    plugin_path = link_plugin(ROOT / "build" / "pluginpath")
    with tempfile.TemporaryDirectory() as tmp, virtual_display() as display:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QT_QPA_PLATFORM")}
        env.update(DISPLAY=display, HOME=tmp, SERAC_PLUGINPATH=str(plugin_path), SERAC_SHOT_DIR=out_dir,
                   SERAC_TARGET=os.path.join(tmp, "profile", "python", "serac-packages",
                                             "py{}.{}".format(*sys.version_info[:2])))
        proc = subprocess.run([sys.executable, "-c", INSIDE], env=env, capture_output=True, text=True,
                              timeout=1800)
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        return 0 if "EXIT 0" in proc.stdout else 1

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
