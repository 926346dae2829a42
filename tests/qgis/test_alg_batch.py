"""The batch launcher in a real QgsApplication: processing.run writes the manifest from a table, runs ``serac
batch`` in a subprocess (the venv's Python), streams its progress, loads the catalogue and outputs styled, and
stops the subprocess and its workers when cancelled."""

import os
import time

import pytest

from tests.cli.conftest import REFERENCE, SECONDARY, crop

pytestmark = pytest.mark.qgis
pytest.importorskip("distributed")


def table_layer(rows):
    """A memory table layer (no geometry) holding the manifest rows (all text fields)."""
    from qgis.core import QgsFeature, QgsField, QgsVectorLayer

    from serac.processing_provider.compat import field_type

    layer = QgsVectorLayer("None", "manifest", "memory")
    names = list(dict.fromkeys(k for r in rows for k in r))
    layer.dataProvider().addAttributes([QgsField(n, field_type("String")) for n in names])
    layer.updateFields()
    features = []
    for r in rows:
        f = QgsFeature(layer.fields())
        f.setAttributes([str(r.get(n, "")) for n in names])
        features.append(f)
    layer.dataProvider().addFeatures(features)
    return layer


def velocity_rows(tmp_path, n=2, bad=True):
    rows = []
    for i in range(n):
        a = crop(REFERENCE, tmp_path / f"ref{i}_20001030.tif", 100 + 150 * i, 100, 200)
        b = crop(SECONDARY, tmp_path / f"sec{i}_20001115.tif", 100 + 150 * i, 100, 200)
        rows.append({"job": "glacier_velocity", "id": f"pair{i}", "reference": a, "secondary": b,
                     "output": str(tmp_path / f"v{i}.tif"), "chip": 32, "search": 8, "spacing": 16})
    if bad:
        rows.append(dict(rows[0], id="broken", secondary=str(tmp_path / "missing_20001115.tif"),
                         output=str(tmp_path / "broken.tif")))
    return rows


def test_batch_run_from_a_table_loads_the_catalogue_and_styled_outputs(run_alg, tmp_path):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    class Feedback(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.lines, self.errors, self.percent = [], [], []

        def pushInfo(self, text):  # noqa: N802
            self.lines.append(text)

        def reportError(self, text, fatalError=False):  # noqa: N802, N803
            self.errors.append(text)

        def setProgress(self, value):  # noqa: N802
            self.percent.append(value)

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = Feedback()
    catalogue = tmp_path / "run.gpkg"
    res = run_alg("batch_run", {"MANIFEST_TABLE": table_layer(velocity_rows(tmp_path)), "WORKERS": 2,
                                "CATALOGUE": str(catalogue)}, feedback=feedback, context=context)
    assert (res["DONE"], res["FAILED"], res["SKIPPED"]) == (2, 1, 0)
    assert any("FAILED: Error" in e or "FAILED: Cannot open raster" in e for e in feedback.errors), feedback.errors
    assert feedback.percent and max(feedback.percent) == 100
    assert (tmp_path / "run.manifest.csv").exists() and catalogue.exists()
    loaded = context.layersToLoadOnCompletion()
    names = {details.name for details in loaded.values()}
    assert "Batch catalogue" in names and {"pair0: Velocity (vx, vy, speed m/yr, quality, status)"} <= names
    velocity = next(d for p, d in loaded.items() if p.endswith("v0.tif"))
    assert velocity.postProcessor() is not None  # styled as the velocity algorithm styles it
    # a rerun skips the finished rows and tries the failed one again
    res = run_alg("batch_run", {"MANIFEST_FILE": str(tmp_path / "run.manifest.csv"), "WORKERS": 1,
                                "CATALOGUE": str(catalogue), "LOAD_OUTPUTS": False})
    assert (res["DONE"], res["FAILED"], res["SKIPPED"]) == (0, 1, 2)


def _session_processes(sid):
    """Pids of the processes in session ``sid`` (the subprocess and the workers it started)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(name))
    return pids


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_cancelling_stops_the_subprocess_and_its_workers(run_alg, tmp_path):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    class CancelWhenRunning(QgsProcessingFeedback):
        pid = None
        seen = None

        def pushInfo(self, text):  # noqa: N802
            if text.startswith("Started serac batch (process"):
                self.pid = int(text.rsplit(" ", 1)[1].rstrip(")"))

        def pushConsoleInfo(self, text):  # noqa: N802
            if text.startswith("Running on local cluster"):
                self.seen = _session_processes(self.pid)  # the command and its worker processes
                self.cancel()

    rows = velocity_rows(tmp_path, n=2, bad=False)
    for r in rows:
        r["spacing"] = 2  # long enough to be cancelled while running
    feedback = CancelWhenRunning()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_alg("batch_run", {"MANIFEST_TABLE": table_layer(rows), "WORKERS": 2, "CATALOGUE": str(tmp_path / "c.gpkg")},
                feedback=feedback)
    assert feedback.pid and len(feedback.seen) >= 3  # the command and at least two workers were running
    deadline = time.monotonic() + 10
    while _session_processes(feedback.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(feedback.pid) == []
    assert not any(f.startswith("v") for f in os.listdir(tmp_path))  # no output of a stopped row
