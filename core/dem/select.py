"""Exact medians of large samples, faster than a full ``np.partition``.

The fit takes many medians of ~500 000 stable-terrain values. ``np.median`` runs an
introselect over all of them (about 5 ms each). :func:`median` first brackets the
middle rank with a small strided pilot sample, counts the values below the bracket and
partitions only the few percent inside it: three vectorized comparisons instead of a
selection. The result is the same order statistic, so it equals ``np.median`` exactly;
when the pilot bracket misses (unusual data order) it falls back to ``np.median``.
"""

import numpy as np

#: Below this many values the plain ``np.median`` is as fast.
DIRECT_MAX = 50_000
#: Values in the pilot sample; the bracket is +-BRACKET_SD standard errors of its rank.
PILOT = 4096
BRACKET_SD = 4.0


def median(values):
    """Median of the 1-D array ``values`` (all finite), equal to ``np.median(values)``.

    ``values`` is not modified.
    """
    values = np.asarray(values)
    n = values.size
    if n <= DIRECT_MAX:
        return np.median(values)
    half = n // 2
    ranks = [half - 1, half] if n % 2 == 0 else [half]
    pilot = np.sort(values[::n // PILOT])
    m = pilot.size
    spread = BRACKET_SD * np.sqrt(m * 0.25) + 1
    lo = pilot[max(0, int(ranks[0] / n * m - spread))]
    hi = pilot[min(m - 1, int(ranks[-1] / n * m + spread) + 1)]
    below = int(np.count_nonzero(values < lo))
    inside = values[(values >= lo) & (values <= hi)]
    if not below <= ranks[0] or not ranks[-1] < below + inside.size:
        return np.median(values)
    local = [r - below for r in ranks]
    middle = np.partition(inside, local)[local]
    return np.mean(middle)
