"""Batched zero-normalized cross-correlation (ZNCC) of reference chips in search windows.

For N points at once, each reference chip ``T`` (c x c px) is compared with every
c x c sub-window of its search window ``S`` (s x s px, s = c + 2 r). The ZNCC at
integer offset u (0 <= u <= s - c along each axis) is

    ncc(u) = sum_x T'(x) S(x + u) / sqrt(sum_x T'(x)^2 * var_c(S, u))

with ``T' = T - mean(T)`` and ``var_c(S, u) = sum_x S(x+u)^2 - (sum_x S(x+u))^2 / c^2``
the (un-normalized) variance of S under the chip. Because sum T' = 0 the numerator
needs no mean of S: it is one real FFT correlation per point (rfft2 of the zero-
padded chip and of the window, product, inverse; no wrap-around since s = c + 2r).
The window variance comes from summed-area tables (Lewis 1995, "Fast normalized
cross-correlation"), either per window here or once per image tile by the engine
(:func:`box_variance` on the whole tile, then gathered).

Chips or windows with gaps (nodata: Landsat 7 SLC-off stripes, scene edges, clouds masked
out) are matched by the masked NCC of Padfield (2010, IEEE Trans. Image Process. 21: 2706,
"Masked object registration in the Fourier domain"): every sum is taken over the pixels
valid in both the chip and the window at that offset, so the gaps neither match each other
nor count as dark texture (:func:`masked_match_batch`). With masks T_m, S_m and the
gap-zeroed chip and window T, S, at each offset u: n = corr(T_m, S_m), sums
corr(T, S_m), corr(T_m, S), corr(T, S), corr(T^2, S_m), corr(T_m, S^2) — six real-FFT
correlations instead of one, used for the points whose gaps have any shape (stripes). Where the
chip has no gap and the window's valid pixels are one rectangle (a search window across the
image edge), all but corr(T, S) are box sums (:func:`boxed_match_batch`): such a point costs
about as much as one without gaps.

Multi-channel inputs (N, C, ...) — e.g. the complex orientation images of
orientation correlation split into real/imaginary channels — are correlated as
one vector image: numerators and variances are summed over channels.

All heavy work runs on an array backend (:mod:`.backends`), numpy or torch.
Offsets are in px; ``row``/``col`` of a :class:`Peaks` are positions in the
correlation surface (0 .. s - c), i.e. the chip's top-left inside the window.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .subpixel import refine_peaks

#: Variances below this (in squared input units, summed over a chip) count as flat (no texture).
FLAT_VARIANCE = 1e-6


@dataclass
class Peaks:
    """Correlation peaks of N points (numpy arrays).

    ``row``/``col``: sub-pixel peak position in the surface (px, 0 .. s-c);
    ``ncc``: ZNCC at the peak (-1..1); ``ratio``: peak-to-second-peak ratio
    (>= 1; the second peak is the highest other local maximum, capped at 100);
    ``on_edge``: the integer peak lies on the border of the search range (no
    true maximum inside it); ``flat``: chip or window without texture;
    ``curvature``: (N, 2) drop of the ZNCC from the integer peak to its neighbours along rows
    and columns (``2 p0 - p-1 - p+1``, 1/px^2), the sharpness behind :func:`peak_sigma`.
    """

    row: np.ndarray
    col: np.ndarray
    ncc: np.ndarray
    ratio: np.ndarray
    on_edge: np.ndarray
    flat: np.ndarray
    curvature: np.ndarray = None

    def __len__(self):
        return len(self.row)


def box_sum(image, size):
    """Sum of every ``size`` x ``size`` box of ``image`` (..., H, W), in float64.

    Returns (..., H-size+1, W-size+1); element [i, j] is the box whose top-left is (i, j).
    (Running sums of :func:`scipy.ndimage.uniform_filter`, accumulated in double precision.)
    """
    a = np.asarray(image, dtype=np.float64)
    lead = a.ndim - 2
    mean = ndimage.uniform_filter(a, size=(1,) * lead + (size, size), mode="constant")
    h, w = a.shape[-2] - size + 1, a.shape[-1] - size + 1
    off = size // 2
    return mean[..., off:off + h, off:off + w] * float(size * size)


def box_moments(image, size):
    """Sums of x and of x^2 over every ``size`` x ``size`` box of ``image`` (..., H, W): two float64 arrays
    (..., H-size+1, W-size+1), element [i, j] for the box whose top-left is (i, j)."""
    x = np.asarray(image, dtype=np.float64)
    return box_sum(x, size), box_sum(x * x, size)


def box_variance(image, size, moments=None):
    """Un-normalized variance ``sum x^2 - (sum x)^2 / n`` of every ``size`` x ``size`` box.

    ``image`` is (..., H, W) (numpy); returns (..., H-size+1, W-size+1) float32 where
    element [i, j] is for the box whose top-left is (i, j). Summed-area tables in
    float64 keep the difference of large sums exact enough. ``moments``: :func:`box_moments`
    of the image if already computed.
    """
    s1, s2 = moments if moments is not None else box_moments(image, size)
    var = s2 - s1 * s1 / float(size * size)
    return np.maximum(var, 0.0).astype(np.float32)


def ncc_surfaces(ops, chips, windows, window_var):
    """ZNCC surfaces of a batch.

    ``chips`` (N, C, c, c), ``windows`` (N, C, s, s), ``window_var`` (N, m, m) with
    m = s - c + 1 (variance under the chip, summed over channels), all backend float32.
    Returns ``(ncc (N, m, m), spectrum (N, s, s//2+1) complex, chip_energy (N,))``;
    ``spectrum`` is conj(FFT(T')) * FFT(S) summed over channels, whose inverse FFT is
    the ZNCC numerator (kept for the sub-pixel refinement).
    """
    m = windows.shape[-1] - chips.shape[-1] + 1
    t = chips - ops.mean(chips, (-2, -1), keepdims=True)
    energy = ops.sum(t * t, (1, 2, 3))
    spectrum = ops.cross_spectrum(t, windows)
    numerator = ops.correlation(spectrum, m)
    denominator = ops.sqrt(ops.maximum(window_var, FLAT_VARIANCE) * ops.maximum(energy, FLAT_VARIANCE)[:, None, None])
    return numerator / denominator, spectrum, energy


def _neighbourhood(ops, flat, row, col, m):
    """3 x 3 values of the (N, m*m) flattened surfaces around integer (row, col) kept 1 px inside."""
    r = ops.clip(row, 1, m - 2)
    c = ops.clip(col, 1, m - 2)
    offsets = ops.index(np.array([-1, 0, 1]))
    idx = ((r[:, None, None] + offsets[None, :, None]) * m + c[:, None, None] + offsets[None, None, :])
    n = idx.shape[0]
    return ops.take_along(flat, idx.reshape(n, 9), 1).reshape(n, 3, 3), r, c


def find_peaks(ops, ncc, exclusion=2):
    """Integer peak, its value, the peak ratio and the edge flag of (N, m, m) surfaces.

    The second peak is the largest local maximum (value >= its 8 neighbours) farther than
    ``exclusion`` px from the main peak along either axis. Returns backend arrays
    ``(row, col, value, ratio, on_edge)``.
    """
    n, m = ncc.shape[0], ncc.shape[-1]
    flat = ncc.reshape(n, m * m)
    k = ops.argmax(flat, 1)
    row, col = k // m, k % m
    value = ops.take_along(flat, k[:, None], 1)[:, 0]
    on_edge = (row == 0) | (row == m - 1) | (col == 0) | (col == m - 1)
    grid = ops.index(np.arange(m))
    far = ((ops.abs(grid[None, :, None] - row[:, None, None]) > exclusion)
           | (ops.abs(grid[None, None, :] - col[:, None, None]) > exclusion))
    second = ops.amax(ops.where(ops.local_maxima(ncc) & far, ncc, -1.0).reshape(n, -1), 1)
    ratio = ops.where(value > 0, value / ops.maximum(second, ops.abs(value) / 100.0 + 1e-6), 0.0)
    return row, col, value, ratio, on_edge


def _lags(ops, spectrum, m):
    """Per-channel correlations (N, C, m, m) from cross spectra (N, C, s, k): conj(chip FFT) * window FFT."""
    n, ch = spectrum.shape[0], spectrum.shape[1]
    return ops.correlation(spectrum.reshape(n * ch, *spectrum.shape[-2:]), m).reshape(n, ch, m, m)


def _masked_chips(ops, chips, chip_mask):
    """Chips (N, C, c, c) minus their mean over their valid pixels, 0 in gaps, and the valid count (N,)."""
    tm = chip_mask[:, None]
    count = ops.maximum(ops.sum(tm, (1, 2, 3)), 1.0)  # valid chip pixels
    mean = ops.sum(chips * tm, (-2, -1), keepdims=True) / count[:, None, None, None]
    return (chips - mean) * tm, count


def _masked_peaks(ops, numerator, correction, var_t, var_w, enough, spectrum, size, subpixel, exclusion):
    """:class:`Peaks` of the masked NCC ``(numerator - correction) / sqrt(var_t var_w)`` (all (N, m, m)).

    ``enough`` (N, m, m) bool: offsets where enough of the chip's valid pixels meet valid window pixels;
    the others get no score (-1).
    """
    product = var_t * var_w
    ncc = ops.where(enough, (numerator - correction) / ops.sqrt(ops.maximum(product, FLAT_VARIANCE * FLAT_VARIANCE)),
                    -1.0)
    ones = ops.full((ncc.shape[0],), 1.0)
    flat = (ops.amax(var_t.reshape(var_t.shape[0], -1), 1) <= FLAT_VARIANCE) | \
        (ops.amax(var_w.reshape(var_w.shape[0], -1), 1) <= FLAT_VARIANCE) | \
        (ops.amax(ops.where(enough, 1.0, 0.0).reshape(ncc.shape[0], -1), 1) < 0.5)  # no offset overlaps enough
    return _peaks(ops, ncc, spectrum, product, ones, size, subpixel, exclusion, flat, correction)


def masked_match_batch(ops, chips, windows, chip_mask, window_mask, subpixel="dft", exclusion=2,
                       min_overlap=0.25):
    """:func:`match_batch` for chips/windows with gaps: the masked NCC (Padfield 2010) -> :class:`Peaks`.

    ``chips`` (N, C, c, c), ``windows`` (N, C, s, s) backend float32 with any values in the gaps;
    ``chip_mask`` (N, c, c) and ``window_mask`` (N, s, s): 1 where valid, 0 in gaps. Offsets where
    fewer than ``min_overlap`` of the chip's valid pixels meet valid window pixels get no score
    (-1). The ``dft`` refinement interpolates the numerator from its spectrum and the overlap
    terms bi-quadratically (they are box sums, slowly varying like the window variance).
    Each of the six forward transforms (chip, chip squared, chip mask; window, window squared,
    window mask) is computed once, those of the masks once per distinct mask, and the overlap
    count once per distinct pair of masks. The sums are float32: at offsets where little of the
    chip overlaps valid window pixels, a weak peak's ZNCC carries rounding of the order of 0.1.
    Masks that are one rectangle each (a search window across the image edge) take
    :func:`boxed_match_batch`, the same NCC at about a third of the cost.
    """
    c, s = chips.shape[-1], windows.shape[-1]
    m = s - c + 1
    t, count = _masked_chips(ops, chips, chip_mask)
    w = windows * window_mask[:, None]
    f_t, f_t2 = (ops.chip_spectrum(a, s) for a in (t, t * t))
    f_w, f_w2 = (ops.window_spectrum(a) for a in (w, w * w))
    chip_masks, chip_of = ops.unique_rows(chip_mask)
    window_masks, window_of = ops.unique_rows(window_mask)
    f_tm_u = ops.conj(ops.chip_spectrum(chip_masks[:, None], s))
    f_wm_u = ops.window_spectrum(window_masks[:, None])
    f_tm, f_wm = f_tm_u[chip_of], f_wm_u[window_of]  # conj(chip mask spectrum), window mask spectrum
    spectrum = ops.conj(f_t) * f_w
    tw = _lags(ops, spectrum, m)
    pairs, pair_of = ops.unique_rows(ops.stack([chip_of, window_of], 1))
    overlap = _lags(ops, f_tm_u[pairs[:, 0]] * f_wm_u[pairs[:, 1]], m)[pair_of]
    n_ov = ops.maximum(overlap[:, 0], 1.0)[:, None]
    sum_t = _lags(ops, ops.conj(f_t) * f_wm, m)
    sum_w = _lags(ops, f_tm * f_w, m)
    sq_t = _lags(ops, ops.conj(f_t2) * f_wm, m)
    sq_w = _lags(ops, f_tm * f_w2, m)
    correction = ops.sum(sum_t * sum_w / n_ov, 1)
    var_t = ops.maximum(ops.sum(sq_t - sum_t * sum_t / n_ov, 1), 0.0)
    var_w = ops.maximum(ops.sum(sq_w - sum_w * sum_w / n_ov, 1), 0.0)
    spectrum = spectrum[:, 0] if chips.shape[1] == 1 else ops.sum(spectrum, 1)
    enough = overlap[:, 0] >= min_overlap * count[:, None, None]
    return _masked_peaks(ops, ops.sum(tw, 1), correction, var_t, var_w, enough, spectrum, s, subpixel, exclusion)


def mask_boxes(masks):
    """Which masks (N, h, w) (bool or 0/1) hold their valid pixels as one rectangle, and that rectangle.

    Returns ``(is_box (N,) bool, boxes (N, 4) int64)``, a box being (first row, end row, first column,
    end column) in px, ends excluded. A mask without valid pixels is no box.
    """
    masks = np.asarray(masks) > 0
    spans = []
    for along in (masks.any(axis=2), masks.any(axis=1)):  # rows, then columns, holding valid pixels
        first = np.argmax(along, axis=1)
        end = along.shape[1] - np.argmax(along[:, ::-1], axis=1)
        spans.append((first, end, end - first == along.sum(axis=1)))  # contiguous
    (r0, r1, rows_ok), (c0, c1, cols_ok) = spans
    count = masks.sum(axis=(1, 2))
    is_box = rows_ok & cols_ok & (count == (r1 - r0) * (c1 - c0)) & (count > 0)
    return is_box, np.stack([r0, r1, c0, c1], axis=1).astype(np.int64)


def _distinct_spans(spans, size):
    """Distinct spans [first, end) among ``spans`` (N, m, 2) (px): their indicator rows (U, size) bool, lengths
    (U,) and each span's index (N, m)."""
    distinct, of = np.unique(spans[..., 0] * (size + 1) + spans[..., 1], return_inverse=True)
    first, end = np.divmod(distinct, size + 1)
    grid = np.arange(size)
    return (grid >= first[:, None]) & (grid < end[:, None]), end - first, of.reshape(spans.shape[:2])


def boxed_match_batch(ops, chips, windows, window_box, window_moments, subpixel="dft", exclusion=2,
                      min_overlap=0.25):
    """:func:`masked_match_batch` for a chip without gaps in a window whose valid pixels are one rectangle.

    A search window that crosses the image edge is such a window. At each offset the chip pixels that
    meet valid window pixels are then a rectangle: a span of rows times a span of columns, a few distinct
    ones in a batch (the full chip and those the window's gap cuts). The overlap count, and the mean and
    variance of the chip over the overlap, are computed once per distinct pair of spans (float64 sums, by
    products with the spans' indicator rows) and read per offset; the sums of the window and its square
    are the box sums the engine computes once per image tile (:func:`box_moments`). Only the numerator
    needs an FFT correlation, the one the ordinary NCC computes. The same masked NCC as
    :func:`masked_match_batch` with exact sums where the FFT sums carry float32 rounding, at about the
    cost of an ordinary point.

    ``chips`` (N, C, c, c) and ``windows`` (N, C, s, s) backend float32, the windows 0 in their gaps;
    ``window_box``: (N, 4) numpy int, the valid rectangle of each window (first row, end row, first
    column, end column; px; :func:`mask_boxes`); ``window_moments``: (N, 2, C, m, m) backend float64,
    the sums of the window and of its square over the chip-sized box at each offset.
    """
    n, ch, c, s = chips.shape[0], chips.shape[1], chips.shape[-1], windows.shape[-1]
    m = s - c + 1
    wb = np.asarray(window_box, np.int64)
    lag = np.arange(m)
    found = []  # per offset: the chip's rows (columns) that meet the window's valid ones
    for a in (0, 2):
        first = np.minimum(np.maximum(wb[:, a, None] - lag, 0), c)
        end = np.maximum(np.minimum(wb[:, a + 1, None] - lag, c), first)
        found.append(_distinct_spans(np.stack([first, end], axis=-1), c))
    (row_ind, row_len, row_of), (col_ind, col_len, col_of) = found
    nr, nc = len(row_len), len(col_len)
    t, _ = _masked_chips(ops, chips, ops.full((n, c, c), 1.0))
    spectrum = ops.cross_spectrum(t, windows)
    # sums of the chip and of its square over each pair of spans: (N, 2, C, nr, nc)
    x = ops.asarray(ops.stack([t, t * t], 1), ops.double).reshape(n * 2 * ch * c, c)
    x = x @ ops.asarray(col_ind.T, ops.double)
    x = ops.swap_last(x.reshape(n * 2 * ch, c, nc)).reshape(n * 2 * ch * nc, c) @ ops.asarray(row_ind.T, ops.double)
    sums = ops.swap_last(x.reshape(n, 2, ch, nc, nr))
    area = (row_len[:, None] * col_len[None, :]).astype(np.float64)  # overlap count per pair of spans
    per_pair = np.stack([1.0 / np.maximum(area, 1.0), area >= min_overlap * c * c])  # (2, nr, nc)
    mean_t = sums[:, 0] * ops.asarray(per_pair[0], ops.double)  # (N, C, nr, nc)
    var_t = ops.maximum(ops.sum(sums[:, 1] - sums[:, 0] * mean_t, 1), 0.0)
    pair = row_of[:, :, None] * nc + col_of[:, None, :]  # (N, m, m): the pair of spans at each offset
    k = ch + 1
    pick = pair[:, None] + (np.arange(n * k) * (nr * nc)).reshape(n, k, 1, 1)
    g = ops.take_flat(ops.concat([mean_t, var_t[:, None]], 1), ops.index(pick))  # (N, C + 1, m, m)
    inv_n, enough = (ops.take_flat(ops.asarray(a, ops.double), ops.index(pair)) for a in per_pair)
    sum_w, sq_w = window_moments[:, 0], window_moments[:, 1]
    correction = ops.sum(g[:, :ch] * sum_w, 1) if ch > 1 else g[:, 0] * sum_w[:, 0]
    spread = sq_w - sum_w * sum_w * inv_n[:, None]
    var_w = ops.maximum(ops.sum(spread, 1) if ch > 1 else spread[:, 0], 0.0)
    f = ops.asarray
    return _masked_peaks(ops, ops.correlation(spectrum, m), f(correction), f(g[:, ch]), f(var_w), enough > 0.5,
                         spectrum, s, subpixel, exclusion)


def correlate(ops, chips, windows, window_var=None, subpixel="dft", exclusion=2):
    """Match N chips in their search windows; return :class:`Peaks` (numpy).

    ``chips`` (N, c, c) or (N, C, c, c) and ``windows`` (N, s, s) or (N, C, s, s), numpy
    or backend arrays, with s - c even or odd (any s > c + 1). ``window_var`` (N, m, m)
    is computed here if not given (:func:`box_variance`). ``subpixel`` is one of
    :data:`serac.core.velocity.subpixel.METHODS`.
    """
    chips_np = chips if not isinstance(chips, np.ndarray) or chips.ndim == 4 else chips[:, None]
    windows_np = windows if not isinstance(windows, np.ndarray) or windows.ndim == 4 else windows[:, None]
    if window_var is None:
        wv = box_variance(ops.to_numpy(windows_np), chips_np.shape[-1])
        window_var = wv.sum(axis=1)
    t = ops.asarray(chips_np)
    w = ops.asarray(windows_np)
    if t.ndim == 3:
        t, w = t[:, None], w[:, None]
    return match_batch(ops, t, w, ops.asarray(window_var), subpixel=subpixel, exclusion=exclusion)


def match_batch(ops, chips, windows, window_var, subpixel="dft", exclusion=2):
    """:func:`correlate` on backend arrays (N, C, c, c), (N, C, s, s), (N, m, m) -> :class:`Peaks`."""
    ncc, spectrum, energy = ncc_surfaces(ops, chips, windows, window_var)
    flat = (energy <= FLAT_VARIANCE) | (ops.amax(window_var.reshape(window_var.shape[0], -1), 1) <= FLAT_VARIANCE)
    return _peaks(ops, ncc, spectrum, window_var, energy, windows.shape[-1], subpixel, exclusion, flat)


def _peaks(ops, ncc, spectrum, window_var, energy, size, subpixel, exclusion, flat, correction=None):
    """Integer peaks, their sub-pixel refinement and quality of (N, m, m) surfaces -> :class:`Peaks`.

    The ``dft`` refinement evaluates ``(numerator - correction) / sqrt(window_var * energy)`` off the
    grid: the numerator from ``spectrum``, ``window_var`` and ``correction`` (N, m, m; None: 0)
    bi-quadratically from their 3 x 3 values around the peak.
    """
    m = ncc.shape[-1]
    row, col, value, ratio, on_edge = find_peaks(ops, ncc, exclusion)
    flat_surface = ncc.reshape(ncc.shape[0], m * m)
    hood, r0, c0 = _neighbourhood(ops, flat_surface, row, col, m)
    var_hood, _, _ = _neighbourhood(ops, window_var.reshape(window_var.shape[0], m * m), row, col, m)
    offset_hood = None
    if correction is not None:
        offset_hood, _, _ = _neighbourhood(ops, correction.reshape(correction.shape[0], m * m), row, col, m)
    fine_row, fine_col, fine_value = refine_peaks(ops, subpixel, hood, r0, c0, spectrum=spectrum,
                                                  var_hood=var_hood, energy=energy, size=size,
                                                  offset_hood=offset_hood)
    curv_row = 2 * hood[:, 1, 1] - hood[:, 0, 1] - hood[:, 2, 1]
    curv_col = 2 * hood[:, 1, 1] - hood[:, 1, 0] - hood[:, 1, 2]
    if fine_value is not None:  # a refined peak, never above 1, nor where no offset was scored (-1)
        value = ops.where(value > -1.0, ops.minimum(ops.maximum(value, fine_value), 1.0), value)
    to = ops.to_numpy
    return Peaks(to(fine_row).astype(np.float64), to(fine_col).astype(np.float64), to(value).astype(np.float32),
                 to(ratio).astype(np.float32), to(on_edge).astype(bool), to(flat).astype(bool),
                 np.stack([to(curv_row), to(curv_col)], axis=1).astype(np.float32))


def peak_sigma(ncc, curvature, chip):
    """Model of the 1-sigma error (px, uncalibrated) of a peak position along rows and columns.

    The ZNCC surface carries noise of about ``sqrt((1 - ncc^2) / n)`` for a chip of n = chip^2
    pixels; a peak of curvature ``c`` (1/px^2) moves by that noise divided by ``c``. So
    ``sigma = sqrt((1 - ncc^2) / chip^2) / c``: large for weak (low ZNCC) or blunt (low
    curvature) peaks and small chips. ``ncc`` (N,), ``curvature`` (N, 2), ``chip`` (N,) px;
    returns (N, 2). The scale is calibrated on stable ground by the pipeline.
    """
    ncc = np.clip(np.asarray(ncc, dtype=np.float64), -1.0, 0.999)
    noise = np.sqrt((1.0 - ncc * ncc)) / np.maximum(np.asarray(chip, dtype=np.float64), 1.0)
    return noise[:, None] / np.maximum(np.asarray(curvature, dtype=np.float64), 1e-3)
