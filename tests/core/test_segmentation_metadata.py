"""Model metadata: validation of every field, round trip, checks against inputs."""

import json

import numpy as np
import pytest

from serac.core.errors import BandCountError, ModelError
from serac.core.segmentation.model_metadata import ModelMetadata

from tests.core.test_segmentation_support import BASE_METADATA, ZONES_METADATA, metadata


def test_valid_metadata_round_trips_through_json():
    meta = ModelMetadata.from_dict(BASE_METADATA)
    again = ModelMetadata.from_json(meta.to_json())
    assert again == meta
    assert meta.n_bands == 3 and meta.n_outputs == 1
    assert meta.output_names == ["glacier"] and meta.positive_index == 0
    zones = ModelMetadata.from_dict(ZONES_METADATA)
    assert zones.n_outputs == 3 and zones.front == ("glacier", "ocean")
    assert zones.class_index("ocean") == 1


def test_normalization_handles_sar_db_and_dem_values():
    zones = ModelMetadata.from_dict(ZONES_METADATA)  # offset -12 dB, scale 5 dB
    out = zones.normalization.apply(np.array([[[-22.0, -12.0, np.nan]]]))
    np.testing.assert_allclose(out[0, 0, :2], [-2.0, 0.0])
    assert np.isnan(out[0, 0, 2])
    dem = ModelMetadata.from_dict(metadata(input__normalization={
        "method": "offset_scale", "offset": [0, 0, 0], "scale": [1000.0, 1000.0, 1000.0], "clip": [-1, 5]}))
    np.testing.assert_allclose(dem.normalization.apply(np.full((3, 1, 2), 8848.0))[:, 0, 0], 5.0)


@pytest.mark.parametrize("changes, words", [
    ({"schema_version": 99}, "schema_version 99"),
    ({"name": ...}, "'metadata.name' is missing"),
    ({"task": "classify_cats"}, "'task'"),
    ({"input__bands": []}, "input.bands"),
    ({"input__normalization": {"method": "mean_std", "mean": [1, 2], "std": [1, 1, 1]}}, "list of 3 numbers"),
    ({"input__normalization": {"method": "mean_std", "mean": [1, 2, 3], "std": [1, 0, 1]}}, "> 0"),
    ({"input__normalization": {"method": "zscore", "mean": [1, 2, 3], "std": [1, 1, 1]}}, "method"),
    ({"input__pixel_size_m": -30}, "pixel_size_m"),
    ({"input__pixel_size_m": "30 m"}, "must be a number"),
    ({"tiling__tile_size": 0}, "tile_size"),
    ({"tiling__tile_size": 30}, "multiple of size_multiple"),
    ({"tiling__overlap": 16}, "below half the tile size"),
    ({"output__activation": "relu"}, "activation"),
    ({"output__classes": ["a", "b", "c"]}, "exactly 2 classes"),
    ({"output__classes": ["glacier", "glacier"]}, "distinct"),
    ({"output__positive_class": "background"}, "second class"),
    ({"output__threshold": 1.5}, "threshold"),
    ({"output__front": ["glacier", "sea"]}, "front"),
])
def test_invalid_metadata_raises_model_error_naming_the_field(changes, words):
    with pytest.raises(ModelError) as err:
        ModelMetadata.from_dict(metadata(**changes))
    assert words in str(err.value)
    assert "Fix:" in str(err.value)


def test_not_json_and_not_object():
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelMetadata.from_json("{broken")
    with pytest.raises(ModelError, match="JSON object"):
        ModelMetadata.from_json(json.dumps([1, 2]))


def test_calving_model_needs_front_classes():
    d = json.loads(json.dumps(ZONES_METADATA))
    d["output"]["front"] = None
    with pytest.raises(ModelError, match="output.front"):
        ModelMetadata.from_dict(d)


def test_band_count_and_pixel_size_checks_explain_the_fix():
    meta = ModelMetadata.from_dict(BASE_METADATA)
    meta.check_band_count(3)
    with pytest.raises(BandCountError, match="expects 3 band.*red, green, blue"):
        meta.check_band_count(1)
    meta.check_pixel_size(30.0)
    meta.check_pixel_size(40.0)  # within the 1.5x tolerance
    with pytest.raises(ModelError, match="pixel size \\(10 m\\).*resample"):
        meta.check_pixel_size(10.0)


def test_network_shape_checks():
    meta = ModelMetadata.from_dict(BASE_METADATA)
    meta.check_network_shapes([None, 3, None, None], [None, 1, None, None])
    with pytest.raises(ModelError, match="takes 4 input channel"):
        meta.check_network_shapes([None, 4, None, None], [None, 1, None, None])
    with pytest.raises(ModelError, match="outputs 3 channel"):
        meta.check_network_shapes([None, 3, None, None], [None, 3, None, None])
    with pytest.raises(ModelError, match="fixed size of 64 px"):
        meta.check_network_shapes([1, 3, 64, 64], [1, 1, 64, 64])


def test_fracture_task_and_input_value_range():
    d = json.loads(json.dumps(BASE_METADATA))
    d["task"] = "fractures"
    d["input"]["value_range"] = [1, 65535]
    meta = ModelMetadata.from_dict(d)
    assert meta.task == "fractures" and (meta.value_range.min, meta.value_range.max) == (1.0, 65535.0)
    assert ModelMetadata.from_json(meta.to_json()) == meta
    assert ModelMetadata.from_dict(BASE_METADATA).value_range is None
    d["input"]["value_range"] = [10, 1]
    with pytest.raises(ModelError, match="value_range"):
        ModelMetadata.from_dict(d)
