"""Outline review: fields, stepping order, decisions, persistence, undo, export, dock."""

import json

import pytest

pytestmark = pytest.mark.qgis


def write_outlines(path, with_review_fields=True):
    """A real GeoPackage of 4 glacier polygons (UTM 45N) with mean_probability."""
    from osgeo import ogr, osr

    ogr.UseExceptions()
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32645)
    lyr = ds.CreateLayer("outlines", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("id", ogr.OFTInteger))
    lyr.CreateField(ogr.FieldDefn("mean_probability", ogr.OFTReal))
    if with_review_fields:
        lyr.CreateField(ogr.FieldDefn("review_status", ogr.OFTString))
    # (id, probability, square side in m)
    for fid, prob, side in [(1, 0.91, 1000), (2, 0.55, 3000), (3, 0.72, 500), (4, 0.60, 2000)]:
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("id", fid)
        f.SetField("mean_probability", prob)
        if with_review_fields:
            f.SetField("review_status", "unreviewed")
        x0, y0 = 470000 + fid * 10000, 3090000
        ring = f"POLYGON(({x0} {y0},{x0 + side} {y0},{x0 + side} {y0 + side},{x0} {y0 + side},{x0} {y0}))"
        f.SetGeometry(ogr.CreateGeometryFromWkt(ring))
        lyr.CreateFeature(f)
    ds = None
    return path


@pytest.fixture
def outlines_layer(tmp_path, qgis_app):
    from qgis.core import QgsVectorLayer

    from serac.plugin.review import fields as F

    path = write_outlines(tmp_path / "predicted.gpkg", with_review_fields=False)
    layer = QgsVectorLayer(f"{path}|layername=outlines", "predicted", "ogr")
    assert layer.isValid()
    F.add_review_fields(layer)
    return layer


def reopen(layer):
    from qgis.core import QgsVectorLayer

    again = QgsVectorLayer(layer.source(), "reopened", "ogr")
    assert again.isValid()
    return again


def probability_of(layer, fid):
    return layer.getFeature(fid)["mean_probability"]


def test_add_review_fields_marks_unreviewed_and_records_size(outlines_layer):
    from serac.plugin.review import fields as F

    layer = reopen(outlines_layer)  # written to the file, not only in memory
    assert F.has_review_fields(layer)
    sizes = sorted(f[F.PREDICTED_SIZE] for f in layer.getFeatures())
    assert sizes == pytest.approx([0.25, 1.0, 4.0, 9.0], rel=0.01)  # km², ellipsoidal ≈ planar here
    assert {f[F.REVIEW_STATUS] for f in layer.getFeatures()} == {"unreviewed"}


def test_stepping_orders(outlines_layer):
    from serac.plugin.review.session import ReviewSession

    session = ReviewSession(outlines_layer)  # lowest probability first
    probs = [probability_of(outlines_layer, fid) for fid in session.ids]
    assert probs == sorted(probs) == [0.55, 0.60, 0.72, 0.91]
    session.set_order("area")
    ids_by_area = [outlines_layer.getFeature(fid)["id"] for fid in session.ids]
    assert ids_by_area == [2, 4, 1, 3]
    session.set_order("id")
    assert session.ids == sorted(session.ids)
    session.go_to(99)
    assert session.index == 3
    session.previous()
    assert session.index == 2


def test_decisions_write_attributes_and_survive_reopen(outlines_layer):
    from serac.plugin.review import fields as F
    from serac.plugin.review.session import ReviewSession

    session = ReviewSession(outlines_layer, reviewer="tester")
    first, second, third = session.ids[:3]
    session.decide(F.ACCEPTED)
    session.decide(F.REJECTED, comment="rock glacier, not ice")
    session.decide(F.NEEDS_EDIT)
    assert session.current_id() == session.ids[3]
    layer = reopen(outlines_layer)  # what is on disk
    a, r, e = (layer.getFeature(fid) for fid in (first, second, third))
    assert (a[F.REVIEW_STATUS], r[F.REVIEW_STATUS], e[F.REVIEW_STATUS]) == ("accepted", "rejected", "needs_edit")
    assert a[F.REVIEWER] == "tester" and a[F.REVIEWED_AT].endswith("+00:00")
    assert r[F.REVIEW_COMMENT] == "rock glacier, not ice"
    assert layer.featureCount() == 4  # rejected kept, not deleted
    counts = session.counts()
    assert counts["reviewed"] == 3 and counts["total"] == 4 and counts["rejected"] == 1


