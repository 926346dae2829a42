"""Serac's Python dependencies: what is declared, what is missing, and installing it (with consent).

The packages are declared once, in the plugin folder's ``requirements.txt`` (core),
``requirements-ml.txt`` (torch, onnx: training and the torch backends) and ``requirements-batch.txt``
(dask: batch runs); ``pyproject.toml``
and the Makefile's set-up read the same files.

Installing inside QGIS never touches the packages of the system or of QGIS:

* pip runs with the Python interpreter QGIS embeds (:func:`python_executable`; on Windows
  and macOS ``sys.executable`` is QGIS itself), as ``pip install --target`` into a folder
  Serac owns inside the QGIS profile (:func:`target_dir`, one per Python version);
* a constraints file pins the versions of numpy, scipy, GDAL & co. that QGIS already has
  (:func:`system_pins`), so whatever pip puts into the folder is built for them;
* the folder goes at the END of ``sys.path`` when the plugin loads (:func:`activate`), so a
  package of QGIS or of the system always wins over a copy in Serac's folder;
* only requirements that are not importable at a compatible version are installed, and the
  folder can be removed again (:func:`remove_installed`).

This module imports nothing from QGIS at module level. Run it as a script for the set-up:
``python3 plugin/dependencies.py constraints`` prints the pins of the system's packages.
"""

import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass

PLUGIN_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENT_FILES = (("requirements.txt", True), ("requirements-ml.txt", False),
                     ("requirements-batch.txt", False))
# Compiled packages of the system / QGIS that others are built against: never replaced.
SYSTEM_PINNED = ("numpy", "scipy", "GDAL", "pandas", "shapely", "pyproj", "matplotlib")
MODULE_NAMES = {"gdal": "osgeo", "pillow": "PIL"}  # pip name -> import name, where they differ
PURPOSES = {
    "numpy": "arrays (all algorithms)",
    "scipy": "filters, interpolation, FFT (all algorithms)",
    "affine": "raster geotransforms (rasterio)",
    "rasterio": "raster input/output (all algorithms)",
    "onnxruntime": "running segmentation models on the CPU",
    "shapely": "geometry outside QGIS (outlines, fronts)",
    "pyogrio": "vector files outside QGIS",
    "geopandas": "vector files outside QGIS",
    "torch": "GPU inference, training, torch correlation backend",
    "onnx": "ONNX export and running ONNX models on torch",
}
TARGET_FOLDER = "serac-packages"


@dataclass(frozen=True)
class Requirement:
    """One declared requirement line, e.g. ``rasterio==1.4.4``."""

    line: str  # the pip requirement as declared
    required: bool = True  # False: optional (requirements-ml.txt, requirements-batch.txt)

    @property
    def name(self):
        return re.match(r"[A-Za-z0-9_.\-]+", self.line).group(0)

    @property
    def module(self):
        key = self.name.lower()
        return MODULE_NAMES.get(key, key.replace("-", "_"))

    @property
    def purpose(self):
        return PURPOSES.get(self.name.lower(), "")

    @property
    def specifier(self):
        return self.line[len(self.name):].split(";")[0].strip()

    def installed_version(self):
        """Version of the importable distribution, None if not importable ('' if unknown)."""
        try:
            if importlib.util.find_spec(self.module) is None:
                return None
        except (ImportError, ValueError):
            return None
        try:
            return importlib.metadata.version(self.name)
        except importlib.metadata.PackageNotFoundError:
            return ""

    @property
    def installed(self):
        return self.installed_version() is not None

    def satisfied(self):
        """Importable at a version the declaration allows (unknown versions count as fine)."""
        version = self.installed_version()
        if version is None:
            return False
        return not version or version_matches(version, self.specifier)


def version_matches(version, specifier):
    """True if ``version`` satisfies a PEP 440 ``specifier`` (e.g. '>=2.3,<3')."""
    if not specifier:
        return True
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:
        try:
            from pip._vendor.packaging.specifiers import SpecifierSet
        except ImportError:  # no packaging at all: cannot tell, trust the installed one
            return True
    return SpecifierSet(specifier).contains(version, prereleases=True)


def read_requirements(root=PLUGIN_ROOT):
    """The declared requirements (core, then optional) from the requirement files in ``root``."""
    out = []
    for filename, required in REQUIREMENT_FILES:
        path = os.path.join(root, filename)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            for raw in f:
                line = raw.split(" #")[0].strip()
                if line and not line.startswith(("#", "-")):
                    out.append(Requirement(line, required))
    return tuple(out)


