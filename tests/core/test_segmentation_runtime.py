"""Model runtime: ONNX Runtime vs torch agreement, safe loading, refusal of bad files."""

import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from serac.core.errors import ModelError
from serac.core.segmentation.model_metadata import METADATA_KEY
from serac.core.segmentation.runtime import activate, load_model, read_metadata, sidecar_json_path

from tests.conftest import requires_gpu
from tests.core.test_segmentation_support import BASE_METADATA, tiny_model

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kind", ["glacier", "zones"])
def test_onnx_runtime_and_torch_agree(kind):
    path = tiny_model(kind)
    ort_model = load_model(path, backend="onnxruntime")
    torch_model = load_model(path, backend="torch-cpu")
    assert ort_model.backend.name == "onnxruntime" and torch_model.backend.name == "torch"
    meta = ort_model.metadata
    x = np.random.default_rng(3).normal(size=(3, meta.n_bands, 48, 64)).astype(np.float32)
    a, b = ort_model.predict(x), torch_model.predict(x)
    assert a.shape == (3, meta.n_outputs, 48, 64)
    assert np.abs(a - b).max() < 1e-5
    if kind == "zones":
        np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-5)
    assert 0 <= a.min() and a.max() <= 1


def test_auto_backend_without_gpu_is_onnxruntime_and_says_why():
    model = load_model(tiny_model(), backend="auto")
    if not torch.cuda.is_available():
        assert model.backend.name == "onnxruntime" and "no CUDA" in model.backend.reason


@requires_gpu
def test_torch_cuda_matches_onnxruntime():
    path = tiny_model()
    x = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32)
    gpu = load_model(path, backend="torch-cuda")
    assert gpu.backend.device == "cuda"
    assert np.abs(gpu.predict(x) - load_model(path, backend="onnxruntime").predict(x)).max() < 1e-4


def test_metadata_is_embedded_and_mirrored(tmp_path):
    import onnx

    path = tiny_model()
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert json.loads(props[METADATA_KEY])["name"] == "tiny_test"
    with open(sidecar_json_path(path)) as f:
        assert json.load(f)["architecture"]["name"] == "serac-unet"
    assert read_metadata(path).tile_size == 32


def test_corrupt_onnx_file_raises_model_error(tmp_path):
    good = open(tiny_model(), "rb").read()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        load_model(bad)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ModelError):
        load_model(junk)
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "missing.onnx")


def test_onnx_without_metadata_is_refused_unless_a_json_sits_beside_it(tmp_path):
    import onnx

    model = onnx.load(tiny_model())
    del model.metadata_props[:]
    path = tmp_path / "bare.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="carries no Serac metadata"):
        load_model(path)
    shutil.copy(sidecar_json_path(tiny_model()), sidecar_json_path(path))
    assert load_model(path, backend="onnxruntime").metadata.name == "tiny_test"


def test_metadata_band_count_must_match_the_network(tmp_path):
    import onnx

    model = onnx.load(tiny_model())
    meta = json.loads({p.key: p.value for p in model.metadata_props}[METADATA_KEY])
    meta["input"]["bands"] = meta["input"]["bands"][:2]
    meta["input"]["normalization"] = {"method": "mean_std", "mean": [0, 0], "std": [1, 1]}
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            p.value = json.dumps(meta)
    path = tmp_path / "mismatch.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="takes 3 input channel"):
        load_model(path)


def test_state_dict_with_json_loads_on_torch_and_matches_onnx(tmp_path):
    from serac.core.segmentation.runtime import onnx_state_dict

    path = tmp_path / "weights.pt"
    torch.save(onnx_state_dict(tiny_model()), path)
    shutil.copy(sidecar_json_path(tiny_model()), sidecar_json_path(path))
    model = load_model(path)
    assert model.backend.name == "torch"
    x = np.random.default_rng(1).normal(size=(1, 3, 32, 32)).astype(np.float32)
    assert np.abs(model.predict(x) - load_model(tiny_model(), "onnxruntime").predict(x)).max() < 1e-5
    with pytest.raises(ModelError, match="cannot run on ONNX Runtime"):
        load_model(path, backend="onnxruntime")


class _Exploit:
    """Unpickling this would create a marker file (code execution)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_pickled_objects_are_refused_and_never_executed(tmp_path):
    marker = str(tmp_path / "pwned")
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"conv.weight": _Exploit(marker)}, f)
    shutil.copy(sidecar_json_path(tiny_model()), sidecar_json_path(evil))
    with pytest.raises(ModelError, match="never unpickles"):
        load_model(evil)
    assert not os.path.exists(marker)

    from serac.models.unet import UNet

    whole = tmp_path / "whole_model.pth"  # a pickled nn.Module, not a state dict
    torch.save(UNet(3, 1, 4, 2), whole)
    shutil.copy(sidecar_json_path(tiny_model()), sidecar_json_path(whole))
    with pytest.raises(ModelError, match="Refused to load"):
        load_model(whole)


def test_other_file_types_are_refused(tmp_path):
    for name in ("model.pkl", "model.ckpt", "model.h5"):
        p = tmp_path / name
        p.write_bytes(b"\x80\x04N.")
        with pytest.raises(ModelError, match="not a supported model file"):
            load_model(p)


def test_state_dict_without_metadata_is_refused(tmp_path):
    path = tmp_path / "lonely.pt"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(ModelError, match="no metadata file"):
        load_model(path)


def test_activation_is_stable_for_large_logits():
    logits = np.array([[[[1000.0]], [[-1000.0]], [[0.0]]]], np.float32)
    p = activate(logits, "softmax")
    np.testing.assert_allclose(p[0, :, 0, 0], [1, 0, 0], atol=1e-6)
    s = activate(np.array([-1000.0, 0.0, 1000.0], np.float32), "sigmoid")
    np.testing.assert_allclose(s, [0, 0.5, 1], atol=1e-6)


def test_core_segmentation_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None; sys.path.insert(0, %r);"
            "import serac.core.segmentation as s; m = s.load_model(%r, backend='onnxruntime');"
            "print(m.backend.name)") % (os.path.join(os.path.dirname(__file__), "..", "..", "build", "pluginpath"),
                                       tiny_model())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "onnxruntime"


def test_export_detects_disagreement(tmp_path, monkeypatch):
    from serac.models import export_onnx as ex
    from serac.models.unet import UNet

    monkeypatch.setattr(ex, "compare_torch_onnx", lambda *a, **k: 0.5)
    with pytest.raises(ModelError, match="differ by 0.5"):
        ex.export_onnx(UNet(3, 1, 4, 2), BASE_METADATA, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
