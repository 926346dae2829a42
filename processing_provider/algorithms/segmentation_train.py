"""Processing algorithm: train or fine-tune a glacier or fracture model (adapter of models/train_job.py)."""

from ..job_algorithm import JobAlgorithm


class TrainSegmentationAlgorithm(JobAlgorithm):
    ALG_ID = "segmentation_train"
    JOB_NAME = "segmentation_train"
    DISPLAY_NAME = "Train segmentation model"
    GROUP_ID = "segmentation"
    GROUP = "Segmentation (deep learning)"
    TAGS = ("train", "fine-tune", "deep learning", "U-Net", "ONNX", "outlines", "RGI", "fractures", "crevasses")
    REQUIRES = ("torch", "onnx", "onnxruntime")
    SHORT_HELP = (
        "Trains a compact U-Net to map glaciers from a raster and reference outlines (e.g. RGI, or your own "
        "reviewed outlines), or fine-tunes an existing Serac model on them (the way to make a model better on "
        "your region). A block along one side of the raster (the hold-out fraction) is kept out of training, "
        "separated by a gap; the exported model is scored on it (IoU, precision, recall). Training runs on a "
        "CUDA GPU when present, else on the CPU (a few hundred steps take minutes on a laptop CPU); random "
        "tiles with flips and rotations; everything seeded. Writes an ONNX model with its metadata (bands, "
        "normalisation, pixel size in m, tiling, classes, training provenance and scores) embedded and mirrored "
        "as a .json file beside it, plus a training log; the model then runs in 'Glacier outlines (deep "
        "learning)'. When fine-tuning, the bands must match the base model's. Further inputs (e.g. a DEM, "
        "a SAR image) are resampled onto "
        "the image's grid and stacked: "
        "the model becomes multi-source (each band named by its input's source name, optionally with the slope of "
        "a DEM input added) and then takes the same inputs when it runs. With a number of dates, the inputs are a "
        "time series (dated rasters, or the dated bands of a stack, e.g. Sentinel-1 backscatter in dB: dates read "
        "from band descriptions, DATE tags or file names) and a time-series network is trained (3D convolution "
        "over dates and space, mean and maximum over the dates, then the U-Net). Line labels (e.g. your reviewed "
        "fracture lines from 'Crevasse and fracture map') are burnt onto the grid this many m wide and train a "
        "fracture model (classes background/fracture, task 'fractures'), or fine-tune one such as "
        "fractures_moa_v2; the model then runs in 'Crevasse and fracture map' (method: model).")
