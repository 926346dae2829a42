"""A QGIS without Serac's Python dependencies still loads the plugin and lists every algorithm.

Runs in a subprocess where rasterio, scipy, onnxruntime and torch cannot be imported
(their sys.modules entries are None), as in a fresh QGIS install before the user
accepted the pip install.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PLUGIN_PATH

pytestmark = pytest.mark.qgis

SCRIPT = r"""
import importlib.util, json, sys
BLOCKED = ("rasterio", "scipy", "onnxruntime", "torch", "onnx")
for name in BLOCKED:
    sys.modules[name] = None  # 'import rasterio' now raises ImportError
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in BLOCKED else _find_spec(name, *a)
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import serac
from serac.processing_provider.provider import SeracProvider, discover_algorithm_classes
provider = SeracProvider()
QgsApplication.processingRegistry().addProvider(provider)
algs = provider.algorithms()
from serac.processing_provider.base_algorithm import SeracAlgorithm
out = {"ids": sorted(a.name() for a in algs if isinstance(a, SeracAlgorithm)),
       "models": sorted(a.name() for a in algs if not isinstance(a, SeracAlgorithm)),
       "can_execute": {a.name(): a.canExecute() for a in algs if isinstance(a, SeracAlgorithm)}}
print("RESULT" + json.dumps(out))
"""


def test_plugin_loads_and_explains_missing_packages(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_PATH), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line, proc.stderr[-3000:]
    result = json.loads(line[len("RESULT"):])
    from serac.processing_provider.provider import discover_algorithm_classes

    expected = sorted(c.ALG_ID for c in discover_algorithm_classes())
    assert result["ids"] == expected, "an algorithm module imports a dependency at module level"
    assert result["models"], "the example models should load without the Python dependencies too"
    for alg_id, (ok, message) in result["can_execute"].items():
        assert not ok, alg_id
        assert "rasterio" in message and "pip install" in message, message
        assert "Serac > Check dependencies" in message and "Plugins >" not in message, message  # a top-level menu
