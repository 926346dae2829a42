"""Run a segmentation network on ONNX Runtime (CPU) or torch (CPU/CUDA) behind one interface.

:func:`load_model` opens a model, validates its metadata and returns a
:class:`SegmentationModel` whose :meth:`~SegmentationModel.predict` turns a batch of
normalised tiles (N, bands, rows, cols) into class probabilities (N, k, rows, cols).

Model files:

* ``*.onnx`` — the canonical form. Metadata comes from the ONNX ``metadata_props`` key
  ``"serac"``, or else from a ``<model>.json`` file beside it. ONNX Runtime runs any such
  model. torch runs it when the metadata names an architecture Serac knows
  (``serac-unet``): the network is rebuilt from ``serac.core.segmentation.unet`` and its weights are
  read from the ONNX initializers (no separate weights file).
* ``*.pt`` / ``*.pth`` — a torch *state dict* with a ``<model>.json`` metadata file beside
  it; torch backends only. It is loaded with ``torch.load(..., weights_only=True)`` only:
  a file holding pickled Python objects is refused, never unpickled.

Anything else is refused. torch is imported only when a torch backend is used, so ONNX
Runtime alone is enough for inference (inside QGIS, say).
"""

import os

import numpy as np

from ..backend import BackendChoice, select_backend
from ..errors import DependencyMissing, ModelError
from .model_metadata import METADATA_KEY, ModelMetadata

SUPPORTED_BACKENDS = ("torch-cpu", "torch-cuda", "onnxruntime")
STATE_DICT_SUFFIXES = (".pt", ".pth")


def sidecar_json_path(path):
    return os.path.splitext(os.fspath(path))[0] + ".json"


def _read_sidecar(path):
    side = sidecar_json_path(path)
    if not os.path.isfile(side):
        return None
    with open(side, encoding="utf-8") as f:
        return ModelMetadata.from_json(f.read())


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise DependencyMissing("onnxruntime", "to run ONNX models") from None
    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


def _open_onnx_session(path, threads=None):
    ort = _ort()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(os.fspath(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"'{os.path.basename(os.fspath(path))}' is not a valid ONNX model ({_short(exc)}).",
                         "check that the file is complete and was exported to ONNX; re-download or re-export it.") from None


def _short(exc, n=200):
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[:n] + "..."


def _shape(value_info):
    return [d if isinstance(d, int) else None for d in value_info.shape]


def read_metadata(path):
    """The validated :class:`ModelMetadata` of a model file (ONNX or state dict + JSON)."""
    path = os.fspath(path)
    _require_file(path)
    if path.lower().endswith(".onnx"):
        session = _open_onnx_session(path, threads=1)
        return _onnx_metadata(session, path)
    if path.lower().endswith(STATE_DICT_SUFFIXES):
        meta = _read_sidecar(path)
        if meta is None:
            raise ModelError(f"The weights file '{os.path.basename(path)}' has no metadata file beside it.",
                             f"put the model's metadata JSON at '{os.path.basename(sidecar_json_path(path))}'.")
        return meta
    _refuse(path)


def _require_file(path):
    if not os.path.isfile(path):
        raise ModelError(f"Model file '{path}' does not exist.", "choose an existing .onnx model file.")


def _refuse(path):
    raise ModelError(f"'{os.path.basename(path)}' is not a supported model file.",
                     "use an ONNX model (.onnx) with Serac metadata, or a torch state dict (.pt/.pth) "
                     "with its metadata JSON beside it; pickled models are never loaded.")


def _onnx_metadata(session, path):
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY in props:
        meta = ModelMetadata.from_json(props[METADATA_KEY])
    else:
        meta = _read_sidecar(path)
        if meta is None:
            raise ModelError(
                f"ONNX model '{os.path.basename(path)}' carries no Serac metadata (key '{METADATA_KEY}').",
                "embed it with 'python -m models.export_onnx --embed-metadata META.json MODEL.onnx' or put the "
                f"metadata JSON at '{os.path.basename(sidecar_json_path(path))}'.")
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise ModelError(f"ONNX model '{os.path.basename(path)}' has {len(inputs)} inputs; Serac needs one "
                         "(batch, bands, rows, cols) image input.", "export the network with a single input.")
    meta.check_network_shapes(_shape(inputs[0]), _shape(outputs[0]))
    return meta


# ---------------------------------------------------------------------------- sessions
class OnnxSession:
    """ONNX Runtime (CPU) session returning the network's raw output."""

    def __init__(self, session):
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_name = session.get_outputs()[0].name
        batch = _shape(session.get_inputs()[0])[0]
        #: a network exported with a fixed batch size (often 1) is run that many tiles at a time
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None

    def _run(self, batch):
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]

    def __call__(self, batch):
        n = self.fixed_batch
        if n is None or len(batch) == n:
            return self._run(batch)
        parts = []
        for i in range(0, len(batch), n):
            part = batch[i:i + n]
            k = len(part)
            if k < n:  # pad the last group to the fixed size, keep the first k results
                part = np.concatenate([part, np.zeros((n - k,) + part.shape[1:], dtype=part.dtype)])
            parts.append(self._run(part)[:k])
        return np.concatenate(parts)


