"""Dialog that lists Serac's Python dependencies and installs the missing ones with pip (with consent).

pip runs as a QProcess (QGIS stays responsive) with QGIS's own interpreter, into Serac's
folder in the QGIS profile (see :mod:`.dependencies`). Its whole log and exit status stay
in the dialog, a failure included; afterwards a fresh interpreter imports every installed
package, which is what QGIS will see after a restart.
"""

import os

from qgis.PyQt.QtCore import QProcess, QProcessEnvironment
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
)

from . import dependencies


class DependencyDialog(QDialog):
    """``target``/``requirements``: where to install and what is declared (tests pass their own)."""

    def __init__(self, parent=None, target=None, requirements=None):
        super().__init__(parent)
        self.setWindowTitle("Serac — Python dependencies")
        self.setMinimumWidth(640)
        self.target = target or dependencies.target_dir()
        self.requirements = dependencies.REQUIREMENTS if requirements is None else tuple(requirements)
        self.python = dependencies.python_executable()
        self.process = None
        self.exit_code = None
        self.import_results = {}
        self._todo = []
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMinimumHeight(260)
        layout.addWidget(self.log)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.hide()
        layout.addWidget(self.bar)
        self.buttons = QDialogButtonBox()
        self.install_button = self.buttons.addButton("Install with pip", QDialogButtonBox.ButtonRole.AcceptRole)
        self.optional_button = self.buttons.addButton("Install optional (torch, onnx)",
                                                      QDialogButtonBox.ButtonRole.ActionRole)
        self.remove_button = self.buttons.addButton("Remove Serac's packages",
                                                    QDialogButtonBox.ButtonRole.DestructiveRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.install_button.clicked.connect(lambda: self.install(include_optional=False))
        self.optional_button.clicked.connect(lambda: self.install(include_optional=True))
        self.remove_button.clicked.connect(self.remove)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.show_state()

    # -- state ---------------------------------------------------------------------
    def state_lines(self):
        lines = []
        for req in self.requirements:
            version = req.installed_version()
            if version is None:
                state = "MISSING" if req.required else "not installed (optional)"
            elif not req.satisfied():
                state = f"{version} installed, but Serac needs {req.specifier}"
            else:
                state = f"installed {version}".rstrip()
            lines.append(f"{req.name}: {state} — {req.purpose}")
        return lines

    def show_state(self):
        """List the packages and say what Install would do (the log of a past run is kept)."""
        todo = dependencies.missing(False, self.requirements)
        if self.exit_code is None:
            self.log.setPlainText("\n".join(self.state_lines()))
        where = f"into Serac's own folder {self.target} (QGIS's and the system's packages are not changed)"
        if self.python is None:
            self.summary.setText("Serac cannot find the Python interpreter of this QGIS, so it cannot run pip. "
                                 "Install the packages listed below with your system's package manager "
                                 "or the OSGeo4W installer.")
        elif todo:
            self.summary.setText(f"Serac needs {len(todo)} package(s) that are not installed: "
                                 f"{', '.join(r.name for r in todo)}. With your consent it runs pip with "
                                 f"{self.python} {where}.")
        else:
            self.summary.setText("All required packages are installed. torch and onnx are optional (training, "
                                 "GPU inference). 'Install optional' takes what pip finds: on Linux, PyPI's torch "
                                 "is the CUDA build, several GB.")
        self.install_button.setEnabled(bool(todo) and self.python is not None)
        self.optional_button.setEnabled(bool(dependencies.missing(True, self.requirements))
                                        and self.python is not None)
        self.remove_button.setEnabled(os.path.isdir(self.target))

    # -- install -------------------------------------------------------------------
    def command(self, include_optional=False):
        """The pip command line (list) that installs what is missing, constraints written."""
        self._todo = dependencies.missing(include_optional, self.requirements)
        constraints = dependencies.write_constraints(
            os.path.join(os.path.dirname(self.target), "constraints.txt"), self.target, self.requirements)
        return dependencies.pip_command(self.python, self.target, self._todo, constraints)

    def install(self, include_optional=False):
        if self.python is None or self.process is not None:
            return
        cmd = self.command(include_optional)
        if not self._todo:
            return
        os.makedirs(self.target, exist_ok=True)
        self.exit_code = None
        self.log.setPlainText("$ " + " ".join(cmd))
        self.summary.setText("pip is running; its log appears below…")
        self.bar.show()
        for button in (self.install_button, self.optional_button, self.remove_button):
            button.setEnabled(False)
        env = QProcessEnvironment()
        for key, value in dependencies.pip_environment().items():
            env.insert(key, value)
        self.process = QProcess(self)
        self.process.setProcessEnvironment(env)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self.process.start(cmd[0], cmd[1:])

    def _read_output(self):
        text = bytes(self.process.readAllStandardOutput()).decode(errors="replace")
        self.log.appendPlainText(text.rstrip("\n"))

    def _error(self, error):
        if error == QProcess.ProcessError.FailedToStart:
            self._finished(-1, None)

    def _finished(self, code, _status=None):
        if self.process is None:
            return
        self._read_output()
        self.process = None
        self.exit_code = int(code)
        self.bar.hide()
        self.log.appendPlainText(f"\npip finished with exit status {self.exit_code}.")
        if self.exit_code == 0:
            pruned = dependencies.prune_system_duplicates(self.target)
            if pruned:
                self.log.appendPlainText("Removed from Serac's folder the copies of packages this QGIS already has "
                                         "at the same version: " + ", ".join(pruned))
            self.import_results = dependencies.check_imports(self.python, self.target,
                                                             [r.module for r in self._todo])
            self.log.appendPlainText("Import check in a fresh Python (what QGIS sees after a restart):")
            for module, result in self.import_results.items():
                self.log.appendPlainText(f"  {module}: {result}")
        failed = [m for m, r in self.import_results.items() if not r.startswith("ok")]
        if self.exit_code == 0 and not failed:
            dependencies.activate(self.target)
        self.show_state()
        if self.exit_code != 0:
            hint = (" pip is not installed for this Python (Debian/Ubuntu: sudo apt install python3-pip)."
                    if "No module named pip" in self.log.toPlainText() else "")
            self.summary.setText(f"pip FAILED (exit status {self.exit_code}); nothing was changed outside "
                                 f"{self.target}. Its log is below.{hint}")
        elif failed:
            self.summary.setText(f"pip finished, but {', '.join(failed)} cannot be imported (see the log below).")
        else:
            self.summary.setText(f"Installed {', '.join(r.name for r in self._todo)} into {self.target}. "
                                 "Restart QGIS to use them.")

    def wait(self, msecs=600000):
        """Block until pip and the import check are done (tests, scripts)."""
        if self.process is not None:
            self.process.waitForFinished(msecs)

    # -- remove --------------------------------------------------------------------
    def remove(self, confirm=True):
        if confirm and QMessageBox.question(
                self, "Remove Serac's packages",
                f"Delete {self.target} and every package Serac installed there? QGIS's and the "
                "system's packages are not touched.") != QMessageBox.StandardButton.Yes:
            return False
        removed = dependencies.remove_installed(self.target)
        self.exit_code = None
        self.show_state()
        self.log.appendPlainText(f"\nRemoved {self.target}." if removed else "\nNothing to remove.")
        self.log.appendPlainText("Restart QGIS so that no removed package stays loaded.")
        return removed
