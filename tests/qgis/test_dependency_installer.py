"""The dependency installer (Plugins > Serac > Check dependencies) with real pip runs.

pip installs into a throw-away folder shaped like Serac's folder in a QGIS profile; the
registry's small pure-Python ``text-unidecode`` (installed nowhere here) stands in for the real list,
and a package that does not exist gives a failed run. The full install (the declared
requirements, for the system Python without the test venv, then a new ``qgis_process``
that runs an algorithm) is :func:`test_system_qgis_install_restart_run`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from serac.plugin import dependencies
from serac.plugin.dependencies import Requirement

from tests.conftest import PLUGIN_PATH, ROOT, SAMPLE_DATA

pytestmark = pytest.mark.qgis

SMALL = Requirement("text-unidecode==1.3")
NOT_THERE = Requirement("serac-no-such-package==0.0.1")


def _target(tmp_path):
    return str(tmp_path / "profile" / "python" / dependencies.TARGET_FOLDER / "py{}.{}".format(*sys.version_info[:2]))


def _dialog(tmp_path, requirements):
    from serac.plugin.dependency_dialog import DependencyDialog

    return DependencyDialog(target=_target(tmp_path), requirements=requirements)


def test_declared_list_is_the_requirement_files():
    names = [r.name for r in dependencies.REQUIREMENTS]
    lines = [ln for f in ("requirements.txt", "requirements-ml.txt", "requirements-batch.txt")
             for ln in (ROOT / f).read_text().splitlines()]
    for line in lines:
        if line.strip() and not line.startswith("#"):
            assert line.split("=")[0].split(">")[0].split("<")[0].strip() in names
    assert "onnx" in names and "geopandas" in names and "rasterio" in names
    assert {r.name for r in dependencies.REQUIREMENTS if not r.required} == {"torch", "onnx", "dask", "distributed",
                                                                            "dask-jobqueue"}


def test_interpreter_is_this_python():
    exe = dependencies.python_executable()
    assert exe is not None
    out = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2], sys.base_prefix)"],
                         capture_output=True, text=True).stdout
    assert out.strip() == f"{tuple(sys.version_info[:2])} {sys.base_prefix}"


def test_constraints_pin_the_system_numpy(tmp_path):
    import numpy

    target = _target(tmp_path)
    path = dependencies.write_constraints(str(tmp_path / "c.txt"), target)
    lines = Path(path).read_text().splitlines()
    assert f"numpy=={numpy.__version__}" in lines
    assert "affine>=2.3,<3" in lines  # the declared versions constrain dependencies too


def test_install_small_package_then_remove(qgis_app, tmp_path):
    if SMALL.installed:
        pytest.skip(f"{SMALL.name} is already installed here: the installer would have nothing to do")
    dialog = _dialog(tmp_path, (SMALL,))
    assert dialog.install_button.isEnabled()
    cmd = dialog.command()
    assert "--target" in cmd and _target(tmp_path) in cmd and "--user" not in cmd
    dialog.install()
    dialog.wait()
    log = dialog.log.toPlainText()
    assert dialog.exit_code == 0, log
    assert "Successfully installed text-unidecode-1.3" in log and "exit status 0" in log
    assert dialog.import_results == {"text_unidecode": "ok"}, log  # the module has no __version__
    assert (Path(_target(tmp_path)) / "text_unidecode" / "__init__.py").is_file()
    assert "Restart QGIS" in dialog.summary.text()
    assert sys.path[-1] == _target(tmp_path)  # activated at the end: never before QGIS's packages
    import text_unidecode

    assert text_unidecode.__file__.startswith(_target(tmp_path))
    assert not dialog.install_button.isEnabled()  # nothing missing any more
    assert dialog.remove(confirm=False)
    assert not Path(_target(tmp_path)).exists() and _target(tmp_path) not in sys.path
    sys.modules.pop("text_unidecode", None)


def test_failed_install_keeps_the_log(qgis_app, tmp_path):
    dialog = _dialog(tmp_path, (NOT_THERE,))
    dialog.install()
    dialog.wait()
    log = dialog.log.toPlainText()
    assert dialog.exit_code not in (0, None)
    assert "ERROR:" in log and "serac-no-such-package" in log.split("$", 1)[1].split("\n", 1)[1]  # pip's own words
    assert f"exit status {dialog.exit_code}" in log
    assert "FAILED" in dialog.summary.text()
    dialog.show_state()  # a refresh keeps the failed run's log visible
    assert dialog.log.toPlainText() == log
    assert not any(Path(_target(tmp_path)).iterdir())


def test_remove_refuses_other_folders(tmp_path):
    with pytest.raises(ValueError):
        dependencies.remove_installed(str(tmp_path))


SYSTEM_INSTALL = r"""
import os, sys
assert not any(".venv" in p for p in sys.path), sys.path
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
sys.path.insert(0, os.environ["SERAC_PLUGINPATH"])
from serac.plugin.dependency_dialog import DependencyDialog
dialog = DependencyDialog(target=os.environ["SERAC_TARGET"])
dialog.install()
dialog.wait(1800000)
print(dialog.log.toPlainText())
print("EXIT", dialog.exit_code)
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs the system Python with QGIS")
def test_system_qgis_install_restart_run(tmp_path):
    """System Python (no venv): install the declared requirements from the dialog, restart, run."""
    if subprocess.run(["/usr/bin/python3", "-c", "import rasterio"], capture_output=True).returncode == 0:
        pytest.skip("the system Python already has rasterio: nothing for the installer to do")
    home = tmp_path / "home"
    profile = home / ".local" / "share" / "QGIS" / "QGIS3" / "profiles" / "default"
    target = profile / "python" / dependencies.TARGET_FOLDER / "py{}.{}".format(*sys.version_info[:2])
    env = {k: v for k, v in os.environ.items()  # the default profile under HOME, no venv
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "QGIS_CUSTOM_CONFIG_PATH")}
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen", SERAC_PLUGINPATH=str(PLUGIN_PATH),
               SERAC_TARGET=str(target))
    proc = subprocess.run(["/usr/bin/python3", "-c", SYSTEM_INSTALL], env=env, capture_output=True, text=True,
                          timeout=1800)
    assert "EXIT 0" in proc.stdout, proc.stdout[-5000:] + proc.stderr[-3000:]
    assert "rasterio: ok" in proc.stdout and "FAILED" not in proc.stdout, proc.stdout[-3000:]
    assert not (target / "numpy").exists()  # the system's numpy is used, not a copy
    import numpy  # the test venv sees the system's numpy

    pruned = next(ln for ln in proc.stdout.splitlines() if "already has at the same version" in ln)
    assert f"numpy {numpy.__version__}" in pruned, pruned
    # restart: a new qgis_process with that profile, no venv on PYTHONPATH
    binary = "/usr/bin/qgis_process.bin" if os.path.exists("/usr/bin/qgis_process.bin") else "qgis_process"
    env["QGIS_PLUGINPATH"] = str(PLUGIN_PATH)
    subprocess.run([binary, "plugins", "enable", "serac"], env=env, capture_output=True, timeout=600)
    b4 = SAMPLE_DATA / "everest_landsat" / "LE71400412000304SGS00_B4.tif"
    outlines = SAMPLE_DATA / "everest_landsat" / "15_rgi60_glacier_outlines.gpkg"
    out = tmp_path / "mask.tif"
    run = subprocess.run([binary, "--json", "run", "serac:rasterize_outlines", "--", f"INPUT={b4}",
                          f"OUTLINES={outlines}", f"OUTPUT={out}"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(run.stdout[run.stdout.index("{"):])["results"]
    assert out.exists() and 0.3 < results["GLACIER_FRACTION"] < 0.8