def test_filter_shows_only_matching_status(outlines_layer):
    from serac.plugin.review import fields as F
    from serac.plugin.review.session import ReviewSession

    session = ReviewSession(outlines_layer)
    session.decide(F.REJECTED)
    session.set_filter(F.REJECTED)
    assert len(session.ids) == 1
    session.set_filter(F.UNREVIEWED)
    assert len(session.ids) == 3


def test_geometry_edit_persists_and_undo_restores(outlines_layer):
    from qgis.core import QgsGeometry

    from serac.plugin.review import fields as F
    from serac.plugin.review.session import ReviewSession

    session = ReviewSession(outlines_layer)
    fid = session.current_id()
    original = QgsGeometry(outlines_layer.getFeature(fid).geometry())
    smaller = original.buffer(-100, 1)
    outlines_layer.startEditing()
    assert outlines_layer.changeGeometry(fid, smaller)
    session.decide(F.ACCEPTED)
    outlines_layer.commitChanges()
    layer = reopen(outlines_layer)
    saved = layer.getFeature(fid)
    assert saved[F.GEOMETRY_EDITED] == 1
    assert saved.geometry().area() == pytest.approx(smaller.area(), rel=1e-6)
    assert saved.geometry().area() < original.area()
    # undo the decision: status and geometry come back, on disk
    assert session.undo()
    layer = reopen(outlines_layer)
    restored = layer.getFeature(fid)
    assert restored[F.REVIEW_STATUS] == "unreviewed"
    assert restored.geometry().area() == pytest.approx(original.area(), rel=1e-6)


def test_export_accepted_with_summary(outlines_layer, tmp_path):
    from qgis.core import QgsVectorLayer

    from serac.plugin.review import fields as F
    from serac.plugin.review.export import export_accepted
    from serac.plugin.review.session import ReviewSession

    session = ReviewSession(outlines_layer, order="id")
    fid = session.current_id()
    outlines_layer.startEditing()
    outlines_layer.changeGeometry(fid, outlines_layer.getFeature(fid).geometry().buffer(-50, 1))
    session.decide(F.ACCEPTED)
    outlines_layer.commitChanges()
    session.decide(F.ACCEPTED)
    session.decide(F.REJECTED)
    out = str(tmp_path / "reviewed.gpkg")
    _, summary = export_accepted(outlines_layer, out)
    exported = QgsVectorLayer(out, "reviewed", "ogr")
    assert exported.featureCount() == 2
    assert {f[F.REVIEW_STATUS] for f in exported.getFeatures()} == {"accepted"}
    assert summary["accepted"] == 2 and summary["accepted_with_edited_geometry"] == 1
    assert summary["counts"]["rejected"] == 1 and summary["counts"]["unreviewed"] == 1
    assert summary["change_km2"] < 0  # the edit shrank an outline
    on_disk = json.loads((tmp_path / "reviewed_summary.json").read_text())
    assert on_disk["accepted"] == 2


