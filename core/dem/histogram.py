"""Histograms of stable-terrain dh before and after a co-registration (for the HTML report)."""

import numpy as np

HISTOGRAM_BINS = 80


def histogram(before, after):
    """Counts of dh before and after (m) in :data:`HISTOGRAM_BINS` bins over +/- the 99th percentile of |dh|."""
    values = np.concatenate([before[np.isfinite(before)], after[np.isfinite(after)]])
    lim = float(np.percentile(np.abs(values, out=values), 99, overwrite_input=True)) if values.size else 1.0
    lim = max(lim, 0.1)
    counts = [np.histogram(v[np.isfinite(v)], HISTOGRAM_BINS, range=(-lim, lim))[0].tolist() for v in (before, after)]
    return {"edges_m": np.linspace(-lim, lim, HISTOGRAM_BINS + 1).tolist(), "before": counts[0], "after": counts[1]}
