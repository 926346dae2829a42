"""Processing algorithm: crevasse and fracture map of one image (Serac issue 17).

Parameters in -> the core job (serac.core.jobs.fractures) -> response/probability raster, fracture lines
(with the review fields), fracture density and dominant orientation per window, all styled.
"""

from ...core.review_fields import with_review_fields
from ..job_algorithm import JobAlgorithm

#: Attribute table of the fracture lines: measures, then the review fields (as the outline layers have them).
LINE_FIELDS = with_review_fields([("id", "LongLong"), ("length_m", "Double"), ("orientation_deg", "Double"),
                                  ("mean_response", "Double"), ("method", "String")])


class FractureMapAlgorithm(JobAlgorithm):
    ALG_ID = "fracture_map"
    JOB_NAME = "fracture_map"
    DISPLAY_NAME = "Crevasse and fracture map"
    GROUP_ID = "segmentation"
    GROUP = "Segmentation (deep learning)"
    TAGS = ("crevasse", "fracture", "rift", "Gabor", "filter bank", "orientation", "density", "ice shelf",
            "MOA", "U-Net", "ONNX")
    SHORT_HELP = (
        "Maps crevasses, rifts and fractures on one image band (optical, SAR amplitude or a mosaic such as "
        "MOA), optionally only inside glacier outlines. Methods: (1) a directional Gabor filter bank, training-free: "
        "12 orientations and wavelengths (fracture spacing) from the shortest to the longest spacing given in m, "
        "converted with the pixel size (spacings below 2.5 px are dropped with a warning); the response (0-1) is the "
        "filter energy on the locally normalised image times the orientation coherence (noise ~0.05, a crevasse "
        "field 0.2-0.5), band 2 the fracture direction (deg clockwise from grid north), band 3 the spacing (m). "
        "It marks crevassed zones; the lines are the centre lines of the zones above the threshold. (2) a learned "
        "model (ONNX with Serac metadata; default the shipped fractures_moa_v2, a U-Net trained on the MOA2009 "
        "ice-shelf tiles of Lai et al. 2020 at 125 m, see its model card for scores and limits), run in overlapping, "
        "blended tiles; images whose pixel size is far from the model's are refused with a message. Outputs: the "
        "response or probability; fracture lines (threshold, thinning to one pixel, tracing; lines shorter than the "
        "minimum length dropped) with length_m, orientation_deg, mean_response, method and the review fields "
        "(review_status = 'unreviewed', reviewer, reviewed_at, review_comment, geometry_edited = 0, "
        "predicted_size in km) for Serac > Outline review; per window (m): fracture density (km of lines per km², "
        "and the fraction above the threshold) and the dominant orientation (deg, with its coherence 0-1). Runs "
        "block by block (lines are split at block edges).")

    ORDER = ("input", "band", "outlines", "method", "min_wavelength_m", "max_wavelength_m", "polarity", "model",
             "threshold", "min_length_m", "window_m", "orientations", "backend", "batch_size", "block")
    FIELDS = {"output_lines": LINE_FIELDS}
    LAYER_NAMES = {"output_lines": "Fracture lines"}
