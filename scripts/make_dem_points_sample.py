"""Make resources/sample_data/dem/longyearbyen_points_SYNTHETIC.gpkg: elevation points for the DEM-to-points demo.

1500 positions drawn at random (seed 19) on the valid (stable) pixels of the bundled LZD-aligned Longyearbyen
reference; ``h_orto`` is the reference sampled there (bilinear, m, the DEM's own vertical datum, taken here as
EGM96), ``h_ell`` = h_orto + the EGM96 undulation from PROJ (about +32 m): the same points as an ellipsoidal
product (ICESat-2, GNSS) would give them. Aligning longyearbyen_dem_1990.tif to ``h_orto`` finds the LZD shift;
to ``h_ell`` without declaring the datums it falls into the geoid trap.

Run: .venv/bin/python scripts/make_dem_points_sample.py (needs PROJ's egm96_15.gtx).
"""

import numpy as np
import rasterio.warp

from _checkout import use_checkout  # scripts/ is on sys.path when a script runs

ROOT = use_checkout()

from serac.core import raster_io as rio  # noqa: E402
from serac.core.dem.datum import geoid_undulation  # noqa: E402
from serac.core.dem.points import bilinear_at  # noqa: E402
from serac.core.segmentation.vectorize import write_features  # noqa: E402

DEM = ROOT / "resources" / "sample_data" / "dem"
OUT = DEM / "longyearbyen_points_SYNTHETIC.gpkg"


def main(count=1500, seed=19):
    ref = rio.read_raster(DEM / "longyearbyen_reference_lzd_aligned.tif")
    z = ref.band(1).astype(np.float64)
    rng = np.random.default_rng(seed)
    rows = rng.uniform(1, ref.grid.height - 2, count * 4)
    cols = rng.uniform(1, ref.grid.width - 2, count * 4)
    h = bilinear_at(z, rows - 0.5, cols - 0.5)
    keep = np.flatnonzero(np.isfinite(h))[:count]
    x, y = ref.grid.transform * (cols[keep], rows[keep])
    lon, lat = rasterio.warp.transform(ref.grid.crs, "EPSG:4326", x, y)
    n, why = geoid_undulation(lon, lat, "EGM96")
    if n is None:
        raise SystemExit(why)
    features = [{"geometry": {"type": "Point", "coordinates": (round(float(a), 2), round(float(b), 2))},
                 "properties": {"h_orto": round(float(ho), 3), "h_ell": round(float(ho + nn), 3)}}
                for a, b, ho, nn in zip(x, y, h[keep], n)]
    write_features(OUT, features, ref.grid.crs, layer="points", geometry_type="Point")
    print(f"{len(features)} points, EGM96 N median {np.median(n):+.2f} m ({why}) -> {OUT}")


if __name__ == "__main__":
    main()
