"""Processing algorithm: train or fine-tune a glacier segmentation model on a raster and outlines."""

import os

from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterString,
)

from .. import parameters as params
from ..base_algorithm import SeracAlgorithm
from ..qgis_bridge import raster_path, source_geometries
from .segmentation_common import MODEL_FILTER, parse_bands

HOLDOUT_SIDES = ["left", "right", "top", "bottom"]
DEVICES = ["auto", "cpu", "cuda"]


class TrainSegmentationAlgorithm(SeracAlgorithm):
    ALG_ID = "segmentation_train"
    DISPLAY_NAME = "Train segmentation model"
    GROUP_ID = "segmentation"
    GROUP = "Segmentation (deep learning)"
    TAGS = ("train", "fine-tune", "deep learning", "U-Net", "ONNX", "outlines", "RGI")
    REQUIRES = (("torch", "torch"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime"))
    SHORT_HELP = (
        "Trains a compact U-Net to map glaciers from a raster and reference outlines (e.g. RGI, or your own "
        "reviewed outlines), or fine-tunes an existing Serac model on them (the way to make a model better on "
        "your region). A block along one side of the raster (the hold-out fraction) is kept out of training, "
        "separated by a gap; the exported model is scored on it (IoU, precision, recall). Training runs on a "
        "CUDA GPU when present, else on the CPU (a few hundred steps take minutes on a laptop CPU); random "
        "tiles with flips and rotations; everything seeded. Writes an ONNX model with its metadata (bands, "
        "normalisation, pixel size in m, tiling, classes, training provenance and scores) embedded and mirrored "
        "as a .json file beside it, plus a training log; the model then runs in 'Glacier outlines (deep "
        "learning)'. When fine-tuning, the bands must match the base model's.")

    INPUT = "INPUT"
    BANDS = "BANDS"
    OUTLINES = "OUTLINES"
    INIT_MODEL = "INIT_MODEL"
    HOLDOUT_SIDE = "HOLDOUT_SIDE"
    HOLDOUT_FRACTION = "HOLDOUT_FRACTION"
    STEPS = "STEPS"
    TILE_SIZE = "TILE_SIZE"
    BATCH_SIZE = "BATCH_SIZE"
    BASE_CHANNELS = "BASE_CHANNELS"
    LEARNING_RATE = "LEARNING_RATE"
    SEED = "SEED"
    DEVICE = "DEVICE"
    MODEL_NAME = "MODEL_NAME"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    IOU = "IOU"
    PRECISION = "PRECISION"
    RECALL = "RECALL"
    DEVICE_USED = "DEVICE_USED"
    TRAINING_LOG = "TRAINING_LOG"

    def define_parameters(self):
        params.add_raster(self, self.INPUT, "Image")
        self.addParameter(QgsProcessingParameterString(
            self.BANDS, self.tr("Bands to use, in order (e.g. 1,2,3; empty: all bands)"), optional=True))
        params.add_outlines(self, self.OUTLINES, "Reference glacier outlines", optional=False)
        self.addParameter(QgsProcessingParameterFile(
            self.INIT_MODEL, self.tr("Model to fine-tune (empty: train from scratch)"), optional=True,
            fileFilter=MODEL_FILTER))
        params.add_enum(
            self, self.HOLDOUT_SIDE, "Held-out block along the", [(s, s) for s in HOLDOUT_SIDES], 0)
        params.add_number(self, self.HOLDOUT_FRACTION, "Held-out fraction of the raster (0-1)", 0.25, 0.05, 0.9)
        params.add_number(self, self.STEPS, "Training steps", 500, 1, 1_000_000, integer=True)
        params.add_number(self, self.TILE_SIZE, "Training tile size (px)", 128, 16, 1024, integer=True, advanced=True)
        params.add_number(self, self.BATCH_SIZE, "Tiles per step", 8, 1, 256, integer=True, advanced=True)
        params.add_number(self, self.BASE_CHANNELS, "Network width (filters at full resolution; new models only)",
                          16, 2, 128, integer=True, advanced=True)
        params.add_number(self, self.LEARNING_RATE, "Learning rate", 3e-3, 1e-6, 1.0, advanced=True)
        params.add_number(self, self.SEED, "Random seed", 0, 0, 2 ** 31 - 1, integer=True, advanced=True)
        params.add_enum(self, self.DEVICE, "Device", [(d, d) for d in DEVICES], 0)
        self.addParameter(QgsProcessingParameterString(self.MODEL_NAME, self.tr("Model name"),
                                                       defaultValue="glacier_custom"))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_MODEL, self.tr("Trained model"), "ONNX model (*.onnx)"))
        self.add_number_outputs(IOU="Held-out IoU (0-1)", PRECISION="Held-out precision (0-1)",
                                RECALL="Held-out recall (0-1)")
        self.add_string_outputs(DEVICE_USED="Device used for training")
        self.addOutput(QgsProcessingOutputFile(self.TRAINING_LOG, self.tr("Training log (JSON)")))

    def run_algorithm(self, parameters, context, feedback):
        from ...core.raster_io import read_grid
        from ...models.train import TrainConfig, train

        path = raster_path(self, parameters, self.INPUT, context, "input")
        bands = parse_bands(self.parameterAsString(parameters, self.BANDS, context))
        grid = read_grid(path)
        outlines = source_geometries(self, parameters, self.OUTLINES, context, grid.crs, feedback)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        if not output.lower().endswith(".onnx"):
            output += ".onnx"
        name = self.parameterAsString(parameters, self.MODEL_NAME, context).strip() or "glacier_custom"
        side = HOLDOUT_SIDES[self.parameterAsEnum(parameters, self.HOLDOUT_SIDE, context)]
        fraction = self.parameterAsDouble(parameters, self.HOLDOUT_FRACTION, context)
        config = TrainConfig(
            rasters=[(path, bands)], labels=outlines, output=output, name=name,
            holdout=f"{side}:{fraction:g}", steps=self.parameterAsInt(parameters, self.STEPS, context),
            tile_size=self.parameterAsInt(parameters, self.TILE_SIZE, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            base_channels=self.parameterAsInt(parameters, self.BASE_CHANNELS, context),
            lr=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
            seed=self.parameterAsInt(parameters, self.SEED, context), threads=os.cpu_count() or 1,
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            init_model=self.parameterAsFile(parameters, self.INIT_MODEL, context) or None,
            provenance={"data": os.path.basename(path), "labels": "reference outline layer "
                        f"({len(outlines)} polygons) given in QGIS"},
            log_every=max(1, self.parameterAsInt(parameters, self.STEPS, context) // 20))
        result = train(config, feedback)
        held_out = result.metrics["held_out"]
        return {self.OUTPUT_MODEL: result.onnx_path, self.IOU: held_out["iou"],
                self.PRECISION: held_out["precision"], self.RECALL: held_out["recall"],
                self.DEVICE_USED: result.device, self.TRAINING_LOG: result.log_path}
