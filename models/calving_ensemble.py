"""One ONNX zone model that averages the calibrated probabilities of several calving-zone models.

:class:`ZoneEnsemble` wraps the deployed networks of member models (ONNX files with Serac metadata,
each a ``serac-unet`` with softmax zones). It takes tiles normalised as the *first* member's metadata says,
undoes that normalisation (sigma0 in dB), normalises and clips them as each member's metadata says, runs each
member, applies its softmax with its calibration temperature, averages the probabilities with equal weights and
returns their logarithm. The ensemble's metadata has temperature 1 and softmax, so the plugin's runtime
(softmax of the output) gives exactly the mean of the members' calibrated probabilities (the mean sums to 1).

Two departures from running the members one by one, for extreme values and nodata only: a pixel that the
first member's clip saturates (beyond about ±6 standard deviations, below -45 or above +23 dB for the shipped
models) reaches the other members clipped there too; and a nodata pixel (filled with 0 in the first member's
normalised units, i.e. its mean) reaches the others at that mean, not at 0 of their own units.

The ensemble names no architecture: it runs on ONNX Runtime only (``load_model`` picks it on ``auto``).
Its tiling is the widest of its members' (context, overlap). Command line::

    python -m models.calving_ensemble --member models/calving_zones_synthetic_v2.onnx \\
        --member models/calving_zones_synthetic_v1.onnx --output models/calving_zones_ensemble.onnx \\
        --name calving_zones_ensemble --version 1.0.0

Its members can be taken out again (:func:`extract_member`), each as a model of its own with its name, version,
normalisation and temperature as the ensemble's metadata records them (e.g. to build a larger ensemble from a
shipped one whose member files were not kept)::

    python -m models.calving_ensemble --extract models/calving_zones_synthetic_v8.onnx --index 0 \\
        --architecture-from models/calving_zones_synthetic_v5.onnx --output v8a.onnx

``--architecture-from`` (a model of the same network) is needed only for ensembles built before their metadata
recorded each member's architecture (up to ``calving_zones_synthetic_v8``).
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("calving_ensemble")

import argparse
import datetime
import os

import torch

from ..core.errors import ModelError
from ..core.segmentation.model_metadata import ModelMetadata
from ..core.segmentation.runtime import build_torch_module, onnx_state_dict, read_metadata
from .export_onnx import export_onnx

#: added to the mean probability before its logarithm (keeps the output finite; changes probabilities by < 1e-6)
EPS = 1e-7


class ZoneEnsemble(torch.nn.Module):
    """Weighted mean of the members' calibrated softmax probabilities, returned as log-probabilities
    (N, k, rows, cols).

    ``members``: deployed networks; ``normalizations``: their metadata's :class:`Normalization` (mean/std
    with optional clip, one band); ``temperatures``: their calibration temperatures; ``weights``: positive,
    normalised to sum 1 (None: equal). Input: tiles normalised with ``normalizations[0]``.
    """

    architecture = None  # torch cannot rebuild it from metadata: ONNX Runtime only

    def __init__(self, members, normalizations, temperatures, weights=None):
        super().__init__()
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if not (len(members) == len(normalizations) == len(temperatures) == len(weights) >= 2):
            raise ValueError("an ensemble needs at least two members, each with its normalisation, temperature and "
                             "weight")
        if min(weights) <= 0:
            raise ValueError("ensemble weights must be positive")
        self.weights = [w / sum(weights) for w in weights]
        self.members = torch.nn.ModuleList(members)
        first = normalizations[0]
        self.register_buffer("in_offset", torch.tensor(float(first.offset[0])))
        self.register_buffer("in_scale", torch.tensor(float(first.scale[0])))
        self.norms = [(float(n.offset[0]), float(n.scale[0]), tuple(n.clip) if n.clip is not None else None)
                      for n in normalizations]
        self.temperatures = [float(t) for t in temperatures]

    def forward(self, x):
        raw = x * self.in_scale + self.in_offset
        total = None
        for net, (offset, scale, clip), t, w in zip(self.members, self.norms, self.temperatures, self.weights):
            xi = (raw - offset) / scale
            if clip is not None:
                xi = torch.clamp(xi, clip[0], clip[1])
            p = w * torch.softmax(net(xi) / t, dim=1)
            total = p if total is None else total + p
        return torch.log(total + EPS)


def load_member(path):
    """(deployed network, metadata) of a member ONNX file; a calving-zone serac-unet with softmax zones."""
    meta = read_metadata(path)
    if meta.task != "calving_front_zones" or meta.activation != "softmax" or not meta.architecture:
        raise ValueError(f"{os.path.basename(path)}: an ensemble member must be a calving_front_zones softmax "
                         "model whose metadata names its architecture")
    return build_torch_module(meta, onnx_state_dict(path), os.path.basename(path)), meta


def ensemble_metadata(metas, name, version, weights):
    """Metadata of the ensemble of ``metas`` (with normalised ``weights``): the first member's input, widest
    tiling, temperature 1."""
    first = metas[0]
    for m in metas[1:]:
        if (m.classes, m.front, m.n_channels, m.pixel_size_m) != (first.classes, first.front, first.n_channels,
                                                                  first.pixel_size_m):
            raise ValueError(f"member {m.name} differs from {first.name} in classes, front, bands or pixel size")
    d = first.to_dict()
    d.pop("architecture", None)
    d["output"].pop("temperature", None)
    context = max(m.context_px for m in metas)
    d.update(name=name, version=version,
             description=("Glacier / ocean / rock zones from one SAR backscatter band: the mean of the calibrated "
                          f"probabilities of {', '.join(m.name for m in metas)}"
                          f"{'' if len(set(weights)) == 1 else ' (weighted)'}; the calving front is the glacier-ocean "
                          "boundary. Trained on SIMULATED scenes only."),
             tiling=dict(d["tiling"], context_px=context, overlap=max(m.overlap for m in metas)))
    d["training"] = {
        "data": "none of its own: a weighted mean of the members' calibrated probabilities",
        "members": [{"name": m.name, "version": m.version, "weight": round(w, 4), "temperature": m.temperature,
                     "normalization": m.normalization.to_dict(), "architecture": dict(m.architecture)}
                    for m, w in zip(metas, weights)],
        "labels": "simulated zones", "date": datetime.date.today().isoformat(),
        "region": first.training.get("region"), "sensor": first.training.get("sensor"),
        "season": first.training.get("season"), "limits": first.training.get("limits"),
        "script": "python -m models.calving_ensemble", "base_model": None, "device": "cpu"}
    return d


def build(member_paths, output, name, version, weights=None):
    """Build, export and check the ensemble of ``member_paths`` (``weights``: None = equal); returns the
    :class:`ExportReport`."""
    loaded = [load_member(p) for p in member_paths]
    metas = [m for _, m in loaded]
    module = ZoneEnsemble([n for n, _ in loaded], [m.normalization for m in metas],
                          [m.temperature for m in metas], weights).eval()
    meta = ensemble_metadata(metas, name, version, module.weights)
    return export_onnx(module, meta, output, tolerance=1e-4)


def extract_member(ensemble_path, index, output, architecture=None):
    """Write member ``index`` (0, 1, ...) of the ensemble file ``ensemble_path`` as a model of its own at ``output``:
    its weights as the ensemble holds them, its name, version, normalisation and temperature as the ensemble's
    metadata records them, the ensemble's tiling; returns the :class:`ExportReport`.

    ``architecture``: the members' network (a metadata ``architecture`` dict) where the ensemble's metadata does
    not record it (ensembles built before it did). Raises ValueError naming the fix for a file that is not an
    ensemble, an index out of range, an unknown architecture or weights that do not fit it.
    """
    meta = read_metadata(ensemble_path)
    members = (meta.training or {}).get("members") or []
    name = os.path.basename(os.fspath(ensemble_path))
    if meta.architecture or not members:
        raise ValueError(f"{name} is not an ensemble built by python -m models.calving_ensemble (no members)")
    if not 0 <= index < len(members):
        raise ValueError(f"{name} has {len(members)} members: --index 0 to {len(members) - 1}")
    record = members[index]
    architecture = record.get("architecture") or architecture
    if not architecture:
        raise ValueError(f"{name} does not record its members' architecture: pass --architecture-from a model of "
                         "the same network (e.g. the model the members were trained like)")
    prefix = f"members.{index}."
    state = {k[len(prefix):]: v for k, v in onnx_state_dict(ensemble_path).items() if k.startswith(prefix)}
    d = meta.to_dict()
    d.update(name=record["name"], version=record["version"], architecture=dict(architecture),
             description=f"Member {index} of the ensemble {meta.name} {meta.version}, taken out of its file "
                         f"(python -m models.calving_ensemble --extract). The ensemble: {meta.description}")
    d["input"]["normalization"] = record["normalization"]
    d["output"]["temperature"] = record["temperature"]
    d["training"] = dict({k: v for k, v in (meta.training or {}).items() if k not in ("members", "metrics", "data")},
                         data=f"member {index} of the ensemble {meta.name} {meta.version} (its training is recorded "
                              "in that model's card)", extracted_from=f"{meta.name} {meta.version}")
    member_meta = ModelMetadata.from_dict(d)
    try:
        module = build_torch_module(member_meta, state, name)
    except ModelError as exc:
        raise ValueError(f"member {index} of {name}: {exc}") from None
    return export_onnx(module, member_meta, output, tolerance=1e-4)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--member", action="append", help="member ONNX model (repeat; first sets the input)")
    p.add_argument("--output", required=True, help="ONNX file to write (metadata JSON written beside it)")
    p.add_argument("--name", help="the ensemble's name (with --member)")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--weight", type=float, action="append", help="member weight, in --member order (default: equal)")
    p.add_argument("--extract", metavar="ENSEMBLE", help="instead: write member --index of this ensemble file")
    p.add_argument("--index", type=int, default=0, help="with --extract: the member (0, 1, ...)")
    p.add_argument("--architecture-from", metavar="MODEL",
                   help="with --extract: a model of the members' network, for ensembles that do not record it")
    a = p.parse_args(argv)
    if a.extract and a.member:
        p.error("--extract takes one ensemble file; --member builds one")
    if not a.extract and (not a.member or not a.name):
        p.error("give --member (at least two) and --name, or --extract ENSEMBLE")
    if a.weight and len(a.weight) != len(a.member or []):
        p.error("give one --weight per --member (or none)")
    torch.set_num_threads(1)
    try:  # a missing or unreadable model file, members that cannot be averaged, a member that is not there
        if a.extract:
            architecture = read_metadata(a.architecture_from).architecture if a.architecture_from else None
            report = extract_member(a.extract, a.index, a.output, architecture)
        else:
            report = build(a.member, a.output, a.name, a.version, a.weight)
    except (ValueError, ModelError) as exc:
        p.error(str(exc))
    print(f"Wrote {report.onnx_path} ({report.size_bytes / 1e6:.2f} MB); torch vs ONNX max |diff| = "
          f"{report.max_abs_diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
