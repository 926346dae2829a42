"""Styled outputs as QGIS shows them after a run with "Open output file after running" (issue 13):
the layer panel's legend equals the renderer's, for every styled output kind; dated outputs carry
QGIS temporal properties."""

import pytest

from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.qgis

DEM = SAMPLE_DATA / "dem"
EVEREST = SAMPLE_DATA / "everest_landsat"
SEG = SAMPLE_DATA / "segmentation"
SAR = SAMPLE_DATA / "sar"
TIMESERIES = sorted((SAMPLE_DATA / "timeseries").glob("kaskawulsh_*.tif"))

RUNS = {  # algorithm: (parameters, {output: expected renderer type})
    "dem_coregistration": (
        {"REFERENCE": str(DEM / "longyearbyen_reference_lzd_aligned.tif"),
         "DEM": str(DEM / "longyearbyen_dem_1990.tif"),
         "OUTLINES": str(DEM / "longyearbyen_glacier_outlines_1990.gpkg")},
        {"OUTPUT": "singlebandpseudocolor", "DH": "singlebandpseudocolor"}),
    "glacier_velocity": (
        {"REFERENCE": str(EVEREST / "LE71400412000304SGS00_B4.tif"),
         "SECONDARY": str(SAMPLE_DATA / "velocity" / "everest_B4_SYNTHETIC_flow_20001115.tif"),
         "OUTLINES": str(EVEREST / "15_rgi60_glacier_outlines.gpkg"), "SEARCH": 8, "MAX_CHIP": 32, "BACKEND": 1},
        {"OUTPUT": "singlebandpseudocolor", "ARROWS": "singleSymbol"}),
    "sar_normalization": (
        {"INPUT": str(SAR / "S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"),
         "ANGLE": str(SAR / "incidence_angle_synthetic_30_45deg.tif")},
        {"OUTPUT": "singlebandgray"}),
    "segmentation_calving_front": (
        {"INPUT": str(SEG / "columbia_sar_simulated_50m.tif"), "BACKEND": 1},
        {"OUTPUT_PROBABILITY": "singlebandpseudocolor", "OUTPUT_ZONES": "paletted",
         "OUTPUT_FRONTS": "categorizedSymbol"}),
    "segmentation_glacier_outlines": (
        {"INPUT": str(SEG / "everest_landsat_rgb_heldout.tif"), "BACKEND": 1},
        {"OUTPUT_PROBABILITY": "singlebandpseudocolor", "OUTPUT_OUTLINES": "categorizedSymbol"}),
    "rasterize_outlines": (
        {"INPUT": str(DEM / "longyearbyen_dem_1990.tif"),
         "OUTLINES": str(DEM / "longyearbyen_glacier_outlines_1990.gpkg")},
        {"OUTPUT": "paletted"}),
    "velocity_timeseries": (
        {"INPUT": [str(p) for p in TIMESERIES], "STEP_DAYS": 60, "LAMBDA_MODE": 1},
        {"OUTPUT": "singlebandpseudocolor"}),
}


def _legend(model, layer):
    """(shown, fresh): the legend entries in the layer panel's model and those the renderer makes now, each
    (text, icon image) — a colour ramp's icon carries its minimum and maximum labels."""
    from qgis.core import QgsLayerTreeLayer
    from qgis.PyQt.QtCore import Qt

    def entries(nodes):
        out = []
        for n in nodes:
            icon = n.data(Qt.ItemDataRole.DecorationRole)
            if hasattr(icon, "toImage"):
                icon = icon.toImage()
            elif hasattr(icon, "isNull"):  # a null QVariant
                icon = None
            out.append((n.data(Qt.ItemDataRole.DisplayRole), icon))
        return out

    node = model.rootGroup().findLayer(layer.id())
    fresh_node = QgsLayerTreeLayer(layer)
    fresh = entries(layer.legend().createLayerTreeModelLegendNodes(fresh_node))
    return entries(model.layerLegendNodes(node, False)), fresh


def _run_and_load(alg_id, params, tmp_path):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    alg = __import__("qgis.core", fromlist=["QgsApplication"]).QgsApplication.processingRegistry() \
        .algorithmById(f"serac:{alg_id}")
    params = dict(params)
    for definition in alg.destinationParameterDefinitions():
        suffix = ".gpkg" if definition.type() == "sink" else ".tif"
        if definition.type() in ("sink", "rasterDestination"):
            params.setdefault(definition.name(), str(tmp_path / f"{definition.name().lower()}{suffix}"))
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.runAndLoadResults(f"serac:{alg_id}", params, feedback=QgsProcessingFeedback(), context=context)