def test_dock_steps_decides_and_saves_on_close(outlines_layer, qgis_iface, qgis_canvas):
    from qgis.core import QgsProject

    from serac.plugin.review import fields as F
    from serac.plugin.review.dock import ReviewDock

    QgsProject.instance().addMapLayer(outlines_layer)
    qgis_canvas.setDestinationCrs(outlines_layer.crs())
    dock = ReviewDock(qgis_iface)
    dock.layer_combo.setLayer(outlines_layer)
    session = dock.session
    assert session is not None and len(session.ids) == 4
    first = session.current_id()
    # the canvas shows the current feature with context around it
    box = outlines_layer.getFeature(first).geometry().boundingBox()
    assert qgis_canvas.extent().contains(box) and qgis_canvas.extent().width() > box.width()
    assert "Feature 1 of 4" in dock.position_label.text()
    dock.comment.setText("clean outline")
    dock.accept_button.click()
    from qgis.gui import QgsHighlight

    highlights = [i for i in qgis_canvas.scene().items() if isinstance(i, QgsHighlight)]
    assert len(highlights) == 1  # only the current feature is highlighted
    assert session.index == 1 and dock.progress.value() == 1
    # a geometry edit in progress when the dock closes is saved, not lost
    second = session.current_id()
    outlines_layer.startEditing()
    outlines_layer.changeGeometry(second, outlines_layer.getFeature(second).geometry().buffer(-100, 1))
    dock.close()
    reopened = reopen(outlines_layer)
    assert reopened.getFeature(first)[F.REVIEW_COMMENT] == "clean outline"
    assert reopened.getFeature(first)[F.REVIEW_STATUS] == F.ACCEPTED
    edited_area = reopened.getFeature(second).geometry().area()
    assert edited_area == pytest.approx(outlines_layer.getFeature(second).geometry().area())
    outlines_layer.commitChanges()
    QgsProject.instance().removeMapLayer(outlines_layer.id())


def test_dock_adds_review_fields_to_plain_layer(tmp_path, qgis_iface):
    from qgis.core import QgsProject, QgsVectorLayer

    from serac.plugin.review import fields as F
    from serac.plugin.review.dock import ReviewDock

    path = write_outlines(tmp_path / "plain.gpkg", with_review_fields=False)
    layer = QgsVectorLayer(f"{path}|layername=outlines", "plain", "ogr")
    QgsProject.instance().addMapLayer(layer)
    dock = ReviewDock(qgis_iface)
    dock.layer_combo.setLayer(layer)
    assert dock.session is None and dock.add_fields_button.isEnabled()
    dock.add_fields_button.click()
    assert F.has_review_fields(reopen(layer)) and dock.session is not None
    dock.apply_status_style()
    assert layer.renderer().type() == "categorizedSymbol"
    assert {c.value() for c in layer.renderer().categories()} == set(F.STATUSES)
    dock.close()
    QgsProject.instance().removeMapLayer(layer.id())


def test_plugin_menu_opens_review_dock(qgis_iface):
    import serac

    plugin = serac.classFactory(qgis_iface)
    plugin.initGui()
    try:
        dock = plugin.toggle_review_dock()
        assert dock.objectName() == "SeracOutlineReviewDock" and not dock.isHidden()
        assert plugin.toggle_review_dock() is dock and dock.isHidden()  # second click hides it
    finally:
        plugin.unload()
    assert plugin.review_dock is None


# -- issue 13: outputs as delivered, temporary layers, edit provenance, the .gpkg alone -----------------------

SEG = __import__("tests.conftest", fromlist=["SAMPLE_DATA"]).SAMPLE_DATA / "segmentation"