class TorchSession:
    """A torch module on ``device`` ('cpu' or 'cuda') returning the network's raw output as numpy."""

    def __init__(self, module, device="cpu"):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()

    def __call__(self, batch):
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device)
            return self.module(x).float().cpu().numpy()


def _torch():
    try:
        import torch
    except ImportError:
        raise DependencyMissing("torch", "for the torch backends (GPU inference, training)") from None
    return torch


def onnx_state_dict(path):
    """The ONNX file's named weights (initializers, and their Identity aliases) as a torch state dict."""
    torch = _torch()
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise DependencyMissing("onnx", "to run an ONNX model on torch") from None
    try:
        model = onnx.load(os.fspath(path))
    except Exception as exc:
        raise ModelError(f"Cannot read ONNX model '{os.path.basename(os.fspath(path))}' ({_short(exc)}).",
                         "check that the file is complete; re-export it.") from None
    state = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in model.graph.initializer}
    for node in model.graph.node:  # the exporter aliases identical weights through Identity nodes
        if node.op_type == "Identity" and node.input[0] in state:
            state[node.output[0]] = state[node.input[0]]
    return state


def load_state_dict_safely(path):
    """A flat {name: tensor} state dict from a .pt/.pth file, loaded with ``weights_only=True``.

    Files with pickled Python objects (whole models, custom classes) are refused.
    """
    torch = _torch()
    try:
        state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"Refused to load '{os.path.basename(os.fspath(path))}': it is not a plain tensor state dict "
            f"({_short(exc, 160)}). Serac never unpickles arbitrary Python objects.",
            "save only the weights with torch.save(model.state_dict(), path), or use the ONNX model.") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise ModelError(f"'{os.path.basename(os.fspath(path))}' does not hold a {{name: tensor}} state dict.",
                         "save it with torch.save(model.state_dict(), path).")
    return state


def build_torch_module(metadata, state_dict, source):
    """The deployed network of ``metadata.architecture`` with ``state_dict`` loaded (strict)."""
    if not metadata.architecture:
        raise ModelError(f"Model '{metadata.name}' names no architecture, so torch cannot rebuild it.",
                         "run it on the 'onnxruntime' backend.")
    from .unet import build_network

    try:
        module = build_network(metadata.architecture, norm=False)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"Model '{metadata.name}': {exc}.", "run it on the 'onnxruntime' backend.") from None
    wanted = module.state_dict()
    missing = [k for k in wanted if k not in state_dict]
    if missing:
        raise ModelError(f"The weights in '{source}' do not match architecture {metadata.architecture} "
                         f"({len(missing)} tensors missing, e.g. '{missing[0]}').",
                         "run the model on the 'onnxruntime' backend, or re-export it with models/export_onnx.py.")
    bad = [k for k, v in wanted.items() if tuple(state_dict[k].shape) != tuple(v.shape)]
    if bad:
        raise ModelError(f"The weights in '{source}' have the wrong shape for '{bad[0]}' "
                         f"({tuple(state_dict[bad[0]].shape)} instead of {tuple(wanted[bad[0]].shape)}).",
                         "check that the metadata's architecture matches the weights.")
    module.load_state_dict({k: state_dict[k].float() for k in wanted})
    return module.eval()


