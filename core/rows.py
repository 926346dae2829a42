"""Distinct rows of an array, compared as bytes (the one way Serac groups identical rows)."""

import numpy as np


def distinct_rows(a):
    """(first, inverse) of the distinct entries of ``a`` (N, ...) along its first axis, compared byte for byte.

    ``a[first]`` are the distinct entries in sorted byte order; ``inverse`` (N,) gives each entry's index among them.
    """
    flat = np.ascontiguousarray(a).reshape(a.shape[0], -1)
    view = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).ravel()
    _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    return first, inverse.ravel()
