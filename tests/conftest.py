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

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PATH = ROOT / "build" / "pluginpath"
SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE_DATA = ROOT / "resources" / "sample_data"


def _link_plugin():
    PLUGIN_PATH.mkdir(parents=True, exist_ok=True)
    link = PLUGIN_PATH / "serac"
    if not (link.is_symlink() and link.resolve() == ROOT):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(ROOT, target_is_directory=True)
    if str(PLUGIN_PATH) not in sys.path:
        sys.path.insert(0, str(PLUGIN_PATH))
    os.environ["QGIS_PLUGINPATH"] = str(PLUGIN_PATH)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


_link_plugin()


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` (real test data); tests needing it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present beside the checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_data():
    """Small real data bundled with the plugin (resources/sample_data)."""
    return SAMPLE_DATA


def cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


requires_gpu = pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU (none here)")