@pytest.mark.parametrize("alg_id, params, output", [
    ("segmentation_glacier_outlines", {"INPUT": str(SEG / "everest_landsat_rgb_heldout.tif"), "BACKEND": 1,
                                       "MIN_AREA_KM2": 0.05}, "OUTPUT_OUTLINES"),
    ("segmentation_calving_front", {"INPUT": str(SEG / "columbia_sar_simulated_50m.tif"), "BACKEND": 1},
     "OUTPUT_FRONTS"),
])
def test_segmentation_outputs_open_in_dock_as_delivered(run_alg, tmp_path, qgis_iface, alg_id, params, output):
    from qgis.core import QgsProject, QgsVectorLayer

    from serac.plugin.review import fields as F
    from serac.plugin.review.dock import ReviewDock
    from serac.plugin.review.export import review_summary
    from serac.plugin.review.session import ReviewSession

    res = run_alg(alg_id, {**params, "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
                           "OUTPUT_ZONES": str(tmp_path / "z.tif"), output: str(tmp_path / "out.gpkg")})
    layer = QgsVectorLayer(res[output], "predicted", "ogr")
    assert layer.isValid() and layer.featureCount() > 0
    assert F.missing_fields(layer) == []
    size = F.measure(layer)
    for feature in layer.getFeatures():
        assert feature[F.REVIEW_STATUS] == F.UNREVIEWED and feature[F.GEOMETRY_EDITED] == 0
        assert feature[F.PREDICTED_SIZE] == pytest.approx(size(feature.geometry()), rel=1e-5, abs=1e-6)
    QgsProject.instance().addMapLayer(layer)
    dock = ReviewDock(qgis_iface)
    dock.layer_combo.setLayer(layer)
    assert dock.session is not None and not dock.add_fields_button.isEnabled()  # no extra step
    assert "saved to out.gpkg" in dock.policy_label.text() and dock.save_button.isHidden()
    dock.accept_button.click()
    assert reopen(layer).getFeature(dock.session.ids[0])[F.REVIEW_STATUS] == F.ACCEPTED
    # an accepted, unedited prediction has not changed size: review and prediction measure alike
    ReviewSession(layer).decide(F.ACCEPTED)
    assert review_summary(layer)[f"change_{'km2' if F.is_polygon(layer) else 'km'}"] == pytest.approx(0, abs=1e-5)
    dock.close()
    QgsProject.instance().removeMapLayer(layer.id())


def test_temporary_layer_is_never_reviewed_as_if_saved(run_alg, tmp_path, qgis_iface):
    from qgis.core import QgsProject

    from serac.plugin.review import fields as F
    from serac.plugin.review.dock import ReviewDock

    res = run_alg("segmentation_glacier_outlines", {
        "INPUT": str(SEG / "everest_landsat_rgb_heldout.tif"), "BACKEND": 1, "MIN_AREA_KM2": 0.05,
        "OUTPUT_PROBABILITY": "TEMPORARY_OUTPUT", "OUTPUT_OUTLINES": "TEMPORARY_OUTPUT"})
    memory = res["OUTPUT_OUTLINES"]  # the dialog's default, "Create temporary layer": a memory layer
    assert memory.providerType() == "memory"
    project = QgsProject.instance()
    project.addMapLayer(memory)
    dock = ReviewDock(qgis_iface)
    dock.layer_combo.setLayer(memory)
    assert dock.session is not None  # reviewable, but:
    text = dock.policy_label.text()
    assert "NOT written to any file" in text and "saved to" not in text.lower()
    assert not dock.save_button.isHidden()
    n_features, memory_id = memory.featureCount(), memory.id()
    dock.apply_status_style()
    dock.reject_button.click()  # a decision in memory, carried over by the save
    first = dock.session.ids[0]
    saved = dock.save_to_geopackage(str(tmp_path / "review"))  # one click (path chosen in the dialog)
    assert saved is not None and saved.providerType() == "ogr"
    assert project.mapLayer(memory_id) is None and project.mapLayer(saved.id()) is saved
    assert dock.session is not None and dock.session.layer is saved and dock.save_button.isHidden()
    assert "saved to review.gpkg" in dock.policy_label.text()
    assert saved.renderer().type() == "categorizedSymbol"  # keeps the review style
    dock.session.go_to(1)
    second = dock.session.current_id()
    dock.accept_button.click()
    on_disk = reopen(saved)
    assert on_disk.featureCount() == n_features > 1
    assert on_disk.getFeature(first)[F.REVIEW_STATUS] == F.REJECTED
    assert on_disk.getFeature(second)[F.REVIEW_STATUS] == F.ACCEPTED
    dock.close()
    project.removeMapLayer(saved.id())


def _shrink(layer, fid, metres=100):
    geometry = layer.getFeature(fid).geometry().buffer(-metres, 1)
    if not layer.isEditable():
        layer.startEditing()
    assert layer.changeGeometry(fid, geometry)
    return geometry.area()


