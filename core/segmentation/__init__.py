"""Deep-learning segmentation of glacier extent and calving-front zones.

* :mod:`.model_metadata` — versioned JSON metadata every model carries, validated on load.
* :mod:`.runtime` — load a model (.onnx, or a .pt state dict loaded with weights_only) and
  run it on ONNX Runtime (CPU) or torch (CPU/CUDA) behind one interface.
* :mod:`.tiling` — scene-wide tile grid with overlap and blending weights.
* :mod:`.inference` — blockwise scene inference writing window by window.
* :mod:`.vectorize` — probability -> outline polygons; pixel boundaries -> lines; GeoPackage.
* :mod:`.fronts` — CaFFe-style calving-front extraction from zone maps.
* :mod:`.metrics` — IoU/precision/recall and the CaFFe mean distance error.

torch is never imported here; it is needed only for the torch backends and for training.
"""

from .inference import InputSource, SegmentationRun, classify, pixel_size_m, predict_array, segment_raster
from .model_metadata import METADATA_KEY, SCHEMA_VERSION, ModelMetadata
from .runtime import SegmentationModel, load_model, read_metadata

__all__ = ["InputSource", "SegmentationRun", "classify", "pixel_size_m", "predict_array", "segment_raster",
           "METADATA_KEY", "SCHEMA_VERSION", "ModelMetadata", "SegmentationModel", "load_model", "read_metadata"]