REQUIREMENTS = read_requirements()


def missing(include_optional=False, requirements=None):
    """Requirements not importable at a compatible version (optional ones only if asked)."""
    reqs = REQUIREMENTS if requirements is None else requirements
    return [r for r in reqs if (r.required or include_optional) and not r.satisfied()]


# ---------------------------------------------------------------------------- where
def profile_dir():
    """The active QGIS profile folder (needs a running QgsApplication)."""
    from qgis.core import QgsApplication

    return QgsApplication.qgisSettingsDirPath()


def target_dir(profile=None):
    """Serac's own package folder in the QGIS profile, one per Python version.

    ``<profile>/python/serac-packages/py3.11``: compiled wheels only fit the Python they
    were built for, so a QGIS upgrade to a new Python starts from an empty folder.
    """
    profile = profile if profile is not None else profile_dir()
    return os.path.join(profile, "python", TARGET_FOLDER, "py{}.{}".format(*sys.version_info[:2]))


def activate(target=None):
    """Put Serac's package folder at the end of ``sys.path`` (if it exists); returns it or None.

    Called when the plugin loads, before anything imports rasterio & co. At the end of the
    path, QGIS's and the system's own packages are always found first.
    """
    try:
        target = target or target_dir()
    except ImportError:  # no QGIS (plain Python): nothing to activate
        return None
    if not os.path.isdir(target):
        return None
    if target not in sys.path:
        site.addsitedir(target)  # appends, and runs the folder's .pth files
        importlib.invalidate_caches()
    return target


def remove_installed(target):
    """Delete Serac's package folder (only that folder); True if something was removed."""
    if not target or os.path.basename(os.path.dirname(target)) != TARGET_FOLDER:
        raise ValueError(f"Not a Serac package folder: {target}")
    if not os.path.isdir(target):
        return False
    shutil.rmtree(target)
    if target in sys.path:
        sys.path.remove(target)
    return True


# ---------------------------------------------------------------------------- how
def _reports_same_python(exe):
    """True if ``exe`` is a Python of the same version and installation as this one."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.base_prefix)"
    try:
        out = subprocess.run([exe, "-c", probe], capture_output=True, text=True, timeout=30,
                             env=_clean_env()).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return False
    want = "{}.{}".format(*sys.version_info[:2])
    return len(out) >= 2 and out[0] == want and os.path.realpath(out[1]) == os.path.realpath(sys.base_prefix)


def python_candidates():
    """Interpreters that may be QGIS's Python, most likely first."""
    ver = "{}.{}".format(*sys.version_info[:2])
    exe = sys.executable or ""
    out = []
    if os.path.basename(exe).lower().startswith("python"):
        out.append(exe)
    for prefix in dict.fromkeys((sys.base_exec_prefix, sys.exec_prefix)):
        if os.name == "nt":
            out += [os.path.join(prefix, "python.exe"), os.path.join(prefix, "python3.exe")]
        else:
            out += [os.path.join(prefix, "bin", f"python{ver}"), os.path.join(prefix, "bin", "python3")]
    out += [shutil.which(f"python{ver}"), shutil.which("python3"), shutil.which("python")]
    return [p for p in dict.fromkeys(out) if p and os.path.isfile(p)]


@functools.lru_cache(maxsize=None)
def python_executable():
    """The Python interpreter QGIS embeds (same version and installation), or None; found once per session.

    ``sys.executable`` is the QGIS binary on Windows and macOS and may be a shim elsewhere,
    and the first ``python3`` on ``PATH`` may be another Python entirely: each candidate is
    asked for its version and base prefix, which must be ours.
    """
    for exe in python_candidates():
        if _reports_same_python(exe):
            return exe
    return None


def system_pins(exclude=None):
    """``name==version`` for the system/QGIS packages that are never replaced (see SYSTEM_PINNED).

    ``exclude``: a folder (Serac's own) whose distributions do not count.
    """
    exclude = os.path.realpath(exclude) if exclude else None
    pins = []
    for name in SYSTEM_PINNED:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        location = os.path.realpath(str(dist.locate_file("")))
        if exclude and (location + os.sep).startswith(exclude + os.sep):
            continue
        pins.append(f"{name}=={dist.version}")
    return pins


def write_constraints(path, target, requirements=None):
    """Constraints file for an install into ``target``: the system's pins, then every declared line."""
    reqs = REQUIREMENTS if requirements is None else requirements
    lines = system_pins(exclude=target)
    pinned = {p.split("==")[0].lower() for p in lines}
    lines += [r.line for r in reqs if r.name.lower() not in pinned]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# written by Serac's installer: keep the system's packages, the declared versions\n")
        f.write("\n".join(lines) + "\n")
    return path


