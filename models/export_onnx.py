"""Export a trained network to ONNX with its Serac metadata, and check torch and ONNX agree.

:func:`export_onnx` folds batch normalisation into the convolutions, exports the network
with dynamic batch and image size (opset 17, TorchScript exporter), embeds the metadata
JSON in the ONNX ``metadata_props`` under ``"serac"``, mirrors it as ``<model>.json``,
reloads the file through the same runtime the plugin uses, and runs torch and ONNX
Runtime on the same random tiles: the maximum absolute difference of the logits is
returned and the export fails if it exceeds ``tolerance``.

Command line::

    python -m models.export_onnx --weights state.pt --metadata meta.json --output model.onnx
    python -m models.export_onnx --embed-metadata meta.json model.onnx   # (re)embed metadata only

``state.pt`` is a state dict of the training-form network (loaded with weights_only=True).
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("export_onnx")

import argparse
import json
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import ModelError
from ..core.segmentation.model_metadata import METADATA_KEY, ModelMetadata
from ..core.segmentation.runtime import load_model, load_state_dict_safely, onnx_state_dict, write_sidecar
from .unet import build_network, fuse_batchnorm

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


@dataclass
class ExportReport:
    onnx_path: str
    json_path: str
    max_abs_diff: float
    size_bytes: int


def _has_batchnorm(model):
    return any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def _as_metadata(metadata):
    return metadata if isinstance(metadata, ModelMetadata) else ModelMetadata.from_dict(metadata)


def embed_metadata(onnx_path, metadata):
    """Validate ``metadata`` and store it in the ONNX file's metadata_props (key "serac"), in place."""
    import onnx

    meta = _as_metadata(metadata)
    model = onnx.load(os.fspath(onnx_path))
    for prop in list(model.metadata_props):
        if prop.key == METADATA_KEY:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = meta.to_json(indent=None)
    model.producer_name = "serac"
    model.model_version = int("".join(c for c in str(meta.version).split(".")[0] if c.isdigit()) or 0)
    onnx.checker.check_model(model)
    tmp = os.fspath(onnx_path) + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, onnx_path)
    return meta


def export_onnx(model, metadata, path, tolerance=1e-3, check_batch=2, seed=0):
    """Export ``model`` (training or deployed form) to ``path`` with ``metadata``; returns :class:`ExportReport`."""
    meta = _as_metadata(metadata)
    deploy = fuse_batchnorm(model.eval()) if _has_batchnorm(model) else model.eval()
    deploy = deploy.cpu().float()
    if meta.architecture != deploy.architecture:
        meta = ModelMetadata.from_dict({**meta.to_dict(), "architecture": deploy.architecture})
    size = meta.tile_size
    dummy = torch.zeros(meta.network_shape(1, size, size))
    spatial = {0: "batch", len(dummy.shape) - 2: "rows", len(dummy.shape) - 1: "cols"}
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as tmpdir:
        tmp = os.path.join(tmpdir, "model.onnx")
        torch.onnx.export(deploy, (dummy,), tmp, dynamo=False, opset_version=OPSET, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], do_constant_folding=True,
                          dynamic_axes={INPUT_NAME: spatial,
                                        OUTPUT_NAME: {0: "batch", 2: "rows", 3: "cols"}})
        _check_weights_recoverable(tmp, deploy)
        embed_metadata(tmp, meta)
        os.replace(tmp, path)
    json_path = write_sidecar(path, meta)
    diff = compare_torch_onnx(deploy, path, batch=check_batch, seed=seed)
    if model is not deploy and _has_batchnorm(model):
        with torch.no_grad():
            x = torch.from_numpy(np.random.default_rng(seed + 1).normal(size=(check_batch, meta.n_channels, size, size))
                                 .astype(np.float32))
            diff = max(diff, float((model.eval()(x) - deploy(x)).abs().max()))
    if not diff <= tolerance:
        os.remove(path)
        raise ModelError(f"torch and ONNX Runtime outputs differ by {diff:.3g} (> {tolerance:g}) after export.",
                         "check the network for operations the ONNX exporter does not support.")
    return ExportReport(path, json_path, diff, os.path.getsize(path))


def _check_weights_recoverable(onnx_path, deploy):
    """Check that every weight of ``deploy`` can be read back from the ONNX file by name.

    (The exporter merges identical initializers, e.g. all-zero biases, through Identity
    nodes; :func:`serac.core.segmentation.runtime.onnx_state_dict` resolves those.)
    """
    state = onnx_state_dict(onnx_path)
    missing = [k for k in deploy.state_dict() if k not in state]
    if missing:
        raise ModelError(f"The exported ONNX graph lost the names of {len(missing)} weight tensors "
                         f"(e.g. '{missing[0]}'), so torch could not rebuild it.",
                         "report this exporter incompatibility.")


def compare_torch_onnx(deploy, onnx_path, batch=2, seed=0):
    """Max |logit difference| between the torch module and the ONNX file (ONNX Runtime), random tiles."""
    onnx_model = load_model(onnx_path, backend="onnxruntime")
    meta = onnx_model.metadata
    x = np.random.default_rng(seed).normal(size=(batch, meta.n_channels, meta.tile_size, meta.tile_size))
    x = x.astype(np.float32)
    with torch.no_grad():
        ref = deploy.cpu().eval()(torch.from_numpy(x)).numpy()
    return float(np.abs(onnx_model.logits(x) - ref).max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="training-form state dict (.pt), loaded with weights_only=True")
    parser.add_argument("--metadata", help="metadata JSON (must include 'architecture')")
    parser.add_argument("--output", help="ONNX file to write")
    parser.add_argument("--embed-metadata", nargs=2, metavar=("META_JSON", "MODEL_ONNX"),
                        help="only validate META_JSON and embed it into MODEL_ONNX (in place)")
    args = parser.parse_args(argv)
    if args.embed_metadata:
        meta_path, onnx_path = args.embed_metadata
        with open(meta_path, encoding="utf-8") as f:
            meta = embed_metadata(onnx_path, json.load(f))
        write_sidecar(onnx_path, meta)
        print(f"Embedded metadata of '{meta.name}' into {onnx_path}")
        return 0
    if not (args.weights and args.metadata and args.output):
        parser.error("--weights, --metadata and --output are required (or use --embed-metadata)")
    with open(args.metadata, encoding="utf-8") as f:
        meta = ModelMetadata.from_json(f.read())
    model = build_network(meta.architecture, norm=True)
    model.load_state_dict(load_state_dict_safely(args.weights))
    report = export_onnx(model, meta, args.output)
    print(f"Wrote {report.onnx_path} ({report.size_bytes / 1e6:.2f} MB); torch vs ONNX max |diff| = "
          f"{report.max_abs_diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
