"""Progress, messages and cancellation of a job run from a terminal or a batch worker.

SIGINT (Ctrl+C) and SIGTERM (``kill``, a scheduler ending a job) ask the running job to stop: the
core sees it at its next progress check and raises ``Cancelled``; its atomic writers then leave no
output behind (see :func:`guard_outputs` for files a failed run had already finished).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator, Mapping


class ConsoleFeedback:
    """A job :class:`~serac.core.jobs.base.Feedback` printing to ``stream`` (stderr), cancelled by a signal."""

    def __init__(self, stream=None, prefix: str = "", step: float = 0.1):
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self.step = step
        self.fraction = 0.0
        self._shown = 0.0
        self.cancelled = threading.Event()
        self.warnings: list[str] = []

    def _print(self, text):
        print(f"{self.prefix}{text}", file=self.stream, flush=True)

    def progress(self, fraction: float) -> None:
        self.fraction = float(fraction)
        if self.fraction >= self._shown + self.step or (self.fraction >= 1.0 > self._shown):
            self._shown = self.fraction
            self._print(f"{100 * self.fraction:.0f} %")

    def message(self, text: str) -> None:
        self._print(text)

    def warning(self, text: str) -> None:
        self.warnings.append(text)
        self._print("WARNING: " + text)

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()


@contextlib.contextmanager
def cancel_on_signals(event: threading.Event) -> Iterator[None]:
    """Set ``event`` on SIGINT/SIGTERM while the block runs (a second SIGINT interrupts at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        if event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        event.set()
        print(f"Signal {signal.Signals(signum).name}: stopping at the next check; nothing half-written is kept.",
              file=sys.stderr, flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _output_files(outputs: Mapping) -> list:
    files = []
    for value in outputs.values():
        for path in value if isinstance(value, (list, tuple)) else [value]:
            if path and isinstance(path, (str, os.PathLike)):
                files.append(os.fspath(path))
    return files


@contextlib.contextmanager
def guard_outputs(outputs: Mapping) -> Iterator[None]:
    """On failure or cancellation, remove the outputs this run created (a job with several outputs may have
    finished some before it failed); files that existed before are left as they were (the core replaces a
    file only once its new version is complete)."""
    before = {path for path in _output_files(outputs) if os.path.exists(path)}
    try:
        yield
    except BaseException:
        for path in _output_files(outputs):
            if path not in before:
                for leftover in (path, path + ".aux.xml"):
                    with contextlib.suppress(OSError):
                        os.remove(leftover)
        raise
