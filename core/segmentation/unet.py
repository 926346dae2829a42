"""A compact U-Net-like encoder-decoder for glacier and calving-front segmentation.

Training uses convolution + batch normalisation blocks. For deployment the batch
normalisation is folded into the convolutions (:func:`fuse_batchnorm`), which gives a
plain convolutional network whose parameter names are exactly the initializer names of
the exported ONNX graph. That is what lets :mod:`serac.core.segmentation.runtime` run an
ONNX file on torch (CUDA) without any separate weights file, and lets fine-tuning start
from a shipped ONNX model (:func:`unfuse_batchnorm`).

The architecture is described by a small JSON-able dict stored in the model metadata::

    {"name": "serac-unet", "in_channels": 3, "out_channels": 1, "base_channels": 16, "depth": 3}

Input sizes must be multiples of ``2 ** depth`` px (the metadata's ``size_multiple``).

Time-series models (:class:`TemporalUNet`, after the 3D-convolution approach of Maslov et al.,
IGARSS 2024, for glacier mapping from Sentinel-1 time series): a 3x3x3 convolution over
(dates, rows, cols) shared by all positions, ReLU, then the mean and the maximum over the dates
(temporal pooling) feed a :class:`UNet`::

    {"name": "serac-temporal-unet", "in_channels": 1, "dates": 6, "temporal_channels": 8,
     "out_channels": 1, "base_channels": 16, "depth": 3}

Its input is (N, dates, bands, rows, cols); (N, dates x bands, rows, cols), the bands of every
date one date after the other, is accepted too (the tiles the training sampler cuts).
"""

import torch
from torch import nn

ARCHITECTURE_NAME = "serac-unet"
TEMPORAL_ARCHITECTURE_NAME = "serac-temporal-unet"


class ConvBlock(nn.Module):
    """Two 3x3 convolutions, each followed by batch norm (training form) and ReLU."""

    def __init__(self, cin, cout, norm=True):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=not norm)
        self.norm1 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=not norm)
        self.norm2 = nn.BatchNorm2d(cout) if norm else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.act(self.norm1(self.conv1(x)))
        return self.act(self.norm2(self.conv2(x)))


class UNet(nn.Module):
    """U-Net with ``depth`` down/up-sampling levels; ``base_channels`` filters at full resolution.

    Outputs raw logits (N, out_channels, H, W); the activation (sigmoid or softmax) is
    applied by the runtime according to the model metadata.
    """

    def __init__(self, in_channels, out_channels, base_channels=16, depth=3, norm=True):
        super().__init__()
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.architecture = architecture(in_channels, out_channels, base_channels, depth)
        widths = [base_channels * 2 ** i for i in range(depth + 1)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.encoders.append(ConvBlock(cin, w, norm))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = ConvBlock(widths[-2], widths[-1], norm)
        self.upsamplers = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for i in range(depth - 1, -1, -1):
            self.upsamplers.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2))
            self.decoders.append(ConvBlock(2 * widths[i], widths[i], norm))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x):
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.upsamplers, self.decoders, reversed(skips)):
            x = decoder(torch.cat([up(x), skip], dim=1))
        return self.head(x)


class TemporalUNet(nn.Module):
    """Time-series segmentation: 3D convolution over (dates, rows, cols), mean + max over dates, :class:`UNet`.

    Outputs raw logits (N, out_channels, H, W) like :class:`UNet`.
    """

    def __init__(self, in_channels, dates, out_channels, temporal_channels=8, base_channels=16, depth=3,
                 norm=True):
        super().__init__()
        if dates < 2:
            raise ValueError("a time-series network needs at least 2 dates")
        self.dates, self.in_channels = int(dates), int(in_channels)
        self.temporal = nn.Conv3d(in_channels, temporal_channels, 3, padding=1)
        self.unet = UNet(2 * temporal_channels, out_channels, base_channels, depth, norm)
        self.architecture = dict(self.unet.architecture, name=TEMPORAL_ARCHITECTURE_NAME,
                                 in_channels=int(in_channels), dates=int(dates),
                                 temporal_channels=int(temporal_channels))

    def forward(self, x):
        if x.dim() == 4:  # (N, dates x bands, H, W), date after date
            x = x.reshape(x.shape[0], self.dates, self.in_channels, x.shape[2], x.shape[3])
        y = torch.relu(self.temporal(x.transpose(1, 2)))  # (N, temporal_channels, dates, H, W)
        return self.unet(torch.cat([y.mean(dim=2), y.amax(dim=2)], dim=1))


