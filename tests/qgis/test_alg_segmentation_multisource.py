"""Multi-source model (optical + DEM + derived slope) through processing.run: the further inputs the model
declares are resampled onto the first raster's grid and stacked; a missing one is a clear error."""

import pytest

from tests.core.test_segmentation_multisource import _model, _scene

pytestmark = pytest.mark.qgis
pytest.importorskip("torch")


def _box_layer(tmp_path, grid, c0, r0, c1, r1):
    """A GeoJSON file (EPSG:32645) holding one box of pixel corners on ``grid``: training labels."""
    import json

    ring = [list(grid.transform * p) for p in ((c0, r0), (c1, r0), (c1, r1), (c0, r1), (c0, r0))]
    path = tmp_path / "outlines.geojson"
    path.write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32645"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    return path


def test_multisource_outlines_through_processing(run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    from serac.core.raster_io import read_raster

    model = _model(tmp_path)
    optical, dem, _, _ = _scene(tmp_path)
    res = run_alg("segmentation_glacier_outlines", {
        "INPUT": optical, "EXTRA_INPUTS": [dem], "MODEL": model, "BACKEND": 1, "MIN_AREA_KM2": 0.0,
        "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"), "OUTPUT_OUTLINES": str(tmp_path / "o.gpkg")})
    p = read_raster(res["OUTPUT_PROBABILITY"])
    assert p.data.shape == (1, 90, 120) and 0 <= float(p.data.min()) and float(p.data.max()) <= 1
    with pytest.raises(QgsProcessingException, match="dem"):
        run_alg("segmentation_glacier_outlines", {
            "INPUT": optical, "MODEL": model, "OUTPUT_PROBABILITY": str(tmp_path / "q.tif"),
            "OUTPUT_OUTLINES": str(tmp_path / "q.gpkg")})



def test_training_takes_the_further_inputs(run_alg, tmp_path):
    from serac.core.segmentation import load_model

    optical, dem, _, grid = _scene(tmp_path)
    outlines = _box_layer(tmp_path, grid, 10, 5, 60, 50)
    res = run_alg("segmentation_train", {
        "INPUT": optical, "EXTRA_INPUTS": [dem], "SOURCE_NAMES": "optical,dem", "SLOPE_SOURCE": "dem",
        "OUTLINES": str(outlines), "HOLDOUT_SIDE": 1, "HOLDOUT_FRACTION": 0.3, "STEPS": 2, "TILE_SIZE": 32,
        "BATCH_SIZE": 2, "BASE_CHANNELS": 4, "MODEL_NAME": "ms", "OUTPUT_MODEL": str(tmp_path / "ms.onnx")})
    meta = load_model(res["OUTPUT_MODEL"], "onnxruntime").metadata
    assert meta.sources == ["optical", "dem"] and [b.derive for b in meta.bands] == ["", "", "", "", "slope"]


def test_time_series_model_trains_and_runs_through_processing(run_alg, tmp_path):
    from serac.core.raster_io import read_grid, read_raster
    from serac.core.segmentation import load_model
    from tests.core.test_segmentation_temporal import dated_rasters

    paths, _ = dated_rasters(tmp_path)
    outlines = _box_layer(tmp_path, read_grid(paths[0]), 40, 0, 100, 70)
    res = run_alg("segmentation_train", {
        "INPUT": paths[0], "EXTRA_INPUTS": paths[1:], "DATES": 4, "SPACING_DAYS": 12, "OUTLINES": str(outlines),
        "HOLDOUT_SIDE": 1, "HOLDOUT_FRACTION": 0.3, "STEPS": 2, "TILE_SIZE": 32, "BATCH_SIZE": 2, "BASE_CHANNELS": 4,
        "MODEL_NAME": "ts", "OUTPUT_MODEL": str(tmp_path / "ts.onnx")})
    assert load_model(res["OUTPUT_MODEL"], "onnxruntime").metadata.n_dates == 4
    out = run_alg("segmentation_glacier_outlines", {
        "INPUT": paths[0], "EXTRA_INPUTS": paths[1:], "MODEL": res["OUTPUT_MODEL"], "BACKEND": 1,
        "MIN_AREA_KM2": 0.0, "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
        "OUTPUT_OUTLINES": str(tmp_path / "o.gpkg")})
    assert read_raster(out["OUTPUT_PROBABILITY"]).data.shape == (1, 70, 100)
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="4 dates; 3 given"):
        run_alg("segmentation_glacier_outlines", {
            "INPUT": paths[0], "EXTRA_INPUTS": paths[1:3], "MODEL": res["OUTPUT_MODEL"],
            "OUTPUT_PROBABILITY": str(tmp_path / "q.tif"), "OUTPUT_OUTLINES": str(tmp_path / "q.gpkg")})
