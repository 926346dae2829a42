"""Dialog that shows missing dependencies and installs them with pip after the user agrees."""

from qgis.PyQt.QtCore import QProcess
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
)

from . import dependencies


class DependencyDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Serac — Python dependencies")
        self.setMinimumWidth(560)
        self.process = None
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        layout.addWidget(self.log)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.hide()
        layout.addWidget(self.bar)
        self.buttons = QDialogButtonBox()
        self.install_button = self.buttons.addButton("Install with pip", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.install_button.clicked.connect(self.install)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.refresh()

    def refresh(self):
        lines = []
        for req in dependencies.REQUIREMENTS:
            state = "installed" if req.installed else ("MISSING" if req.required else "not installed (optional)")
            lines.append(f"{req.module}: {state} — {req.purpose}")
        self.log.setPlainText("\n".join(lines))
        todo = dependencies.missing(include_optional=False)
        if todo:
            cmd = " ".join(dependencies.pip_command(todo))
            self.summary.setText(f"Serac needs {len(todo)} package(s) that are not installed. With your consent "
                                 f"it will run:\n{cmd}")
        else:
            self.summary.setText("All required packages are installed. torch is optional (GPU inference, "
                                 "training); install it yourself to match your GPU and CUDA version.")
        self.install_button.setEnabled(bool(todo))

    def install(self):
        todo = dependencies.missing(include_optional=False)
        if not todo:
            return
        cmd = dependencies.pip_command(todo)
        self.log.appendPlainText("\n$ " + " ".join(cmd))
        self.bar.show()
        self.install_button.setEnabled(False)
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(
            lambda: self.log.appendPlainText(bytes(self.process.readAllStandardOutput()).decode(errors="replace")))
        self.process.finished.connect(self._finished)
        self.process.start(cmd[0], cmd[1:])

    def _finished(self, code, _status):
        self.bar.hide()
        self.log.appendPlainText(f"pip finished with exit code {code}. Restart QGIS to use new packages.")
        self.refresh()
