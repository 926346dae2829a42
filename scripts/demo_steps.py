"""The demo's steps: which algorithm runs on which bundled sample data, and how to show it.

Each step gives the Processing parameters (paths inside resources/sample_data,
outputs inside the demo folder, or ``@step:KEY`` for an output of an earlier step)
and the layers to draw on its map: outputs by result key with the Serac style to
apply, plus context layers from the sample data.
"""

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "models"


@dataclass
class Layer:
    """A layer on a demo map: ``source`` is a result key (output) or a path relative to sample data."""

    source: str
    style: str = None  # resources/styles/<style>.qml
    is_output: bool = True
    name: str = None
    percentile_stretch: tuple = None  # e.g. (2, 98): stretch the style to these percentiles of the shown band
    value_range: tuple = None  # fixed (min, max) stretch, in the raster's units
    band: object = None  # band to show (1-based), or a function of the band names returning one
    on_map: bool = True  # False: in the QGIS project only, not on the rendered PNG


@dataclass
class Step:
    name: str
    alg: str
    title: str
    description: str
    inputs: dict  # parameter -> path relative to resources/sample_data, or a literal value
    outputs: dict  # parameter -> output file name inside the demo folder
    layers: list = field(default_factory=list)  # bottom to top

    def parameters(self, sample_dir, out_dir, earlier=None):
        """Processing parameters: sample paths made absolute (a '*' pattern becomes a sorted list),
        ``@step:KEY`` replaced by that output of an earlier step (``earlier``: step name -> results)."""
        params = {}
        for key, value in self.inputs.items():
            if isinstance(value, str) and value.startswith("@"):
                step, output = value[1:].split(":")
                value = (earlier or {})[step][output]
            elif isinstance(value, str) and "*" in value:
                value = sorted(glob.glob(os.path.join(str(sample_dir), value)))
            elif isinstance(value, str) and "/" in value:
                value = str(sample_dir / value)
            params[key] = value
        for key, filename in self.outputs.items():
            params[key] = str(out_dir / filename)
        return params