def prune_system_duplicates(target):
    """Delete from ``target`` the copies of system packages (SYSTEM_PINNED) at the system's version.

    ``pip install --target`` installs every dependency, even one the system has; the constraints
    make such a copy the system's version, and at the end of ``sys.path`` it is never imported.
    Returns the removed ``name version`` strings.
    """
    system = {p.split("==")[0].lower(): p.split("==")[1] for p in system_pins(exclude=target)}
    root = os.path.realpath(target) + os.sep
    removed = []
    for dist in importlib.metadata.distributions(path=[target]):
        name, version = dist.metadata["Name"], dist.version  # read before the files go
        if not name or system.get(name.lower()) != version:
            continue
        for file in dist.files or ():
            path = os.path.realpath(str(dist.locate_file(file)))
            if path.startswith(root) and os.path.isfile(path):
                os.remove(path)
        removed.append(f"{name} {version}")
    for folder, _, _ in sorted(os.walk(target), key=lambda item: -len(item[0])):  # empty folders, deepest first
        if folder != target and not os.listdir(folder):
            os.rmdir(folder)
    return removed


def pip_command(python, target, requirements, constraints):
    """``pip install --target`` command line (list) for ``requirements`` into Serac's folder."""
    return [python, "-m", "pip", "install", "--target", target, "--upgrade", "--no-input",
            "--disable-pip-version-check", "--constraint", constraints] + [r.line for r in requirements]


def _clean_env():
    """Environment for the child Python: no venv or other folders pushed onto its path."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(key, None)
    return env


def pip_environment():
    """Environment for the pip run (PYTHONPATH cleared so pip sees QGIS's own Python)."""
    env = _clean_env()
    env["PYTHONNOUSERSITE"] = "1"
    return env


def check_imports(python, target, modules):
    """Import ``modules`` in a fresh ``python`` with ``target`` appended to its path.

    Returns {module: "ok <version>" or the error line}: what a restarted QGIS will see.
    """
    code = ("import importlib, site, sys\nsite.addsitedir(sys.argv[1])\n"
            "for m in sys.argv[2:]:\n"
            "    try:\n        mod = importlib.import_module(m)\n"
            "        print(m, 'ok', getattr(mod, '__version__', ''))\n"
            "    except Exception as e:\n"
            "        print(m, 'FAILED', type(e).__name__ + ':', (str(e).splitlines() or [''])[0])\n")
    proc = subprocess.run([python, "-c", code, target] + list(modules), capture_output=True, text=True,
                          timeout=300, env=pip_environment())
    result = {m: "FAILED (no answer: " + (proc.stderr.strip().splitlines() or ["?"])[-1] + ")" for m in modules}
    for line in proc.stdout.splitlines():
        name, _, rest = line.partition(" ")
        if name in result:
            result[name] = rest.strip()
    return result


def cpu_build_available(requirement, constraints=None, timeout=600):
    """True if pip (this interpreter's) would install ``requirement`` without nvidia-* packages.

    On Linux, PyPI's torch wheels are CUDA builds that pull several GB of nvidia-* packages;
    a CPU build comes only from a local wheel or the PyTorch index. Asks pip for a dry run.
    """
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
               "--report", report, requirement] + (["--constraint", constraints] if constraints else [])
        try:
            subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL)
            with open(report, encoding="utf-8") as f:
                names = [item["metadata"]["name"].lower() for item in json.load(f)["install"]]
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            return False
    return not any(n.startswith("nvidia-") for n in names)


def _main(argv):
    """Set-up helpers for the Makefile (run with the venv's or the system's Python)."""
    if argv[:1] == ["constraints"]:  # pins of the system's compiled packages
        print("\n".join(system_pins()))
        return 0
    if argv[:1] == ["ml-requirements"]:  # requirements-ml.txt, torch only where a CPU build exists
        constraints = argv[1] if len(argv) > 1 else None
        for r in REQUIREMENTS:
            if r.required:
                continue
            if r.name.lower() == "torch" and not cpu_build_available(r.line, constraints):
                print(f"{r.name}: no CPU build on this index; not installed (the torch tests skip)",
                      file=sys.stderr)
                continue
            print(r.line)
        return 0
    print("usage: dependencies.py constraints | ml-requirements [CONSTRAINTS]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
