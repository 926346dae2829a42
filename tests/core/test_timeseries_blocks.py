"""The time-series inversion of one block of the grid (``window``): the same values as the same pixels of a
whole-grid run, so a batch can split a large area into block tasks."""

import os

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from serac.core.errors import InputError
from serac.core.jobs import get_job

S = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "sample_data", "timeseries")
PAIRS = sorted(os.path.abspath(os.path.join(S, f)) for f in os.listdir(S) if f.endswith(".tif"))


def test_a_block_has_the_values_of_the_whole_run(tmp_path):
    job = get_job("velocity_timeseries")
    settings = job.make_settings({"step_days": 30})
    whole = job.run({"input": PAIRS}, {"output": str(tmp_path / "w.tif")}, settings)
    block = job.run({"input": PAIRS}, {"output": str(tmp_path / "b.tif")}, settings, window=(10, 5, 30, 20))
    with rasterio.open(tmp_path / "w.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        expected, got = a.read(window=Window(10, 5, 30, 20)), b.read()
        assert b.descriptions == a.descriptions and b.tags(1) == a.tags(1)
        assert b.transform == a.window_transform(Window(10, 5, 30, 20))
    np.testing.assert_array_equal(got, expected)  # NaN where NaN, bit-identical elsewhere
    assert np.isfinite(got).any()
    assert block.numbers["n_steps"] == whole.numbers["n_steps"] and block.numbers["pixels_solved"] == 600
    with pytest.raises(InputError, match="is not inside the"):
        job.run({"input": PAIRS}, {"output": str(tmp_path / "x.tif")}, settings, window=(120, 0, 30, 20))
    assert not os.path.exists(tmp_path / "x.tif")
