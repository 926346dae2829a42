"""Typed errors raised by the Serac core.

Every error names the problem and, where one exists, the fix. The Processing
layer turns any :class:`SeracError` into a ``QgsProcessingException`` with the
same text, so the wording here is what the user reads.
"""


#: Where the plugin's dependency check lives in QGIS (a top-level "Serac" menu), for messages.
DEPENDENCY_MENU = "Serac > Check dependencies…"


class SeracError(Exception):
    """Base class of every error the core raises on purpose."""

    def __init__(self, problem, fix=None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem} Fix: {fix}")


class InputError(SeracError):
    """An input is unusable as given (wrong value, unit, band count, ...)."""


class CRSError(InputError):
    """A coordinate reference system is missing or unsuitable."""


class NoOverlapError(InputError):
    """Two inputs do not overlap on the ground."""


class AllNoDataError(InputError):
    """An input (or the part of it that matters) holds no valid pixel."""


class BandCountError(InputError):
    """A raster has a different number of bands than required."""


class UnreadableRasterError(InputError):
    """A raster file exists but GDAL cannot read all of it (truncated or corrupt)."""


class OutputError(SeracError):
    """An output cannot be written where the user asked (read-only folder, disk full, ...)."""


class ModelError(SeracError):
    """A model file is corrupt, unsafe, or does not match its input."""


class DependencyMissing(SeracError):
    """An optional Python package needed for this operation is not installed."""

    def __init__(self, package, purpose, pip_name=None):
        self.package = package
        self.pip_name = pip_name or package
        super().__init__(
            f"The Python package '{package}' is needed {purpose} but is not installed.",
            f"install it into QGIS's Python ({DEPENDENCY_MENU} in the QGIS menu bar, "
            f"or 'python -m pip install {self.pip_name}').",
        )


class Cancelled(SeracError):
    """The user cancelled the run; nothing was written."""

    def __init__(self):
        super().__init__("The run was cancelled; no output was written.")


class InvalidSetting(InputError, ValueError):
    """A setting is outside its range or not one of its choices (also a ValueError, for callers that catch it)."""


class SeracWarning(UserWarning):
    """Something was assumed that the user should know about (see :mod:`serac.core.progress`).

    The core issues it with :func:`serac.core.progress.warn`; scripts see it on stderr
    (Python's ``warnings``), the Processing layer shows it in the log as a warning.
    """
