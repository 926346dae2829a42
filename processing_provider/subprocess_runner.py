"""Running Serac's command line from QGIS: a subprocess whose output streams into the Processing feedback
and which is stopped (with every process it started) when the user cancels.

Never ``multiprocessing`` inside QGIS: on Windows and macOS it starts new QGIS windows. The command
line runs in the Python interpreter QGIS embeds, located and checked by
:func:`serac.plugin.dependencies.python_executable` (the one the dependency installer uses), with the plugin's
package and QGIS's module search path (where the plugin's dependencies are installed) on
``PYTHONPATH``.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time

#: Seconds a cancelled run gets to stop its workers before it is killed.
STOP_GRACE_S = 10.0


def package_name():
    """The name the plugin is imported under (its folder name, ``serac`` when installed)."""
    return __name__.split(".")[0]


def subprocess_environment():
    """The environment of a command-line run: the plugin's package and QGIS's module path importable."""
    package = sys.modules[package_name()]
    parent = os.path.dirname(os.path.dirname(os.path.abspath(package.__file__)))
    paths = [parent] + [p for p in sys.path if p and os.path.isdir(p) and p != parent]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class StreamedProcess:
    """A subprocess in its own process group whose output lines are read by a thread.

    ``lines(timeout)`` yields the lines that arrived; :meth:`stop` ends the whole group (the
    command and the workers it started): SIGTERM (the command stops its cluster), then SIGKILL after
    :data:`STOP_GRACE_S`.
    """

    def __init__(self, command, env=None, cwd=None):
        kwargs = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        bufsize=1, env=env, cwd=cwd, **kwargs)
        self._queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self):
        return self.process.pid

    def _read(self):
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def lines(self, timeout=0.2):
        """The lines that arrived within ``timeout`` s (None marks the end of the output)."""
        out = []
        try:
            out.append(self._queue.get(timeout=timeout))
            while True:
                out.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return out

    def stop(self):
        """End the command and every process it started; returns its exit status."""
        if self.process.poll() is None:
            self._signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            while self.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        self._signal(None)  # whatever is left of the group (a worker that did not stop)
        return self.process.wait()

    def _signal(self, sig):
        try:
            if os.name == "nt":
                if sig is None:
                    subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.pid)], capture_output=True)
                else:
                    self.process.send_signal(sig)
            else:
                os.killpg(self.pid, signal.SIGKILL if sig is None else sig)
        except (ProcessLookupError, PermissionError, OSError):
            pass
