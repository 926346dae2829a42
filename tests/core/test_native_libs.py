"""Wheels with their own GDAL/GEOS keep using them when the system's copies sit in the global symbol scope.

The QGIS application and ``qgis_process`` link the system's GDAL and GEOS into the global scope;
a plain Python does the same here with ``ctypes.CDLL(..., RTLD_GLOBAL)``, so the test needs no QGIS.
Without :func:`serac.core.native_libs.isolate_bundled_libraries`, rasterio's calls went to the
system's GDAL and shapely crashed (segmentation fault) on a polygon simplification.
"""

import ctypes.util
import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from serac.core.native_libs import bundles_libraries, isolate_bundled_libraries

PLUGIN_PATH = Path(__file__).resolve().parents[2] / "build" / "pluginpath"

pytestmark = pytest.mark.skipif(not (sys.platform.startswith("linux") and hasattr(os, "RTLD_DEEPBIND")),
                                reason="symbol interposition of this kind is a Linux (glibc) matter")

SCRIPT = r"""
import ctypes, ctypes.util, json, os, sys
for name in ("gdal", "geos_c"):  # the system's libraries in the global scope, as QGIS has them
    ctypes.CDLL(ctypes.util.find_library(name), mode=os.RTLD_NOW | os.RTLD_GLOBAL)
if sys.argv[1] == "isolated":
    from serac.core.native_libs import isolate_bundled_libraries
    isolate_bundled_libraries()
import rasterio, rasterio.warp
from rasterio.crs import CRS
from shapely.geometry import Polygon, mapping
ring = mapping(Polygon([(0, 0), (10, 0), (10, 10), (5, 11), (0, 10)]).simplify(2.0, preserve_topology=True))
x, y = rasterio.warp.transform(CRS.from_epsg(4326), CRS.from_epsg(32645), [86.9], [28.0])
print(json.dumps({"gdal": rasterio.__gdal_version__, "vertices": len(ring["coordinates"][0]), "x": x[0], "y": y[0]}))
"""


def bundled_version(package, library):
    """Version of ``library`` in a wheel's ``<package>.libs`` folder, from the file name (e.g. 3.10.3)."""
    spec_dir = os.path.dirname(os.path.dirname(__import__(package).__file__))
    names = glob.glob(os.path.join(spec_dir, f"{package}.libs", f"lib{library}-*.so.*"))
    return re.search(r"(\d+\.\d+\.\d+)$", names[0]).group(1) if names else None


def run(mode):
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_PATH), PYTHONFAULTHANDLER="1")
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def wheels():
    if not (bundles_libraries("rasterio") and bundles_libraries("shapely")):
        pytest.skip("rasterio and shapely are not wheels with their own libraries here")
    if not (ctypes.util.find_library("gdal") and ctypes.util.find_library("geos_c")):
        pytest.skip("no system GDAL/GEOS to put in the global scope")
    return bundled_version("rasterio", "gdal")


def test_isolated_wheels_use_their_own_gdal_and_geos(wheels):
    proc = run("isolated")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["gdal"] == wheels  # rasterio's own GDAL, not the system's
    assert out["vertices"] == 5  # the apex 1 m off the top edge goes with a 2 m tolerance (4 corners + closing)
    from pyproj import Transformer  # an independent PROJ (the system's here) for the same point

    x, y = Transformer.from_crs(4326, 32645, always_xy=True).transform(86.9, 28.0)
    assert out["x"] == pytest.approx(x, abs=0.01) and out["y"] == pytest.approx(y, abs=0.01)


def test_without_isolation_the_system_libraries_take_over(wheels):
    """The failure the isolation prevents, shown on this machine (so that the test above proves something)."""
    proc = run("plain")
    if proc.returncode != 0:  # shapely crashed (segmentation fault: killed by a signal)
        assert proc.returncode < 0 or proc.returncode == 139, proc.stderr
        return
    gdal = json.loads(proc.stdout)["gdal"]
    if gdal == wheels:
        pytest.skip(f"the system's GDAL is the wheel's version ({gdal}): nothing to tell apart here")
    assert gdal != wheels


def test_off_linux_or_twice_it_changes_nothing(monkeypatch):
    import serac.core.native_libs as native

    before = list(sys.meta_path)
    monkeypatch.setattr(native, "_supported", lambda: False)
    assert isolate_bundled_libraries() == [] and sys.meta_path == before


def test_a_plugin_reload_keeps_one_finder_and_no_false_warning(wheels):
    """After a reload of the module (Plugin Reloader), the packages loaded through the first finder are
    not reported as imported too early, and there is still one finder."""
    code = ("import importlib, sys, rasterio\n"  # rasterio imported before: reported
            "import serac.core.native_libs as n\n"
            "first = n.isolate_bundled_libraries()\n"
            "import shapely\n"
            "importlib.reload(n)\n"
            "again = n.isolate_bundled_libraries()\n"
            "print(first, again, sum(getattr(f, 'serac_native_libs', False) for f in sys.meta_path))")
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_PATH))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["['rasterio']", "['rasterio']", "1"]
