"""Fixtures for tests that need QGIS (pytest-qgis provides qgis_app, qgis_iface, qgis_processing)."""

import os
import shutil
import site
import subprocess
import sys

import pytest

from tests.conftest import PLUGIN_PATH, ROOT


_PROVIDERS = []  # strong references, as a plugin keeps self.provider (else Python may collect it)


@pytest.fixture
def serac_provider(qgis_app, qgis_processing):
    """The Serac provider registered in the running QgsApplication (as QGIS does at start-up).

    Function-scoped: a test that loads and unloads the plugin removes the provider, and the
    next test that needs it gets a fresh one.
    """
    from qgis.core import QgsApplication

    from serac.processing_provider.provider import SeracProvider

    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("serac")
    if provider is None:
        provider = SeracProvider()
        assert registry.addProvider(provider)
        _PROVIDERS.append(provider)
    return provider


def _qgis_process_binary():
    for name in ("qgis_process.bin", "qgis_process"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def qgis_process(tmp_path_factory):
    """Run the real ``qgis_process`` with Serac enabled, in a throw-away QGIS profile.

    Returns a function ``run(*args) -> CompletedProcess``. The venv's site-packages go on
    PYTHONPATH so QGIS's embedded Python finds rasterio & co. as the plugin would in a
    user's QGIS with the dependencies installed.
    """
    binary = _qgis_process_binary()
    if binary is None:
        pytest.skip("qgis_process is not installed")
    home = tmp_path_factory.mktemp("qgis_home")
    env = dict(os.environ)
    env.update(HOME=str(home), QGIS_PLUGINPATH=str(PLUGIN_PATH), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join([str(PLUGIN_PATH)] + site.getsitepackages()))

    def run(*args, check=True, timeout=600):
        proc = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"qgis_process {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    enabled = run("plugins", "enable", "serac", check=False)
    assert enabled.returncode == 0 or "already enabled" in enabled.stdout + enabled.stderr, enabled.stderr
    return run


@pytest.fixture
def run_alg(serac_provider):
    """``run_alg(alg_id, params)`` -> results, via processing.run with a fresh context/feedback."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    def run(alg_id, params, feedback=None, context=None):
        context = context or QgsProcessingContext()
        context.setProject(QgsProject.instance())
        return processing.run(f"serac:{alg_id}", params, context=context,
                              feedback=feedback or QgsProcessingFeedback())

    return run


__all__ = ["ROOT", "sys"]
