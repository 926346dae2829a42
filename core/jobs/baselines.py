"""Job: glacier outlines from multispectral bands with a classical method (NDSI or red/SWIR ratio)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from ..choices import BASELINE_METHODS
from ..progress import Progress
from .base import Job, Port, Result, Settings, core_feedback, require_input, setting, thread_limits


@dataclass(frozen=True)
class BaselineSettings(Settings):
    method: str = setting("ndsi", "Method", choices=BASELINE_METHODS)
    red_band: int = setting(3, "Red band (1-based; Landsat 8/9: 4, Sentinel-2: B4, Landsat 5/7: 3)",
                            minimum=1, maximum=100)
    green_band: int = setting(2, "Green band (1-based; Landsat 8/9: 3, Sentinel-2: B3, Landsat 5/7: 2)",
                              minimum=1, maximum=100)
    swir_band: int = setting(5, "SWIR band near 1.6 µm (1-based; Landsat 8/9: 6, Sentinel-2: B11, Landsat 5/7: 5)",
                             minimum=1, maximum=100)
    threshold: Optional[float] = setting(None, "Threshold (empty: NDSI 0.4, ratio 2.0)", minimum=-1.0,
                                         maximum=100.0, optional=True, kind=float)
    max_slope_deg: float = setting(24.0, "Debris rule: largest slope (degrees; with a DEM)", unit="degrees",
                                   minimum=0.0, maximum=90.0)
    min_area_km2: float = setting(0.01, "Minimum glacier area (km²)", unit="km²", minimum=0.0, maximum=1e4)
    max_hole_km2: float = setting(0.01, "Fill holes smaller than (km²)", unit="km²", minimum=0.0, maximum=1e4)
    simplify_m: float = setting(0.0, "Simplification tolerance (m; 0 = pixel edges)", unit="m", minimum=0.0,
                                maximum=1e4)


def run(inputs: Mapping, outputs: Mapping, settings: BaselineSettings, feedback=None,
        threads: Optional[int] = None) -> Result:
    """Reads the bands (and a DEM), writes the index raster and returns outline polygons with review fields."""
    import numpy as np

    from ..errors import BandCountError
    from ..raster_io import RasterWriter, band_count, pixel_size_m, read_on_grid, read_raster, require_crs
    from ..segmentation.baselines import DEFAULT_THRESHOLDS, baseline_mask, looks_like_dn
    from ..segmentation.vectorize import outline_features

    progress = Progress(core_feedback(feedback))
    path = require_input(inputs, "input", "multispectral raster")
    index_path = str(require_input(outputs, "output_index", "index output"))
    method = settings.method
    wanted = {"red": settings.red_band, "swir": settings.swir_band} if method == "band_ratio" else \
        {"green": settings.green_band, "swir": settings.swir_band}
    n = band_count(path)
    if max(wanted.values()) > n:
        raise BandCountError(f"The raster has {n} band(s); the {method} needs bands "
                             f"{', '.join(f'{k} = {v}' for k, v in wanted.items())}.",
                             "set the band numbers of the red/green/SWIR bands of this raster (no SWIR band: "
                             "the classical methods cannot run on true-colour images).")
    with thread_limits(threads):
        raster = read_raster(path, bands=list(wanted.values()))
        require_crs(raster.grid, "The multispectral raster")
        bands = dict(zip(wanted, raster.data))
        if looks_like_dn(*bands.values()):
            progress.warn("The band values look like digital numbers, not reflectance (0-1): the NDSI and ratio "
                          "thresholds are defined on reflectance and shift with each band's gain and offset; "
                          "convert to reflectance for trustworthy outlines.")
        slope = None
        if inputs.get("dem"):
            from ..dem.terrain import slope_aspect

            dem = read_on_grid(inputs["dem"], raster.grid, bands=1).data[0]
            slope = slope_aspect(dem, pixel_size_m(raster.grid))[0]
        threshold = DEFAULT_THRESHOLDS[method] if settings.threshold is None else settings.threshold
        mask, index = baseline_mask(method, threshold, slope_deg=slope, max_slope_deg=settings.max_slope_deg,
                                    **bands)
        progress.update(0.5)
        with RasterWriter(index_path, raster.grid, count=1, dtype="float32", nodata=float("nan"),
                          band_names=[method]) as writer:
            writer.write(index[None])
        label = f"{'NDSI' if method == 'ndsi' else 'red/SWIR'} > {threshold:g}" + (" + debris slope rule"
                                                                                 if slope is not None else "")
        features = outline_features(index, raster.grid, threshold, min_area_m2=settings.min_area_km2 * 1e6,
                                    max_hole_m2=settings.max_hole_km2 * 1e6, simplify_m=settings.simplify_m,
                                    model_name=label, mask=mask, value_name="mean_index")
    total = sum(f["properties"]["area_km2"] for f in features)
    progress.info(f"{label}: {len(features)} outline(s), {total:.3f} km² in total, glacier pixels "
                  f"{100 * float(np.mean(mask)):.1f} %.")
    return Result({"output_index": index_path}, {"n_outlines": len(features), "total_area_km2": total},
                  {"method": method, "threshold": threshold, "debris_rule": slope is not None},
                  features={"output_outlines": (features, raster.grid.crs, "Polygon")})


JOB = Job("glacier_outlines_classical", "Glacier outlines (NDSI / band ratio)", BaselineSettings, run,
          {"input": Port("raster", "Multispectral image (reflectance; red, green, SWIR bands)"),
           "dem": Port("raster", "DEM for the debris rule (optional, m)", optional=True)},
          {"output_index": Port("raster", "NDSI or red/SWIR ratio", style=""),
           "output_outlines": Port("polygons", "Glacier outlines (classical)", style="review_status_polygons")},
          dict(n_outlines="Number of outlines", total_area_km2="Total glacier area (km²)"))
