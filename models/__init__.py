"""Network definitions, training, ONNX export and dataset building for Serac's segmentation models.

Everything here needs torch (and ``onnx`` for export); the inference core in
``serac.core.segmentation`` needs neither (ONNX Runtime alone runs the shipped models).
Shipped models live beside this file (``*.onnx`` with their metadata mirrored as ``*.json``),
their model cards in ``cards/``.
"""

import os

MODELS_DIR = os.path.dirname(os.path.abspath(__file__))


def shipped_model_path(name):
    """Path of a model shipped with the plugin, e.g. ``shipped_model_path("glacier_landsat_v1")``."""
    return os.path.join(MODELS_DIR, name if name.endswith(".onnx") else name + ".onnx")