@pytest.mark.parametrize("alg_id", sorted(RUNS))
def test_legend_matches_renderer_right_after_a_run(serac_provider, tmp_path, alg_id):
    from qgis.core import QgsLayerTreeModel, QgsProject

    project = QgsProject.instance()
    project.clear()
    model = QgsLayerTreeModel(project.layerTreeRoot())  # the layer panel, there before the run
    params, expected = RUNS[alg_id]
    results = _run_and_load(alg_id, params, tmp_path)
    by_source = {layer.source().split("|")[0]: layer for layer in project.mapLayers().values()}
    for output, renderer_type in expected.items():
        layer = by_source[str(results[output]).split("|")[0]]
        renderer = layer.renderer()
        assert renderer.type() == renderer_type, (output, renderer.type())
        shown, fresh = _legend(model, layer)
        assert [t for t, _ in shown] == [t for t, _ in fresh], output  # the panel shows what the renderer draws
        assert all(a == b for (_, a), (_, b) in zip(shown, fresh)), output  # ramp labels (min, max) included
        if renderer_type == "singlebandpseudocolor":  # and the renderer's classes span its stretch
            items = renderer.shader().rasterShaderFunction().colorRampItemList()
            assert items[0].value == pytest.approx(renderer.classificationMin())
            assert items[-1].value == pytest.approx(renderer.classificationMax())
    project.clear()


def test_time_series_steps_animate_in_the_temporal_controller(serac_provider, tmp_path):
    """Each step of a velocity time series is shown (speed band of that step, same style and stretch) only
    during its dates, so the Temporal Controller animates the series."""
    import json

    from qgis.core import QgsDateTimeRange, QgsProject
    from qgis.PyQt.QtCore import QDate, QDateTime, QTime, Qt

    project = QgsProject.instance()
    project.clear()
    params, _ = RUNS["velocity_timeseries"]
    results = _run_and_load("velocity_timeseries", params, tmp_path)
    edges = json.loads(results["REPORT"])["time_grid_edges"]
    n = results["N_STEPS"]
    assert n == len(edges) - 1 >= 3
    layers = [layer for layer in project.mapLayers().values()
              if layer.source().split("|")[0] == results["OUTPUT"]]
    props = [layer.temporalProperties() for layer in layers]
    per_band = any(hasattr(p, "fixedRangePerBand") and p.fixedRangePerBand() for p in props)

    def moment(day):
        d = QDateTime(QDate.fromString(day[:10], "yyyy-MM-dd"), QTime(12, 0), Qt.TimeSpec.UTC)
        return QgsDateTimeRange(d, d)

    if per_band:  # QGIS >= 3.38: one layer, a range per band
        assert len(layers) == 1 and len(props[0].fixedRangePerBand()) == n
        return
    assert len(layers) == n
    ranges = []
    for k in range(n):
        shown = [layer for layer in layers if layer.temporalProperties().isVisibleInTemporalRange(moment(edges[k]))]
        assert len(shown) == 1, (k, [layer.name() for layer in shown])  # exactly one step at a time
        layer = shown[0]
        assert layer.temporalProperties().isActive()
        assert layer.renderer().band() == 2 * n + 1 + k  # speed_<date> of step k
        assert "speed" in layer.bandName(layer.renderer().band())
        ranges.append((layer.renderer().classificationMin(), layer.renderer().classificationMax()))
    assert len(set(ranges)) == 1  # one stretch for the whole series: colours compare across steps
    group = project.layerTreeRoot().findLayer(layers[0].id()).parent()
    assert group.name().endswith(f"({n} time steps)") and len(group.findLayers()) == n
    project.clear()


def test_a_velocity_pair_holds_from_its_first_to_its_second_date(serac_provider, tmp_path):
    from qgis.core import QgsProject

    project = QgsProject.instance()
    project.clear()
    params, _ = RUNS["glacier_velocity"]
    results = _run_and_load("glacier_velocity", params, tmp_path)
    layer = next(layer for layer in project.mapLayers().values()
                 if layer.source().split("|")[0] == results["OUTPUT"])
    props = layer.temporalProperties()
    assert props.isActive()
    span = props.fixedTemporalRange()
    # dates from the file names: reference 2000-10-30, secondary 2000-11-15 (end excluded)
    assert span.begin().date().toString("yyyy-MM-dd") == "2000-10-30"
    assert span.end().date().toString("yyyy-MM-dd") == "2000-11-15" and not span.includeEnd()
    assert layer.renderer().band() == 3 and layer.name().endswith("2000-10-30 to 2000-11-15")
    project.clear()
