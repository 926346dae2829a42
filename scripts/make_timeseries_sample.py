"""Build the velocity time-series demo pairs in resources/sample_data/timeseries.

The spatial pattern is real: a 128 x 96 px (60 m) crop of the GLAFT Kaskawulsh Glacier
velocity product (Landsat 8, 2018-03-04 -> 2018-04-05). The time behaviour is SYNTHETIC:
the field is scaled by a seasonal cycle (+-40 %, peak in early July), sampled by 14 image
pairs with baselines of 16-200 days drawn from 8-day acquisitions in 2018, with 2 m of
displacement noise per pair and a cloud gap in some pairs. Each pair is written as one
GeoTIFF with bands vx, vy (m/yr, east/north) named by its two dates, as the "Velocity
time series" algorithm reads them.

    .venv/bin/python scripts/make_timeseries_sample.py [--shared ../shared/data]
"""

import argparse
import json
from pathlib import Path

import numpy as np
from _checkout import ROOT, use_checkout
OUT = ROOT / "resources" / "sample_data" / "timeseries"
WINDOW = (340, 250, 128, 96)  # col_off, row_off, width, height (px) in the GLAFT product


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    use_checkout()
    from serac.core import raster_io as rio
    from serac.core.timeseries import synthetic as syn

    folder = args.shared / "velocity" / "glaft_kaskawulsh"
    vx = rio.read_raster(folder / "20180304-20180405_velo-raw_vx.tif", window=WINDOW)
    vy = rio.read_raster(folder / "20180304-20180405_velo-raw_vy.tif", window=WINDOW)
    field = np.stack([vx.band(1), vy.band(1)]).astype(np.float64) * 365.25  # m/day -> m/yr
    scenario = syn.field_scenario(field, n_pairs=14, start="2018-01-01", end="2018-12-31", revisit_days=8,
                                  min_baseline=16, max_baseline=200, signal=syn.SeasonalSignal(0.4, 190),
                                  sigma_disp=2.0, gap_fraction=0.1, seed=11)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.tif"):
        old.unlink()
    paths = syn.write_pair_files(OUT, scenario.stack, scenario.date1, scenario.date2, vx.grid, units="m/yr",
                                 prefix="kaskawulsh_")
    truth = {"pairs": [[str(a), str(b)] for a, b in zip(scenario.date1, scenario.date2)],
             "seasonal_amplitude": 0.4, "seasonal_peak_day_of_year": 190, "noise_m": 2.0,
             "window_col_row_width_height": WINDOW}
    (OUT / "scenario.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    print(f"{len(paths)} pair files in {OUT}")


if __name__ == "__main__":
    main()
