"""Progress reporting and cancellation for long core operations.

Core functions take an optional ``feedback`` object. Anything with the methods
of ``QgsProcessingFeedback`` that we use (``setProgress(percent)``,
``isCanceled()``, ``pushInfo(text)``, ``pushWarning(text)``) works, so the
Processing layer passes its feedback straight through while tests and scripts
use :class:`ConsoleFeedback` or nothing at all. The core never imports QGIS.

:class:`Progress` maps a sub-task onto a slice of the 0-100 % bar, so nested
steps report on one bar without knowing where they sit in it.

Warnings: the one way
---------------------
Whatever the core assumed and the user should know ("treated -9999 as nodata",
"only 900 stable pixels", ...) is issued with :func:`warn`, which raises a Python
warning of class :class:`~serac.core.errors.SeracWarning`. Code deep in the core
(the raster reader has no feedback object) can warn the same way as an algorithm.
Scripts and tests see the warnings on stderr / with ``pytest.warns``; a front end wraps
its run in :func:`forward_warnings`, which hands each distinct warning to its feedback's
``pushWarning`` as it happens (the Processing base algorithm does this for every
algorithm, so the warning appears in the dialog's log).
"""

import contextlib
import sys
import warnings

from .errors import Cancelled, SeracWarning


def warn(problem, assumed=None):
    """Issue a :class:`SeracWarning`: ``problem``, then what Serac did about it (``assumed``)."""
    warnings.warn(SeracWarning(problem if not assumed else f"{problem} {assumed}"), stacklevel=2)


@contextlib.contextmanager
def forward_warnings(feedback):
    """Within the block, show every distinct :class:`SeracWarning` with ``feedback.pushWarning``.

    Repeats of the same text (e.g. the same file read window by window) are shown once.
    """
    push = getattr(feedback, "pushWarning", None) or feedback.pushInfo
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", SeracWarning)
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, SeracWarning):
                return previous(message, category, filename, lineno, file, line)
            text = str(message)
            if text not in seen:
                seen.add(text)
                push(text)
            return None

        warnings.showwarning = show
        yield


class NullFeedback:
    """Feedback that records nothing and is never cancelled."""

    def setProgress(self, percent):  # noqa: N802 (QGIS naming)
        pass

    def isCanceled(self):  # noqa: N802
        return False

    def pushInfo(self, text):  # noqa: N802
        pass

    def pushWarning(self, text):  # noqa: N802
        warnings.warn(SeracWarning(text), stacklevel=3)


class ConsoleFeedback(NullFeedback):
    """Feedback printing to stderr; optional cancellation after ``cancel_after`` checks."""

    def __init__(self, verbose=True, cancel_after=None):
        self.verbose = verbose
        self.cancel_after = cancel_after
        self.checks = 0
        self.last_percent = 0.0
        self.messages = []

    def setProgress(self, percent):  # noqa: N802
        self.last_percent = percent

    def isCanceled(self):  # noqa: N802
        self.checks += 1
        return self.cancel_after is not None and self.checks > self.cancel_after

    def pushInfo(self, text):  # noqa: N802
        self.messages.append(text)
        if self.verbose:
            print(text, file=sys.stderr)

    def pushWarning(self, text):  # noqa: N802
        self.messages.append("WARNING: " + text)
        if self.verbose:
            print("WARNING: " + text, file=sys.stderr)


class Progress:
    """A slice [start, end] of a feedback's 0-100 % progress bar."""

    def __init__(self, feedback=None, start=0.0, end=100.0):
        self.feedback = feedback if feedback is not None else NullFeedback()
        self.start = float(start)
        self.end = float(end)

    def update(self, fraction):
        """Report that ``fraction`` (0-1) of this slice is done, then check for cancellation."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        self.feedback.setProgress(self.start + (self.end - self.start) * fraction)
        self.check_cancelled()

    def check_cancelled(self):
        """Raise :class:`Cancelled` if the user asked to stop."""
        if self.feedback.isCanceled():
            raise Cancelled()

    def sub(self, start_fraction, end_fraction):
        """The part [start_fraction, end_fraction] of this slice, as its own Progress."""
        span = self.end - self.start
        return Progress(self.feedback, self.start + span * start_fraction, self.start + span * end_fraction)

    def info(self, text):
        self.feedback.pushInfo(text)

    def warn(self, text):
        push = getattr(self.feedback, "pushWarning", None) or self.feedback.pushInfo
        push(text)


def as_progress(feedback_or_progress):
    """Accept a Progress, a feedback object or None and return a Progress."""
    if isinstance(feedback_or_progress, Progress):
        return feedback_or_progress
    return Progress(feedback_or_progress)
