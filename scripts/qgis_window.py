"""Run Python code inside the real QGIS application, with Serac enabled, on a private Xvfb display.

The one launcher of the screenshot script and of the tests of the real application
(``tests/qgis/test_real_qgis_window.py``): a throw-away profile (``HOME`` in a temporary folder),
Serac linked from this checkout into a plugin folder and enabled with ``qgis_process``, the ``qgis``
binary started with ``--code``, and this Python's packages on its path. The code reads
``SERAC_WORK`` (the temporary folder) and whatever ``env`` adds, and must quit QGIS itself
(``iface.actionExit().trigger()``).
"""

import contextlib
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # scripts/ (also when a test loads this file)
from _checkout import ROOT, link_plugin  # noqa: E402,F401 (ROOT: for the screenshot script)


def available():
    """True if Xvfb, the QGIS application and qgis_process are installed."""
    return bool(shutil.which("Xvfb") and shutil.which("qgis")
                and (shutil.which("qgis_process.bin") or shutil.which("qgis_process")))


@contextlib.contextmanager
def virtual_display():
    """An Xvfb display (1600 x 1000 px) for the block: yields its name (":N"); stopped afterwards.

    Xvfb picks a free display itself and writes its number when it is ready: no fixed number that a
    stale lock file or another run could hold, no guessed start-up delay.
    """
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_fd,))
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()  # empty if Xvfb exits without starting
        if not number:
            raise RuntimeError(f"Xvfb did not start (exit status {xvfb.wait(timeout=30)})")
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=30)


def run_in_qgis(code, work, env=None, timeout=330):
    """Run ``code`` in QGIS with ``work`` (a folder, kept) as its profile's home; returns the CompletedProcess."""
    work = Path(work)
    pluginpath = link_plugin(work / "plugins")
    script = work / "inside_qgis.py"
    script.write_text(code)
    full_env = dict(os.environ, HOME=str(work / "home"), QGIS_PLUGINPATH=str(pluginpath), SERAC_WORK=str(work),
                    PYTHONPATH=os.pathsep.join([str(pluginpath)] + site.getsitepackages()), PYTHONFAULTHANDLER="1",
                    **(env or {}))
    full_env.pop("QT_QPA_PLATFORM", None)
    qgis_process = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    subprocess.run([qgis_process, "plugins", "enable", "serac"], env=dict(full_env, QT_QPA_PLATFORM="offscreen"),
                   capture_output=True, timeout=120)
    with virtual_display() as display:
        cmd = ["qgis", "--nologo", "--noversioncheck", "--code", str(script)]
        proc = subprocess.run(cmd, env=dict(full_env, DISPLAY=display), capture_output=True, text=True,
                              timeout=timeout)
    return proc
