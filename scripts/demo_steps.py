"""The demo's steps: which algorithm runs on which bundled sample data, and how to show it.

Each step gives the Processing parameters (paths inside resources/sample_data,
outputs inside the demo folder) and the layers to draw on its map: outputs by
result key with the Serac style to apply, plus context layers from the sample data.
"""

from dataclasses import dataclass, field


@dataclass
class Layer:
    """A layer on a demo map: ``source`` is a result key (output) or a path relative to sample data."""

    source: str
    style: str = None  # resources/styles/<style>.qml
    is_output: bool = True
    name: str = None
    percentile_stretch: tuple = None  # e.g. (2, 98): stretch the style to these percentiles of band 1
    value_range: tuple = None  # fixed (min, max) stretch, in the raster's units


@dataclass
class Step:
    name: str
    alg: str
    title: str
    description: str
    inputs: dict  # parameter -> path relative to resources/sample_data, or a literal value
    outputs: dict  # parameter -> output file name inside the demo folder
    layers: list = field(default_factory=list)  # bottom to top

    def parameters(self, sample_dir, out_dir):
        params = {}
        for key, value in self.inputs.items():
            params[key] = str(sample_dir / value) if isinstance(value, str) and "/" in value else value
        for key, filename in self.outputs.items():
            params[key] = str(out_dir / filename)
        return params


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
                 "REPORT": "dem/longyearbyen_coregistration_report.html"},
        layers=[Layer("DH", "dem_dh", name="dh after alignment (m)", value_range=(-2, 2)),
                Layer("dem/longyearbyen_glacier_outlines_1990.gpkg", "glacier_outlines", is_output=False,
                      name="Glacier outlines 1990")],
    ),
]
