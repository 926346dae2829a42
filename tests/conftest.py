"""Test set-up shared by core and QGIS tests.

The repository root is the plugin folder. Tests import it as the package
``serac`` through ``build/pluginpath/serac``, a link to the checkout; the same
folder is given to QGIS as ``QGIS_PLUGINPATH`` so ``qgis_process`` and a real
QgsApplication find the plugin without installing it.

Why a link and not ``pip install -e .`` (pyproject.toml supports both): QGIS finds a
plugin only as a folder named after it inside a plugin path, and a checkout's folder
may have any name; an editable install adds an import hook to one venv's
site-packages, which QGIS's plugin loader does not scan, and would tie every checkout
sharing that venv to one of them. The link serves Python and QGIS alike.
"""

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PATH = ROOT / "build" / "pluginpath"
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE_DATA = ROOT / "resources" / "sample_data"


def _link_plugin():
    # models/_entry.py is THE set-up of every entry point outside QGIS; loaded from its file, since the
    # package serac is what it makes importable
    spec = importlib.util.spec_from_file_location("_serac_entry", ROOT / "models" / "_entry.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    entry.ensure_serac_importable(ROOT)
    os.environ["QGIS_PLUGINPATH"] = str(PLUGIN_PATH)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


_link_plugin()


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` (real test data). Absent: the test fails on CI (CI=true), where a missing data
    folder must not turn real-data tests into silent skips, and skips on a developer's machine."""
    if not SHARED_DATA.is_dir():
        message = f"{SHARED_DATA} (../shared/data, the real test data) is not present beside the checkout"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(message + "; on CI it must be provided.", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_data():
    """Small real data bundled with the plugin (resources/sample_data)."""
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def glacier_thinning(tmp_path_factory):
    """The bundled 1990 Longyearbyen DEM and a SYNTHETIC later DEM: -6 m inside the 18 outlines, plus correlated
    noise of 0.5 m everywhere. Keys: reference, dem, outlines (paths), inside (bool array on the DEM grid)."""
    import numpy as np
    from scipy.ndimage import gaussian_filter

    from serac.core.masks import glacier_mask
    from serac.core.raster_io import read_raster, write_raster
    from serac.core.vector_io import read_geometries

    dem_path = SAMPLE_DATA / "dem" / "longyearbyen_dem_1990.tif"
    outlines = SAMPLE_DATA / "dem" / "longyearbyen_glacier_outlines_1990.gpkg"
    dem = read_raster(dem_path)
    inside = glacier_mask(read_geometries(outlines, dem.grid.crs), dem.grid) == 1
    noise = gaussian_filter(np.random.default_rng(3).normal(0, 1, inside.shape), 3)
    path = tmp_path_factory.mktemp("glacier_thinning") / "dem_later.tif"
    write_raster(path, (dem.band(1) - 6.0 * inside + 0.5 * noise / noise.std()).astype(np.float32)[None], dem.grid)
    return {"reference": str(dem_path), "dem": str(path), "outlines": str(outlines), "inside": inside}


def cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


requires_gpu = pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU (none here)")


@pytest.fixture
def readonly_dir(tmp_path):
    """An empty folder no one can write to, not even root: a read-only tmpfs mount.

    (As root a chmod-ed folder stays writable.) Skips where mounting is not allowed.
    """
    import shutil
    import subprocess

    folder = tmp_path / "readonly"
    folder.mkdir()
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("no 'mount' command to make a read-only folder")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only folder here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run([shutil.which("umount") or "umount", str(folder)], capture_output=True, check=False)