def test_edit_of_one_feature_then_decision_on_another_keeps_provenance(outlines_layer):
    from serac.plugin.review import fields as F
    from serac.plugin.review.session import ReviewSession

    session = ReviewSession(outlines_layer, order="id", reviewer="tester")
    f_id, g_id = session.ids[:2]
    area_before = outlines_layer.getFeature(f_id).geometry().area()
    area_edited = _shrink(outlines_layer, f_id)
    session.go_to(1)
    session.decide(F.ACCEPTED)  # a decision on G commits F's edit too
    disk = reopen(outlines_layer)
    f, g = disk.getFeature(f_id), disk.getFeature(g_id)
    assert f.geometry().area() == pytest.approx(area_edited)
    assert f[F.GEOMETRY_EDITED] == 1 and f[F.REVIEW_STATUS] == F.UNREVIEWED  # edited, still needs a decision
    assert g[F.REVIEW_STATUS] == F.ACCEPTED and g[F.GEOMETRY_EDITED] == 0
    session.set_filter(F.UNREVIEWED)
    assert f_id in session.ids
    assert session.undo()  # restores what that decision changed: G's status, F's geometry and mark
    disk = reopen(outlines_layer)
    f, g = disk.getFeature(f_id), disk.getFeature(g_id)
    assert f.geometry().area() == pytest.approx(area_before) and f[F.GEOMETRY_EDITED] == 0
    assert g[F.REVIEW_STATUS] == F.UNREVIEWED
    outlines_layer.commitChanges()


def test_edit_then_layer_switch_or_qgis_save_marks_the_feature(outlines_layer, tmp_path, qgis_iface):
    from qgis.core import QgsProject, QgsVectorLayer

    from serac.plugin.review import fields as F
    from serac.plugin.review.dock import ReviewDock

    other_path = write_outlines(tmp_path / "other.gpkg", with_review_fields=False)
    other = QgsVectorLayer(f"{other_path}|layername=outlines", "other", "ogr")
    F.add_review_fields(other)
    project = QgsProject.instance()
    project.addMapLayers([outlines_layer, other])
    dock = ReviewDock(qgis_iface)
    dock.layer_combo.setLayer(outlines_layer)
    f_id = dock.session.current_id()
    _shrink(outlines_layer, f_id)
    dock.layer_combo.setLayer(other)  # switching layer saves F's edit: marked, still unreviewed
    f = reopen(outlines_layer).getFeature(f_id)
    assert f[F.GEOMETRY_EDITED] == 1 and f[F.REVIEW_STATUS] == F.UNREVIEWED
    # an edit saved with QGIS's own "Save layer edits" while the dock reviews the layer is marked too
    g_id = dock.session.ids[1]
    _shrink(other, g_id)
    assert other.commitChanges()
    g = reopen(other).getFeature(g_id)
    assert g[F.GEOMETRY_EDITED] == 1 and g[F.REVIEW_STATUS] == F.UNREVIEWED
    dock.close()
    outlines_layer.commitChanges()
    project.removeMapLayers([outlines_layer.id(), other.id()])


def test_gpkg_file_alone_holds_every_decision(outlines_layer, tmp_path):
    import shutil

    from qgis.core import QgsVectorLayer

    from serac.plugin.review import fields as F
    from serac.plugin.review.session import ReviewSession

    session = ReviewSession(outlines_layer, order="id")
    path = outlines_layer.source().split("|")[0]
    decided = {}
    for status in (F.ACCEPTED, F.REJECTED, F.NEEDS_EDIT):
        decided[session.current_id()] = status
        session.decide(status)
        copy = tmp_path / f"copy_{status}" / "alone.gpkg"
        copy.parent.mkdir()
        shutil.copy(path, copy)  # the .gpkg only: no -wal, no -shm
        alone = QgsVectorLayer(f"{copy}|layername=outlines", "copy", "ogr")
        assert {fid: alone.getFeature(fid)[F.REVIEW_STATUS] for fid in decided} == decided
    assert session.file_holds_every_decision
