"""Fixtures of the command-line and batch tests: small crops of the sample data and a way to run ``serac``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "sample_data"
REFERENCE = SAMPLE / "everest_landsat" / "LE71400412000304SGS00_B4.tif"
SECONDARY = SAMPLE / "velocity" / "everest_B4_SYNTHETIC_flow_20001115.tif"
RGB = SAMPLE / "segmentation" / "everest_landsat_rgb_heldout.tif"


def serac(*args, timeout=300, **kwargs):
    """Run the ``serac`` command (``python -m serac.cli``) in a subprocess; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "build" / "pluginpath"))
    return subprocess.run([sys.executable, "-m", "serac.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


def crop(src, dst, col, row, size):
    """Write a ``size`` px square window of ``src`` (with its tags) to ``dst``."""
    import rasterio
    from rasterio.windows import Window

    win = Window(col, row, size, size)
    with rasterio.open(src) as ds:
        profile = dict(ds.profile, width=size, height=size, transform=ds.window_transform(win))
        data, tags = ds.read(window=win), ds.tags()
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
        out.update_tags(**tags)
    return str(dst)


@pytest.fixture
def pairs(tmp_path):
    """Two small velocity pairs (256 px crops of the sample pair; dates in the file names)."""
    out = []
    for i, (col, row) in enumerate([(100, 100), (400, 300)]):
        out.append((crop(REFERENCE, tmp_path / f"ref{i}_20001030.tif", col, row, 256),
                    crop(SECONDARY, tmp_path / f"sec{i}_20001115.tif", col, row, 256)))
    return out