def july_speed(band_names):
    """The speed band of the time step that contains mid-July (1-based), else the middle speed band."""
    speeds = [i for i, name in enumerate(band_names, 1) if name.startswith("speed_")]
    july = [i for i in speeds if "2018-07" in band_names[i - 1]]
    return (july or speeds[len(speeds) // 2:])[0]


STEPS = [
    Step(
        name="glacier_mask",
        alg="rasterize_outlines",
        title="Glacier mask from RGI outlines (Everest, Landsat 7 grid)",
        description="RGI 6.0 outlines burnt onto the 30 m Landsat 7 ETM+ band 4 grid of the Everest area.",
        inputs={"INPUT": "everest_landsat/LE71400412000304SGS00_B4.tif",
                "OUTLINES": "everest_landsat/15_rgi60_glacier_outlines.gpkg"},
        outputs={"OUTPUT": "glacier_mask/everest_glacier_mask.tif"},
        layers=[Layer("everest_landsat/LE71400412000304SGS00_B4.tif", is_output=False, name="Landsat 7 B4"),
                Layer("OUTPUT", "glacier_mask", name="Glacier mask")],
    ),
    Step(
        name="sar_normalization",
        alg="sar_normalization",
        title="SAR incidence-angle normalization (Sentinel-1 VV, cosine law to 35 degrees)",
        description="Real Sentinel-1A VV backscatter (dB) normalized to a 35 degree reference angle with the cosine "
                    "law (n = 2). The incidence angle here is a synthetic 30-45 degree ramp on the image grid, as "
                    "the sample scene ships without its angle raster.",
        inputs={"INPUT": "sar/S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif",
                "ANGLE": "sar/incidence_angle_synthetic_30_45deg.tif", "METHOD": 0, "THETA_REF": 35},
        outputs={"OUTPUT": "sar/s1_vv_normalized_35deg.tif"},
        layers=[Layer("OUTPUT", "sar_backscatter_db", name="Normalized backscatter (dB)", percentile_stretch=(2, 98))],
    ),
    Step(
        name="dem_coregistration",
        alg="dem_coregistration",
        title="DEM co-registration and elevation change (Longyearbyen, Svalbard)",
        description="The 1990 NPI DEM (20 m) aligned with Nuth & Kääb (2011) onto the xDEM LZD-aligned copy of it, "
                    "glaciers (1990 outlines) masked as unstable terrain, then an order-1 deramp (the LZD transform "
                    "also tilts the DEM). Both DEMs are the same survey, so dh (aligned - reference) should be "
                    "near 0 m everywhere after alignment; glacier pixels are empty in the reference.",
        inputs={"REFERENCE": "dem/longyearbyen_reference_lzd_aligned.tif", "DEM": "dem/longyearbyen_dem_1990.tif",
                "OUTLINES": "dem/longyearbyen_glacier_outlines_1990.gpkg", "DERAMP_ORDER": 1},
        outputs={"OUTPUT": "dem/longyearbyen_1990_aligned.tif", "DH": "dem/longyearbyen_dh.tif",
                 "REPORT_HTML": "dem/longyearbyen_coregistration_report.html"},
        layers=[Layer("DH", "dem_dh", name="dh after alignment (m)", value_range=(-2, 2)),
                Layer("dem/longyearbyen_glacier_outlines_1990.gpkg", "glacier_outlines", is_output=False,
                      name="Glacier outlines 1990")],
    ),
    Step(
        name="dem_points_coregistration",
        alg="dem_points_coregistration",
        title="DEM co-registration to elevation points, vertical datums declared (Longyearbyen)",
        description="The 1990 NPI DEM aligned to 1500 elevation points (Nuth & Kääb, order-1 deramp). The points "
                    "sit on the LZD-aligned reference with SYNTHETIC ellipsoidal heights (reference + EGM96 "
                    "undulation, about +32 m): declared as ellipsoidal, with the DEM on EGM96, they are converted "
                    "with PROJ and the shift matches the DEM pair's; undeclared, the +31 m shift would be flagged "
                    "as the geoid trap.",
        inputs={"DEM": "dem/longyearbyen_dem_1990.tif", "POINTS": "dem/longyearbyen_points_SYNTHETIC.gpkg",
                "ELEVATION_FIELD": "h_ell", "POINTS_DATUM": 1, "DEM_DATUM": 2, "DERAMP_ORDER": 1},
        outputs={"OUTPUT": "dem/longyearbyen_1990_aligned_to_points.tif",
                 "DH_POINTS": "dem/longyearbyen_dh_at_points.gpkg",
                 "REPORT_HTML": "dem/longyearbyen_points_coregistration_report.html"},
        layers=[Layer("OUTPUT", "dem_elevation", name="DEM aligned to the points (m)", percentile_stretch=(2, 98)),
                Layer("DH_POINTS", "dem_dh_points", name="dh at the points after alignment (m)",
                      value_range=(-1, 1))],
    ),
    Step(
        name="velocity_real_pair",
        alg="glacier_velocity",
        title="Glacier velocity of a real Landsat 8 pair (Yahtse Glacier, Alaska, 16 days)",
        description="Two real Landsat 8 panchromatic scenes (band 8, 15 m) of Yahtse Glacier, 2016-07-18 and "
                    "2016-08-03 (dates read from the scene ids): chip 32 px, search for speeds up to 6000 m/yr, "
                    "grid 12 px, the misregistration measured on the bare-rock outcrops (stable areas). The "
                    "calving tongue flows at 12-17 m/day; the rock medians and errors are in "
                    "docs/validation/velocity.md.",
        inputs={"REFERENCE": "velocity_real/LC80630182016200LGN00_B8_yahtse_crop.tif",
                "SECONDARY": "velocity_real/LC80630182016216LGN00_B8_yahtse_crop.tif",
                "STABLE_AREAS": "velocity_real/yahtse_rock_outcrops.gpkg",
                "MAX_SPEED": 6000, "SPACING": 12, "ARROW_STEP": 2},
        outputs={"OUTPUT": "velocity/yahtse_velocity.tif", "ERROR": "velocity/yahtse_velocity_error.tif",
                 "ARROWS": "velocity/yahtse_velocity_arrows.gpkg"},
        layers=[Layer("velocity_real/LC80630182016200LGN00_B8_yahtse_crop.tif", is_output=False,
                      name="Landsat 8 B8, 2016-07-18"),
                Layer("OUTPUT", "velocity_speed_linear", name="Speed (m/yr)", band=3, percentile_stretch=(0, 99)),
                Layer("ERROR", "velocity_error", name="Velocity error, 1 sigma (m/yr)", percentile_stretch=(0, 98),
                      on_map=False),
                Layer("velocity_real/yahtse_rock_outcrops.gpkg", "glacier_outlines", is_output=False,
                      name="Bare rock (stable areas)"),
                Layer("ARROWS", "velocity_arrows", name="Velocity arrows")],
    ),
    Step(
        name="velocity",
        alg="glacier_velocity",
        title="Glacier velocity by image correlation (Everest, Landsat 7 band 4, known synthetic flow)",
        description="Real Landsat 7 band 4 (2000-10-30) against the same image moved by a known synthetic flow "
                    "field (the Kaskawulsh velocity pattern, up to 3 px, inside the RGI outlines, plus a -0.15/+0.25 "
                    "px misregistration everywhere) dated 2000-11-15: dates read from the file names, chip 32 px, "
                    "search +-8 px, grid 8 px, Wallis prefilter, RGI outlines as the stable-ground mask. The "
                    "speeds (up to about 2000 m/yr over 16 days) come from the synthetic field, not from Khumbu.",
        inputs={"REFERENCE": "everest_landsat/LE71400412000304SGS00_B4.tif",
                "SECONDARY": "velocity/everest_B4_SYNTHETIC_flow_20001115.tif",
                "OUTLINES": "everest_landsat/15_rgi60_glacier_outlines.gpkg",
                "CHIP": 32, "SEARCH": 8, "SPACING": 8, "ARROW_STEP": 3},
        outputs={"OUTPUT": "velocity/everest_velocity.tif", "ARROWS": "velocity/everest_velocity_arrows.gpkg"},
        layers=[Layer("everest_landsat/LE71400412000304SGS00_B4.tif", is_output=False, name="Landsat 7 B4"),
                Layer("OUTPUT", "velocity_speed_linear", name="Speed (m/yr)", band=3, percentile_stretch=(0, 99)),
                Layer("everest_landsat/15_rgi60_glacier_outlines.gpkg", "glacier_outlines", is_output=False,
                      name="RGI 6.0 outlines"),
                Layer("ARROWS", "velocity_arrows", name="Velocity arrows")],
    ),
    Step(
        name="velocity_timeseries",
        alg="velocity_timeseries",
        title="Velocity time series from 14 overlapping pairs (Kaskawulsh, 2018)",
        description="14 velocity pairs of 16-200 days (real GLAFT Kaskawulsh pattern, SYNTHETIC seasonal cycle "
                    "of +-40 % peaking in early July, 2 m noise, cloud gaps) inverted onto 30-day steps with "
                    "each pair's baseline taken into account. The map shows the July step; the table at the "
                    "point is in the CSV.",
        inputs={"INPUT": "timeseries/kaskawulsh_*.tif", "STEP_DAYS": 30,
                "POINT": "609700,6736700 [EPSG:32607]"},
        outputs={"OUTPUT": "timeseries/kaskawulsh_timeseries.tif", "POINT_CSV": "timeseries/point_series.csv"},
        layers=[Layer("OUTPUT", "timeseries_speed", name="Speed, July 2018 step (m/yr)", band=july_speed,
                      percentile_stretch=(0, 99))],
    ),
    Step(
        name="glacier_outlines",
        alg="segmentation_glacier_outlines",
        title="Glacier outlines by deep learning (Everest, held-out Landsat 7 block)",
        description="The shipped glacier_rgb_v2 model (U-Net, ONNX Runtime on the CPU) on the left quarter "
                    "of the Landsat 7 RGB scene, ground held out from its training: probability, then "
                    "outline polygons with review fields (review_status = 'unreviewed'), against the RGI 6.0 "
                    "outlines (black). The probability raster is in the QGIS project.",
        inputs={"INPUT": "segmentation/everest_landsat_rgb_heldout.tif"},
        outputs={"OUTPUT_PROBABILITY": "segmentation/everest_glacier_probability.tif",
                 "OUTPUT_OUTLINES": "segmentation/everest_glacier_outlines.gpkg"},
        layers=[Layer("segmentation/everest_landsat_rgb_heldout.tif", is_output=False, name="Landsat 7 RGB"),
                Layer("OUTPUT_PROBABILITY", "segmentation_probability", name="Glacier probability", on_map=False),
                Layer("segmentation/everest_rgi60_heldout.gpkg", "reference_outlines", is_output=False,
                      name="RGI 6.0 (reference)"),
                Layer("OUTPUT_OUTLINES", "review_status_polygons", name="Predicted outlines (unreviewed)")],
    ),
    Step(
        name="glacier_outlines_accuracy",
        alg="segmentation_evaluate",
        title="Accuracy of the predicted outlines against RGI 6.0 (held-out block)",
        description="IoU, precision and recall of the predicted polygons against the RGI outlines on the image grid.",
        inputs={"PREDICTED": "@glacier_outlines:OUTPUT_OUTLINES", "REFERENCE": "segmentation/everest_rgi60_heldout.gpkg",
                "GRID": "segmentation/everest_landsat_rgb_heldout.tif"},
        outputs={},
    ),
    Step(
        name="calving_front",
        alg="segmentation_calving_front",
        title="Calving front by deep learning (SIMULATED SAR scene on Columbia Glacier's real geometry)",
        description="The default calving_zones_synthetic_v11 model on a simulated 50 m SAR backscatter scene built "
                    "on Columbia Glacier's RGI outline and DEM (not a satellite image): glacier / ocean / rock "
                    "zones and the calving front as the glacier-ocean boundary, with the reference front (black).",
        inputs={"INPUT": "segmentation/columbia_sar_simulated_50m.tif"},
        outputs={"OUTPUT_PROBABILITY": "segmentation/columbia_zone_probability.tif",
                 "OUTPUT_ZONES": "segmentation/columbia_zones.tif",
                 "OUTPUT_FRONTS": "segmentation/columbia_fronts.gpkg"},
        layers=[Layer("segmentation/columbia_sar_simulated_50m.tif", "sar_backscatter_db", is_output=False,
                      name="Simulated backscatter (dB)", percentile_stretch=(2, 98)),
                Layer("OUTPUT_PROBABILITY", "segmentation_probability", name="Zone probabilities", on_map=False),
                Layer("OUTPUT_ZONES", "segmentation_zones", name="Zones"),
                Layer("segmentation/columbia_front_reference.gpkg", "reference_lines", is_output=False,
                      name="Reference front"),
                Layer("OUTPUT_FRONTS", "review_status_lines", name="Predicted front (unreviewed)")],
    ),
    Step(
        name="calving_front_accuracy",
        alg="segmentation_evaluate",
        title="Calving-front mean distance error (CaFFe MDE) against the reference front",
        description="Mean distance error between the predicted and the reference front lines, computed as CaFFe does.",
        inputs={"PREDICTED": "@calving_front:OUTPUT_FRONTS", "REFERENCE": "segmentation/columbia_front_reference.gpkg",
                "GRID": "segmentation/columbia_sar_simulated_50m.tif"},
        outputs={},
    ),
    Step(
        name="fine_tune",
        alg="segmentation_train",
        title="Fine-tuning the glacier model on reference outlines (a few steps, CPU)",
        description="'Train segmentation model' started from the shipped glacier_rgb_v2 weights on the Everest "
                    "block with its RGI outlines as labels (as a user would with their reviewed outlines), 40 "
                    "steps only, to show the path; the scores are on the part of the block held out from this "
                    "fine-tuning. The exported ONNX file carries its metadata and provenance.",
        inputs={"INPUT": "segmentation/everest_landsat_rgb_heldout.tif",
                "OUTLINES": "segmentation/everest_rgi60_heldout.gpkg",
                "INIT_MODEL": str(SHIPPED_MODELS / "glacier_rgb_v2.onnx"), "STEPS": 40, "TILE_SIZE": 128,
                "BATCH_SIZE": 4, "MODEL_NAME": "glacier_everest_finetuned"},
        outputs={"OUTPUT_MODEL": "segmentation/glacier_everest_finetuned.onnx"},
    ),
]
