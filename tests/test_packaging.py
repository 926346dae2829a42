"""pyproject.toml: the repository root installs as the package ``serac``; dependencies declared once."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


@pytest.fixture(scope="module")
def pyproject():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11+")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_matches_metadata(pyproject):
    version = re.search(r"^version=(.+)$", (ROOT / "metadata.txt").read_text(), re.M).group(1).strip()
    assert pyproject["project"]["version"] == version


def test_every_package_is_listed(pyproject):
    found = {"serac"}
    for folder, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(folder, ROOT)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("tests", "build", "dist", "__pycache__")]
        if rel != "." and "__init__.py" in files:
            found.add("serac." + rel.replace(os.sep, "."))
    assert set(pyproject["tool"]["setuptools"]["packages"]) == found


def test_dependencies_come_from_the_requirement_files(pyproject):
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"]["file"] == ["requirements.txt"]
    assert dynamic["optional-dependencies"]["ml"]["file"] == ["requirements-ml.txt"]
    assert dynamic["optional-dependencies"]["batch"]["file"] == ["requirements-batch.txt"]
    assert dynamic["optional-dependencies"]["dev"]["file"] == ["requirements-dev.txt"]
    assert pyproject["project"]["scripts"]["serac"] == "serac.cli:main"
    for name in ("requirements.txt", "requirements-ml.txt", "requirements-batch.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            assert not line.startswith("-"), f"{name}: setuptools cannot read option lines ({line})"



def test_every_declared_core_requirement_maps_to_an_import_name():
    """The installer and the algorithms' dependency checks find a core requirement by its import name: each one
    declared in requirements.txt must resolve to a module that is importable where the core runs (here)."""
    import importlib.util

    from serac.plugin.dependencies import REQUIREMENTS

    core = [r for r in REQUIREMENTS if r.required]
    assert {"numpy", "scipy", "rasterio", "onnxruntime"} <= {r.module for r in core}
    for requirement in core:
        assert importlib.util.find_spec(requirement.module) is not None, (requirement.name, requirement.module)

@pytest.mark.slow
def test_pip_install_gives_importable_core(tmp_path):
    """``pip install .`` (here into a folder, without dependencies) -> ``import serac.core`` without QGIS."""
    try:
        import setuptools  # noqa: F401
        isolation = ["--no-build-isolation"]  # use it (no download)
    except ImportError:  # Python 3.12+ venvs have none: pip fetches it
        isolation = []
    made = [p for p in (ROOT / "serac.egg-info", ROOT / "build" / "lib", ROOT / "build" / "bdist.linux-x86_64")
            if not p.exists()]
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", *isolation, "--quiet",
                               "--target", str(tmp_path / "site"), str(ROOT)], capture_output=True, text=True,
                              timeout=600, cwd=tmp_path)
    finally:  # setuptools builds in the checkout: leave it as it was
        for path in made:
            shutil.rmtree(path, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    site = tmp_path / "site" / "serac"
    assert (site / "core" / "raster_io.py").is_file() and (site / "requirements.txt").is_file()
    assert (site / "resources" / "styles").is_dir() and not (site / "tests").exists()
    code = ("import sys; sys.modules['qgis'] = None\nimport serac.core.raster_io, serac.core.errors\n"
            "print(serac.core.__file__)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith(str(tmp_path / "site"))