def architecture(in_channels, out_channels, base_channels=16, depth=3):
    """The JSON-able description of a :class:`UNet` (stored in the model metadata)."""
    return {"name": ARCHITECTURE_NAME, "in_channels": int(in_channels), "out_channels": int(out_channels),
            "base_channels": int(base_channels), "depth": int(depth)}


def build_network(arch, norm=True):
    """A :class:`UNet` from its architecture dict (``norm=False``: the deployed, BN-folded form)."""
    name = arch.get("name") if isinstance(arch, dict) else arch
    if name == TEMPORAL_ARCHITECTURE_NAME:
        return TemporalUNet(arch["in_channels"], arch["dates"], arch["out_channels"], arch.get("temporal_channels", 8),
                            arch.get("base_channels", 16), arch.get("depth", 3), norm=norm)
    if name != ARCHITECTURE_NAME:
        raise ValueError(f"unknown architecture {name!r}; this version knows {ARCHITECTURE_NAME!r} and "
                         f"{TEMPORAL_ARCHITECTURE_NAME!r}")
    return UNet(arch["in_channels"], arch["out_channels"], arch.get("base_channels", 16),
                arch.get("depth", 3), norm=norm)


def _conv_blocks(model):
    return [m for m in model.modules() if isinstance(m, ConvBlock)]


@torch.no_grad()
def fuse_batchnorm(model):
    """Deployed copy of a trained :class:`UNet`: each conv + batch norm folded into one conv.

    Uses the batch-norm running statistics (eval-mode behaviour); the result computes
    the same function as ``model.eval()`` up to float rounding.
    """
    deploy = build_network(model.architecture, norm=False)
    deploy.load_state_dict({k: v for k, v in model.state_dict().items() if not _is_block_param(k)},
                           strict=False)
    for src, dst in zip(_conv_blocks(model), _conv_blocks(deploy)):
        for conv, bn, out in ((src.conv1, src.norm1, dst.conv1), (src.conv2, src.norm2, dst.conv2)):
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            out.weight.copy_(conv.weight * scale[:, None, None, None])
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            out.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return deploy.eval()


@torch.no_grad()
def unfuse_batchnorm(deploy):
    """Training-form :class:`UNet` computing exactly what a deployed (BN-folded) one computes.

    Batch norms get identity statistics (mean 0, variance 1 - eps, weight 1) and the folded
    conv bias as their bias. Fine-tune it with batch norms kept in eval mode
    (:func:`freeze_batchnorm_statistics`) so that this identity is preserved.
    """
    model = build_network(deploy.architecture, norm=True)
    model.load_state_dict({k: v for k, v in deploy.state_dict().items() if not _is_block_param(k)},
                          strict=False)
    for src, dst in zip(_conv_blocks(deploy), _conv_blocks(model)):
        for conv, out, bn in ((src.conv1, dst.conv1, dst.norm1), (src.conv2, dst.conv2, dst.norm2)):
            out.weight.copy_(conv.weight)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(conv.bias)
    return model


def freeze_batchnorm_statistics(model):
    """Put every batch norm in eval mode (running statistics frozen, affine still trainable)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    return model


def _is_block_param(key):
    return ".conv1." in key or ".conv2." in key or ".norm1." in key or ".norm2." in key


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
