"""Crash test of the review: QGIS killed with SIGKILL mid-review, then the .gpkg copied ALONE (no -wal,
no -shm) and reopened holds every decision, geometry edit and undo made before the kill."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import PLUGIN_PATH

from .test_review import write_outlines

pytestmark = pytest.mark.qgis

REVIEW_THEN_HANG = textwrap.dedent('''
    import sys, time
    from qgis.core import QgsApplication, QgsVectorLayer
    app = QgsApplication([], False)
    app.initQgis()
    from serac.plugin.review import fields as F
    from serac.plugin.review.session import ReviewSession

    layer = QgsVectorLayer(sys.argv[1] + "|layername=outlines", "outlines", "ogr")
    F.add_review_fields(layer)
    session = ReviewSession(layer, order="id", reviewer="crash-test")
    viewer = QgsVectorLayer(sys.argv[1] + "|layername=outlines", "on the map", "ogr")  # as the canvas reads it
    session.changed.connect(lambda: [f.geometry() for f in viewer.getFeatures()])
    f1, f2, f3, f4 = session.ids

    def shrink(fid, metres):
        if not layer.isEditable():
            layer.startEditing()
        layer.changeGeometry(fid, layer.getFeature(fid).geometry().buffer(-metres, 1))

    session.decide(F.ACCEPTED)                               # f1 accepted
    session.decide(F.REJECTED, comment="debris-covered rock")  # f2 rejected
    shrink(f3, 100)                                          # f3 edited, no decision on it...
    session.go_to(3)
    session.decide(F.NEEDS_EDIT)                             # ...then a decision on f4
    session.go_to(0)
    shrink(f1, 50)
    session.decide(F.REJECTED)                               # f1 edited and rejected,
    session.undo()                                           # then undone: accepted, original geometry
    print("READY", flush=True)
    while True:                                              # QGIS still running, file open, when killed
        time.sleep(1)
''')


def test_review_survives_sigkill_with_only_the_gpkg(tmp_path):
    from qgis.core import QgsVectorLayer

    from serac.plugin.review import fields as F

    work = tmp_path / "work"
    work.mkdir()
    gpkg = write_outlines(work / "outlines.gpkg", with_review_fields=False)
    original = {f.id(): f.geometry().area() for f in QgsVectorLayer(f"{gpkg}|layername=outlines").getFeatures()}
    script = tmp_path / "review.py"
    script.write_text(REVIEW_THEN_HANG)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.pathsep.join(
        [str(PLUGIN_PATH), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(script), str(gpkg)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", proc.stderr.read() if proc.poll() is not None else line
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    alone = tmp_path / "copy" / "outlines.gpkg"
    alone.parent.mkdir()
    shutil.copy(gpkg, alone)  # the .gpkg only: whatever was left in -wal/-shm stays behind
    assert not (alone.parent / "outlines.gpkg-wal").exists()
    layer = QgsVectorLayer(f"{alone}|layername=outlines", "copy", "ogr")
    assert layer.isValid()
    f1, f2, f3, f4 = (layer.getFeature(fid) for fid in sorted(original))
    assert f1[F.REVIEW_STATUS] == F.ACCEPTED and f1[F.GEOMETRY_EDITED] == 0  # the undo is there
    assert f1.geometry().area() == pytest.approx(original[f1.id()])
    assert f1[F.REVIEWER] == "crash-test" and f1[F.REVIEWED_AT]
    assert f2[F.REVIEW_STATUS] == F.REJECTED and f2[F.REVIEW_COMMENT] == "debris-covered rock"
    assert f3[F.REVIEW_STATUS] == F.UNREVIEWED and f3[F.GEOMETRY_EDITED] == 1  # edited, still to decide
    assert f3.geometry().area() < original[f3.id()] * 0.95
    assert f4[F.REVIEW_STATUS] == F.NEEDS_EDIT
