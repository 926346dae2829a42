"""Build the segmentation demo inputs in resources/sample_data/segmentation/ from ../shared/data.

* ``everest_landsat_rgb_heldout.tif`` — the held-out block of the Landsat 7 ETM+ RGB scene of
  Everest (2000-10-30, 30 m) that the shipped glacier model never saw in training
  (the left 25 % of the 800 x 655 px scene).
* ``everest_rgi60_heldout.gpkg`` — the RGI 6.0 outlines clipped to that block (reference).
* ``columbia_sar_simulated_50m.tif`` — SIMULATED SAR-like backscatter (dB) over Columbia
  Glacier's real geometry (RGI 6.0 outline, OGGM DEM), 50 m, see models/calving_scenes.py.
* ``columbia_zones_reference.tif`` / ``columbia_front_reference.gpkg`` — the zones the
  simulation was made from (0 glacier, 1 ocean, 2 rock) and their calving front (lines).

    python -m models.make_sample_data [--shared-data ../shared/data]
"""

if __name__ == "__main__" and __package__ != "serac.models":
    if __package__:
        from ._entry import rerun
    else:
        from _entry import rerun
    rerun("make_sample_data")

import argparse
import json
import os

import numpy as np
from rasterio.windows import Window

from ..core.raster_io import read_raster, write_raster
from ..core.segmentation.fronts import front_mask
from ..core.segmentation.vectorize import boundary_lines, write_features
from .calving_scenes import GLACIER, OCEAN, columbia_scene
from .datasets import split_holdout

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
OUT = os.path.join(ROOT, "resources", "sample_data", "segmentation")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
EVEREST = ("optical", "everest_landsat", "LE71400412000304SGS00_RGB.tif")
RGI = ("optical", "everest_landsat", "15_rgi60_glacier_outlines.gpkg")
HOLDOUT = "left:0.25"
COLUMBIA_SEED = 7


def everest_heldout(shared):
    rgb = read_raster(os.path.join(shared, *EVEREST))
    _, test = split_holdout(rgb.grid.shape, HOLDOUT, 0)
    cols = np.nonzero(test[0])[0]
    window = Window(int(cols[0]), 0, int(cols[-1] - cols[0] + 1), rgb.grid.height)
    grid = rgb.grid.window_grid(window)
    data = rgb.data[:, :, int(window.col_off):int(window.col_off + window.width)].astype(np.uint8)
    path = write_raster(os.path.join(OUT, "everest_landsat_rgb_heldout.tif"), data, grid, nodata=None,
                        band_names=["red", "green", "blue"], dtype="uint8", cog=False,
                        tags={"SOURCE": "Landsat 7 ETM+ LE71400412000304SGS00 (USGS), held-out block"})
    _clip_outlines(os.path.join(shared, *RGI), os.path.join(OUT, "everest_rgi60_heldout.gpkg"), grid)
    return path


def _clip_outlines(src, dst, grid):
    from osgeo import ogr, osr

    ogr.UseExceptions()
    ds = ogr.Open(src)
    lyr = ds.GetLayer(0)
    target = osr.SpatialReference()
    target.ImportFromWkt(grid.crs.to_wkt())
    target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    source = lyr.GetSpatialRef()
    source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transform = osr.CoordinateTransformation(source, target)
    left, bottom, right, top = grid.bounds
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((left, bottom), (right, bottom), (right, top), (left, top), (left, bottom)):
        ring.AddPoint_2D(x, y)
    box = ogr.Geometry(ogr.wkbPolygon)
    box.AddGeometry(ring)
    features = []
    for f in lyr:
        g = f.GetGeometryRef().Clone()
        g.Transform(transform)
        clipped = g.Intersection(box)
        if clipped is None or clipped.IsEmpty() or clipped.GetArea() <= 0:
            continue
        features.append({"type": "Feature", "geometry": json.loads(ogr.ForceToMultiPolygon(clipped).ExportToJson()),
                         "properties": {"rgi_id": f.GetField("RGIId") if f.GetFieldIndex("RGIId") >= 0 else ""}})
    if os.path.exists(dst):
        os.remove(dst)
    write_features(dst, features, grid.crs, layer="rgi60_heldout", geometry_type="MultiPolygon")


def columbia(shared):
    db, zones, grid = columbia_scene(shared, np.random.default_rng(COLUMBIA_SEED), 50.0)
    write_raster(os.path.join(OUT, "columbia_sar_simulated_50m.tif"), db.astype(np.float32), grid,
                 band_names=["sigma0_db"], cog=False,
                 tags={"SOURCE": "SIMULATED SAR-like backscatter (dB) over Columbia Glacier geometry; "
                                 "serac.models.calving_scenes.columbia_scene, seed 7"})
    write_raster(os.path.join(OUT, "columbia_zones_reference.tif"), zones, grid, nodata=255, dtype="uint8",
                 band_names=["zone"], cog=False, tags={"CLASSES": "0 glacier, 1 ocean, 2 rock"})
    front = front_mask(zones, GLACIER, OCEAN, 50.0, min_length_m=0)
    lines = boundary_lines(front, zones == GLACIER, grid, model_name="reference (simulation zones)")
    path = os.path.join(OUT, "columbia_front_reference.gpkg")
    if os.path.exists(path):
        os.remove(path)
    write_features(path, lines, grid.crs, layer="front_reference", geometry_type="LineString")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared-data", default=SHARED)
    a = p.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    everest_heldout(a.shared_data)
    columbia(a.shared_data)
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name)) / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
