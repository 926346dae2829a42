"""Wheels that carry their own GDAL, GEOS and PROJ use their own copies, also inside QGIS.

On Linux the QGIS application and ``qgis_process`` link GDAL, GEOS and PROJ into the process's
global symbol scope. The wheels of rasterio, pyogrio and shapely bundle their own copies (files
renamed, symbol names unchanged). Loaded the usual way, a wheel's extension module binds every
function that both copies have to QGIS's, and only the others to its own: two versions of one
library mixed in one call chain. Measured on Debian 12 (QGIS 3.22 with GDAL 3.6.2 and GEOS 3.11.1):
rasterio 1.4.4 reported GDAL 3.6.2 instead of its own 3.10.3, and simplifying an outline with
shapely 2.1.2 crashed QGIS and ``qgis_process`` (segmentation fault).

:func:`isolate_bundled_libraries` makes every extension module of those packages load with
``RTLD_DEEPBIND``, so that it resolves symbols in its own libraries first. The plugin calls it
when QGIS loads it, before anything imports these packages. Packages built against the
system's libraries (Debian's, conda's) carry no bundle and are loaded as they are. It does
nothing off Linux, where a library's symbols are not shared this way.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from typing import List, Tuple

#: packages whose wheels bundle libraries that QGIS also loads (GDAL, GEOS, PROJ and their dependencies)
PACKAGES: Tuple[str, ...] = ("rasterio", "pyogrio", "shapely", "fiona", "pyproj")

_LOCK = threading.RLock()  # re-entrant: a module initialised in create_module may import another


def _supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "RTLD_DEEPBIND")


def bundles_libraries(package: str) -> bool:
    """True if ``package`` is installed from a wheel with its own libraries (a ``<package>.libs`` folder)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    folder = os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))
    return os.path.isdir(os.path.join(folder, f"{package}.libs"))


class _DeepBindLoader(importlib.machinery.ExtensionFileLoader):
    """Loads an extension module with ``RTLD_DEEPBIND`` added to the interpreter's dlopen flags."""

    def create_module(self, spec):
        with _LOCK:
            flags = sys.getdlopenflags()
            sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
            try:
                return super().create_module(spec)
            finally:
                sys.setdlopenflags(flags)


class _DeepBindFinder(importlib.abc.MetaPathFinder):
    """Finds the extension modules of :attr:`packages` and hands them to :class:`_DeepBindLoader`."""

    serac_native_libs = True

    def __init__(self, packages):
        self.packages = frozenset(packages)
        self.early = set()  # packages already imported (the usual way) when they were added

    def find_spec(self, fullname, path, target=None):
        if fullname.partition(".")[0] not in self.packages:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or type(spec.loader) is not importlib.machinery.ExtensionFileLoader:
            return None  # pure Python: the usual finders load it
        spec.loader = _DeepBindLoader(spec.loader.name, spec.loader.path)
        return spec


def isolate_bundled_libraries(packages=PACKAGES) -> List[str]:
    """Load the extension modules of every package in ``packages`` that bundles libraries with ``RTLD_DEEPBIND``.

    Idempotent (a plugin reload calls it again). Returns the packages that bundle libraries and
    were imported before the first call (by another plugin, say): those stay mixed with QGIS's
    libraries until QGIS restarts.
    """
    if not _supported():
        return []
    bundled = [p for p in packages if bundles_libraries(p)]
    # by a marker, not the class: a plugin reload imports this module, and its classes, anew
    finder = next((f for f in sys.meta_path if getattr(f, "serac_native_libs", False)), None)
    if finder is None:
        finder = _DeepBindFinder(())
        sys.meta_path.insert(0, finder)
    new = [p for p in bundled if p not in finder.packages]
    finder.early.update(p for p in new if p in sys.modules)
    finder.packages = finder.packages | frozenset(new)
    return sorted(finder.early)