# ---------------------------------------------------------------------------- model
class SegmentationModel:
    """A loaded model: its metadata, the backend it runs on, and :meth:`predict`."""

    def __init__(self, metadata, session, backend, path=None):
        self.metadata = metadata
        self.session = session
        self.backend = backend  # core.backend.BackendChoice
        self.path = path

    @property
    def backend_label(self):
        return self.backend.label

    def logits(self, batch):
        """Raw network output for a batch of normalised tiles (N, bands, rows, cols); time-series models: the
        bands of every date, date after date (N, dates x bands, rows, cols), given to the network 5-D."""
        batch = np.asarray(batch, dtype=np.float32)
        meta = self.metadata
        if batch.ndim != 4 or batch.shape[1] != meta.n_channels:
            raise ModelError(f"A batch of shape {batch.shape} was given to a {meta.n_channels}-channel model.")
        out = np.asarray(self.session(batch.reshape(meta.network_shape(len(batch), *batch.shape[2:]))),
                         dtype=np.float32)
        if out.ndim != 4 or out.shape[0] != batch.shape[0] or out.shape[1] != self.metadata.n_outputs \
                or out.shape[2:] != batch.shape[2:]:
            raise ModelError(f"Model '{self.metadata.name}' returned shape {out.shape} for input {batch.shape}; "
                             f"expected ({batch.shape[0]}, {self.metadata.n_outputs}, {batch.shape[2]}, "
                             f"{batch.shape[3]}).", "check the model's output semantics in its metadata.")
        return out

    def predict(self, batch):
        """Class probabilities (N, k, rows, cols), float32: k = 1 (sigmoid) or the class count (softmax).

        The one place the model's calibration applies, whatever the backend: logits are divided
        by the metadata's ``temperature`` before the activation.
        """
        logits = self.logits(batch)
        if self.metadata.temperature != 1.0:
            logits = logits / np.float32(self.metadata.temperature)
        return activate(logits, self.metadata.activation)


def activate(logits, activation):
    """Sigmoid or softmax (over axis 1) of network logits, numerically stable, float32."""
    logits = np.asarray(logits, dtype=np.float32)
    if activation == "sigmoid":
        return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def load_model(path, backend="auto", threads=None):
    """Open a model file and return a :class:`SegmentationModel` on the chosen backend.

    ``backend``: ``auto`` (torch on CUDA when available, else ONNX Runtime on CPU),
    ``onnxruntime``, ``torch-cpu`` or ``torch-cuda``. ``threads``: CPU threads for ONNX
    Runtime (default: all cores). The choice made is in ``model.backend`` (with the reason).
    """
    path = os.fspath(path)
    _require_file(path)
    lower = path.lower()
    is_onnx = lower.endswith(".onnx")
    if not is_onnx and not lower.endswith(STATE_DICT_SUFFIXES):
        _refuse(path)
    session = _open_onnx_session(path, threads) if is_onnx else None
    metadata = _onnx_metadata(session, path) if is_onnx else read_metadata(path)
    if not is_onnx and (backend or "auto") == "auto":
        backend = "torch-cuda" if _cuda() else "torch-cpu"
    if not is_onnx and backend == "onnxruntime":
        raise ModelError("A torch state dict cannot run on ONNX Runtime.",
                         "export the model to ONNX (python -m models.export_onnx) or choose a torch backend.")
    choice = select_backend(backend, supported=SUPPORTED_BACKENDS, cpu_default="onnxruntime")
    if choice.name == "torch" and choice.reason.startswith("auto") and not metadata.architecture:
        # a GPU is there but torch cannot rebuild this network: ONNX Runtime on CPU instead
        choice = BackendChoice("onnxruntime", "cpu", "auto: the model names no architecture torch can rebuild")
    if choice.name == "onnxruntime":
        return SegmentationModel(metadata, OnnxSession(session), choice, path)
    state = onnx_state_dict(path) if is_onnx else load_state_dict_safely(path)
    module = build_torch_module(metadata, state, os.path.basename(path))
    if threads and choice.device == "cpu":
        _torch().set_num_threads(int(threads))
    return SegmentationModel(metadata, TorchSession(module, choice.device), choice, path)


def _cuda():
    from ..backend import cuda_available

    return cuda_available()


def write_sidecar(path, metadata):
    """Write ``metadata`` as the ``<model>.json`` mirror beside ``path``; returns its path."""
    side = sidecar_json_path(path)
    with open(side, "w", encoding="utf-8") as f:
        f.write(metadata.to_json() + "\n")
    return side


__all__ = ["SegmentationModel", "load_model", "read_metadata", "activate", "onnx_state_dict",
           "load_state_dict_safely", "build_torch_module", "write_sidecar", "sidecar_json_path"]
