"""Progress reporting and cancellation for long core operations.

Core functions take an optional ``feedback`` object. Anything with the methods
of ``QgsProcessingFeedback`` that we use (``setProgress(percent)``,
``isCanceled()``, ``pushInfo(text)``, ``pushWarning(text)``) works, so the
Processing layer passes its feedback straight through while tests and scripts
use :class:`ConsoleFeedback` or nothing at all. The core never imports QGIS.

:class:`Progress` maps a sub-task onto a slice of the 0-100 % bar, so nested
steps report on one bar without knowing where they sit in it.
"""

import sys
import warnings

from .errors import Cancelled


class NullFeedback:
    """Feedback that records nothing and is never cancelled."""

    def setProgress(self, percent):  # noqa: N802 (QGIS naming)
        pass

    def isCanceled(self):  # noqa: N802
        return False

    def pushInfo(self, text):  # noqa: N802
        pass

    def pushWarning(self, text):  # noqa: N802
        warnings.warn(text, stacklevel=3)


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
