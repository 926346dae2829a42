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
        {"REFERENCE": str(DEM / "longyearbyen_reference_lzd_aligned.tif"), "DEM": str(DEM / "longyearbyen_dem_1990.tif"),
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
        {"INPUT": str(DEM / "longyearbyen_dem_1990.tif"), "OUTLINES": str(DEM / "longyearbyen_glacier_outlines_1990.gpkg")},
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
