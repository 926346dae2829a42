"""SAR backscatter units: dB/linear conversion and detection from parameters, metadata and values."""

import numpy as np
import pytest

from serac.core import raster_io as rio
from serac.core.errors import InputError
from serac.core.sar import units
from serac.core.sar.engine import decide_raster_unit
from serac.core.progress import ConsoleFeedback

PYROSAR = "sar/pyrosar/S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif"


@pytest.fixture(scope="module")
def real_db(shared_data):
    return rio.read_raster(shared_data / PYROSAR)


def test_db_linear_round_trip_and_invalid_power():
    lin = np.array([1.0, 0.1, 0.01, 0.0, -0.001, np.nan], dtype=np.float32)
    db = units.to_db(lin)
    assert db.dtype == np.float32
    np.testing.assert_allclose(db[:3], [0.0, -10.0, -20.0], atol=1e-5)
    assert np.all(np.isnan(db[3:]))  # no dB value for zero, negative or missing power
    np.testing.assert_allclose(units.to_linear(db[:3]), lin[:3], rtol=1e-5)
    block = lin[:3].copy()
    assert units.to_db(block, out=block) is block  # in place


def test_values_of_real_db_image_and_its_linear_version_are_told_apart(real_db):
    db = real_db.data
    assert units.unit_from_values(db)[0] == units.DB
    assert units.unit_from_values(units.to_linear(db))[0] == units.LINEAR
    amplitude_dn = np.random.default_rng(0).uniform(50, 500, 1000)
    assert units.unit_from_values(amplitude_dn)[0] is None


@pytest.mark.parametrize("texts, expected", [
    ([("band description", "Sigma0_VV_db")], units.DB),
    ([("tag UNITS", "decibel")], units.DB),
    ([("band unit", "linear")], units.LINEAR),
    ([("file name", "S1A_VV_grd_mli_geo_norm_db")], units.DB),
    ([("band description", "VV_lin")], units.LINEAR),
    ([("band description", "VV"), ("file name", "dbase_export")], None),  # 'db' only as part of a word
    ([("band description", "VV_db"), ("tag UNIT", "linear")], None),  # contradictory -> undecided
])
def test_unit_from_metadata(texts, expected):
    assert units.unit_from_metadata(texts)[0] == expected


def test_forced_unit_that_contradicts_values_warns(real_db):
    lin = units.to_linear(real_db.data)
    decision = units.decide_unit("dB", lin)
    assert decision.unit == units.DB and decision.source == "parameter"
    assert "look like linear" in decision.warning
    assert units.decide_unit("linear", lin).warning is None


def test_metadata_wins_over_values_but_warns_on_conflict(real_db):
    decision = units.decide_unit("auto", real_db.data, [("band description", "sigma0_linear")])
    assert decision.unit == units.LINEAR and decision.source == "metadata"
    assert "look like dB" in decision.warning


def test_undecidable_unit_asks_for_the_parameter():
    with pytest.raises(InputError, match="unit parameter"):
        units.decide_unit("auto", np.random.default_rng(1).uniform(50, 500, 1000))
    with pytest.raises(InputError, match="Unknown backscatter unit"):
        units.normalize_unit_name("amplitude")


def test_raster_unit_from_file_name_then_values(real_db, shared_data, tmp_path):
    feedback = ConsoleFeedback(verbose=False)
    decision = decide_raster_unit(shared_data / PYROSAR, progress=feedback)
    assert (decision.unit, decision.source) == (units.DB, "metadata")
    plain = tmp_path / "vv.tif"
    rio.write_raster(plain, units.to_linear(real_db.data), real_db.grid)
    decision = decide_raster_unit(plain, progress=feedback)
    assert (decision.unit, decision.source) == (units.LINEAR, "values")
    assert any("backscatter unit linear" in m for m in feedback.messages)
