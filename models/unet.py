"""The segmentation network, for training and export: defined in the core (inference rebuilds it for
torch backends), re-exported here so training code and scripts keep importing it from ``models``."""

from ..core.segmentation.unet import (  # noqa: F401 (re-exports)
    ARCHITECTURE_NAME,
    ConvBlock,
    TemporalUNet,
    UNet,
    architecture,
    build_network,
    count_parameters,
    freeze_batchnorm_statistics,
    fuse_batchnorm,
    unfuse_batchnorm,
)
