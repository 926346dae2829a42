"""Processing algorithm: glacier/ocean/rock zones and the calving front with a deep-learning model."""

from .segmentation_common import FRONT_FIELDS, INFERENCE_ORDER, REVIEW_FIELDS_HELP, SegmentationInferenceAlgorithm


class CalvingFrontDLAlgorithm(SegmentationInferenceAlgorithm):
    ALG_ID = "segmentation_calving_front"
    DISPLAY_NAME = "Calving front (deep learning)"
    TAGS = ("segmentation", "deep learning", "U-Net", "ONNX", "calving front", "terminus", "SAR", "CaFFe")
    JOB_NAME = "segmentation_calving_front"
    SHORT_HELP = (
        "Segments a SAR backscatter image (dB) into glacier, ocean (incl. ice melange) and rock zones with a "
        "neural network and extracts the calving front as the glacier-ocean boundary, following the CaFFe "
        "benchmark (Gourmelon et al. 2022): ocean gaps are filled and only the largest ocean region is kept, "
        "front pixels are ocean pixels next to glacier, and front pieces shorter than the minimum length "
        "(750 m in CaFFe) are dropped. Not in CaFFe: after the clean-up, glacier is grown over land by up to the "
        "bridge distance (300 m by default; 0 = CaFFe), so that a thin band of land taken for rock between glacier and "
        "the ocean does not remove the front (docs/validation/calving.md; coast within that distance of a "
        "glacier's side then also counts as front). Not in CaFFe either: land and ocean regions reaching the scene "
        "edge (the raster's border or the border of its nodata) from the edge area (1 km² by default; 0 = CaFFe) "
        "are kept by the clean-up, so that the fronts on "
        "other fjords of a coast are not removed. Not in CaFFe either (ninth round): ocean regions smaller than the "
        "smallest sea (1 km² by default; 0 = CaFFe) are not counted as sea, so that a scene without sea (a "
        "land-terminating glacier, or the sea outside the image) gets no front drawn around a dark speck. Not in CaFFe "
        "either (docs/validation/calving.md, fifth round): "
        "front pieces up to the minimum length are kept when longer than a share of the scene's longest piece (0.25 by "
        "default; 0 = CaFFe) and touching the zone map's own glacier, so that small glaciers whose whole front is "
        "short keep it; and front pieces made by bridging alone (coast that the zone map's glacier touches nowhere) "
        "are dropped (advanced option, on by default). The default model (calving_zones_synthetic_v11, the mean "
        "of four networks: two of one recipe from two seeds, and each of them trained further with scenes without "
        "sea) comes from models trained on SIMULATED SAR-like scenes only: "
        "treat its fronts as a starting point for review, or fine-tune/replace it with "
        "a model trained on real labelled SAR (any ONNX model with Serac metadata, task calving_front_zones). "
        "A multi-source model takes the further rasters its metadata declares (e.g. a DEM), resampled onto the "
        "input's grid. Tiles overlap and are blended; the raster is processed block by block. Outputs the class "
        "probabilities, the zone map (0 glacier, 1 ocean, 2 rock for the shipped model) and front lines with "
        "id, length_m, model and the review fields" + REVIEW_FIELDS_HELP)

    ORDER = INFERENCE_ORDER + ("min_length_m", "short_fraction", "clean", "edge_km2", "min_ocean_km2", "bridge_m",
                              "drop_bridged_only", "simplify_m")
    FIELDS = {"output_fronts": FRONT_FIELDS}
