"""The same correlation on numpy and torch (CPU, and CUDA when present) gives the same offsets."""

import numpy as np
import pytest

from serac.core.errors import InputError
from serac.core.raster_io import read_raster
from serac.core.velocity.backends import NumpyOps, make_ops
from serac.core.velocity.engine import CorrelationParams, track_arrays
from serac.core.velocity.synthetic import add_noise, warp
from tests.conftest import requires_gpu

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def pair(shared_data):
    """Everest band 4 crop and a copy warped by a smooth shear field plus noise."""
    path = shared_data / "optical" / "everest_landsat" / "LE71400412000304SGS00_B4_cropped.tif"
    ref = read_raster(path).band(1).astype(np.float64)
    rows, cols = np.mgrid[0:ref.shape[0], 0:ref.shape[1]]
    dy = 0.8 + 0.004 * cols
    dx = -1.5 + 0.003 * rows
    return add_noise(ref, 1.0, 1), add_noise(warp(ref, dy, dx), 1.0, 2)


def compare(pair, backend, prefilter):
    params = CorrelationParams(search=6, prefilter=prefilter)
    a = track_arrays(*pair, params, backend="numpy")
    b = track_arrays(*pair, params, backend=backend)
    both = a.valid & b.valid
    assert both.sum() > 0.6 * a.status.size
    assert (a.valid != b.valid).mean() < 0.01  # thresholds may flip only for borderline points
    np.testing.assert_allclose(a.dx[both], b.dx[both], atol=1e-3)
    np.testing.assert_allclose(a.dy[both], b.dy[both], atol=1e-3)
    np.testing.assert_allclose(a.ncc[both], b.ncc[both], atol=1e-4)


@pytest.mark.parametrize("prefilter", ["wallis", "orientation"])
def test_torch_cpu_matches_numpy(pair, prefilter):
    compare(pair, "torch-cpu", prefilter)


@requires_gpu
@pytest.mark.gpu
def test_torch_cuda_matches_numpy(pair):
    compare(pair, "torch-cuda", "wallis")


def test_gather_windows_is_the_same_on_both_backends():
    img = np.arange(2 * 20 * 30, dtype=np.float32).reshape(2, 20, 30)
    rows, cols = np.array([0, 5, 12]), np.array([3, 0, 20])
    ops_t, _ = make_ops("torch-cpu")
    a = NumpyOps().windows(img, rows, cols, 8, 10)
    b = ops_t.to_numpy(ops_t.windows(ops_t.asarray(img), ops_t.index(rows), ops_t.index(cols), 8, 10))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[1, 0], img[0, 5:13, 0:10])


def test_backend_names():
    ops, choice = make_ops("numpy")
    assert ops.name == "numpy" and choice.label == "numpy"
    ops, choice = make_ops("torch-cpu")
    assert ops.name == "torch" and str(ops.device) == "cpu"
    with pytest.raises(InputError):
        make_ops("onnxruntime")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            make_ops("torch-cuda")
