"""Directional filter bank for crevasses and fractures: Gabor energy over orientations and wavelengths.

Crevasse fields are bands of parallel dark/bright lines with a typical spacing (wavelength); single rifts
are lines. Both give a strong, orientation-selective response to a Gabor filter whose wave runs across
them (as in Van Wyk de Vries et al. 2023 for crevasses). This module computes, per pixel:

* ``response`` (0-1): the Gabor *energy* (magnitude of the complex, quadrature response) of the best
  filter, on the image normalised to zero mean and unit standard deviation in a moving window (about
  2.5 x the longest wavelength), divided by sqrt(2) (a pure sinusoid of the filter's wavelength and
  orientation gives 1), times the orientation coherence at that wavelength (length of the
  doubled-angle energy vector over the energy summed over orientations: 1 for one orientation, near 0
  for isotropic texture). White noise gives a median ~0.07 (99th percentile ~0.23), a noisy crevasse
  field 0.25-0.45, so one threshold works for optical reflectance, DN, SAR dB or a mosaic alike;
* ``orientation_deg`` (0-180): the direction *along* the fractures, in degrees clockwise from grid
  north (up), from the energy-weighted axial mean over the orientations at the best wavelength
  (sub-step accurate);
* ``wavelength_m``: the spacing of the best filter (m), refined by a parabola through log energy over
  log wavelength (sub-step accurate for periodic crevasse fields).

Filters are built in the frequency domain: a one-sided Gaussian centred on the wave vector
``f0 = (1 / wavelength) (direction across the fractures)`` with radial and angular standard deviation
``bandwidth * |f0|``, gain 2 (so |output| is the local amplitude). Wavelengths are given in m and
converted with the pixel size, so one setting works across sensors; wavelengths shorter than 2.5 px
are dropped with a warning (they cannot be resolved). Blockwise: :func:`filter_block` runs on a block
with a margin of about 2 x the longest wavelength, so results do not depend on the block size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

MIN_WAVELENGTH_PX = 2.5


@dataclass(frozen=True)
class FilterBank:
    """Orientations (deg, across-fracture wave azimuths) and wavelengths (px) of the bank."""

    wavelengths_px: tuple
    orientations: int = 12
    bandwidth: float = 0.25
    smoothing: float = 0.5  # Gaussian sigma of the energy averaging, in wavelengths

    @property
    def wave_azimuths_deg(self):
        """Azimuths (deg clockwise from up) of the wave vectors, 0 <= a < 180."""
        return tuple(180.0 * k / self.orientations for k in range(self.orientations))

    @property
    def margin_px(self):
        """Pixels of context each side a block needs (about 2 x the longest wavelength, + the window)."""
        return int(math.ceil(3.0 * max(self.wavelengths_px))) + 2

    @property
    def window_px(self):
        """Size (px) of the moving window of the local mean/std normalisation."""
        return max(9, int(round(2.5 * max(self.wavelengths_px))) | 1)


def make_bank(min_wavelength_m, max_wavelength_m, pixel_size_m, orientations=12, steps_per_octave=3,
              bandwidth=0.25):
    """The bank for a wavelength range in m at ``pixel_size_m`` (m/px); returns (bank, notes).

    Raises InputError when the range lies entirely below 2.5 px (nothing resolvable); ``notes`` says
    what was dropped.
    """
    if not (min_wavelength_m > 0 and max_wavelength_m >= min_wavelength_m):
        raise InputError(f"The wavelength range {min_wavelength_m:g}-{max_wavelength_m:g} m is invalid.",
                         "give 0 < minimum <= maximum (m).")
    lo, hi = min_wavelength_m / pixel_size_m, max_wavelength_m / pixel_size_m
    notes = []
    if hi < MIN_WAVELENGTH_PX:
        raise InputError(
            f"The longest wavelength, {max_wavelength_m:g} m, is {hi:.2g} px at this raster's {pixel_size_m:.3g} m "
            f"pixels: fractures this narrow cannot be resolved (at least {MIN_WAVELENGTH_PX} px are needed).",
            f"raise the wavelength range to at least {MIN_WAVELENGTH_PX * pixel_size_m:.3g} m, or use a "
            "finer-resolution image.")
    if lo < MIN_WAVELENGTH_PX:
        notes.append(f"wavelengths below {MIN_WAVELENGTH_PX * pixel_size_m:.3g} m ({MIN_WAVELENGTH_PX} px) "
                     f"cannot be resolved at {pixel_size_m:.3g} m pixels; the bank starts there.")
        lo = MIN_WAVELENGTH_PX
    n = max(1, int(math.ceil(math.log2(hi / lo) * steps_per_octave)) + 1)
    wavelengths = tuple(float(v) for v in np.geomspace(lo, hi, n)) if n > 1 else (float(lo),)
    return FilterBank(wavelengths, int(orientations), float(bandwidth)), notes


def _local_normalise(image, window):
    """(image - local mean) / local std in a ``window`` px moving window; NaN -> 0 (the local mean)."""
    from scipy import ndimage

    valid = np.isfinite(image)
    x = np.where(valid, image, 0.0).astype(np.float64)
    w = valid.astype(np.float64)
    n = ndimage.uniform_filter(w, window, mode="reflect")
    mean = ndimage.uniform_filter(x, window, mode="reflect") / np.maximum(n, 1e-6)
    sq = ndimage.uniform_filter(x * x, window, mode="reflect") / np.maximum(n, 1e-6)
    std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    floor = max(float(np.nanmedian(std[valid])) * 1e-3, 1e-12) if valid.any() else 1.0
    z = np.where(valid, (x - mean) / np.maximum(std, floor), 0.0)
    return z.astype(np.float32), valid


def _upsample(coarse, axis, n_fine):
    """Periodic linear interpolation along ``axis``: coarse sample j sits at fine position j * n_fine / n_coarse."""
    n_coarse = coarse.shape[axis]
    pos = np.arange(n_fine) * (n_coarse / n_fine)
    j0 = np.floor(pos).astype(int)
    t = (pos - j0).astype(np.float32)
    shape = [1, 1]
    shape[axis] = n_fine
    t = t.reshape(shape)
    a = np.take(coarse, j0 % n_coarse, axis=axis)
    b = np.take(coarse, (j0 + 1) % n_coarse, axis=axis)
    return a + t * (b - a)


def _band(n, centre, half_width):
    """Frequency-bin indices (mod n) of a band of ``2 * half_width + 1`` bins (capped at n) around ``centre``."""
    from scipy import fft

    k = min(n, fft.next_fast_len(2 * half_width + 1))
    first = int(round(centre)) - k // 2
    return np.arange(first, first + k) % n


def gabor_energy(spectrum, shape, wavelength_px, azimuth_rad, bandwidth, workers=None):
    """Energy (envelope amplitude / sqrt 2) of one Gabor filter for an image of ``shape`` with 2-D FFT
    ``spectrum``, on a coarse grid: only the frequency bins within 3 standard deviations of the filter
    centre are transformed back (a small inverse FFT; the envelope is band-limited to them). Coarse sample
    j sits at full-size position j * n / k (see :func:`_upsample`); every orientation of one wavelength
    gets the same coarse grid."""
    from scipy import fft

    n_r, n_c = shape
    f0 = 1.0 / wavelength_px
    sigma = bandwidth * f0
    # wave direction: east = sin(a), north = cos(a) -> (rows, cols) = (-cos a, sin a)
    gy, gx = -math.cos(azimuth_rad) * f0, math.sin(azimuth_rad) * f0
    iy = _band(n_r, gy * n_r, int(math.ceil(3 * sigma * n_r)))
    ix = _band(n_c, gx * n_c, int(math.ceil(3 * sigma * n_c)))
    fy = np.fft.fftfreq(n_r)[iy].astype(np.float32)[:, None]
    fx = np.fft.fftfreq(n_c)[ix].astype(np.float32)[None, :]
    # distance to the centre on the periodic frequency axis
    dy = (fy - gy + 0.5) % 1.0 - 0.5
    dx = (fx - gx + 0.5) % 1.0 - 0.5
    gain = 2.0 * np.exp(-(dy * dy + dx * dx) / (2.0 * sigma * sigma))
    sub = spectrum[iy][:, ix] * gain
    if 2 * len(iy) * len(ix) >= n_r * n_c:  # not worth a coarse grid: transform back at full size
        full = np.zeros(shape, np.complex64)
        full[np.ix_(iy, ix)] = sub
        return np.abs(fft.ifft2(full, workers=workers)).astype(np.float32) / np.float32(math.sqrt(2.0))
    envelope = np.abs(fft.ifft2(sub, workers=workers)).astype(np.float32)
    envelope *= np.float32(len(iy) * len(ix) / float(n_r * n_c) / math.sqrt(2.0))
    return envelope


def _to_full(coarse, shape):
    """A coarse envelope (or a sum of them) interpolated to ``shape``."""
    if coarse.shape[0] < shape[0]:
        coarse = _upsample(coarse, 0, shape[0])
    if coarse.shape[1] < shape[1]:
        coarse = _upsample(coarse, 1, shape[1])
    return coarse


def line_centres(z, orientation_deg, best_index, wavelengths_px, zone, polarity="dark"):
    """Pixels on the centre line of a crevasse: where the image, smoothed at a quarter of the local
    wavelength, is darkest (``polarity`` 'dark') or brightest ('bright') across the local fracture
    direction (non-maximum suppression at +-1 px, like Canny's), and darker (brighter) than the local mean.
    Only pixels of ``zone`` are tested. Returns a bool array."""
    from scipy import ndimage

    sign = -1.0 if polarity == "dark" else 1.0
    out = np.zeros(z.shape, bool)
    across = np.radians(orientation_deg + 90.0)
    step_r, step_c = -np.cos(across), np.sin(across)  # one px across the fractures, in (rows, cols)
    for j, wl in enumerate(wavelengths_px):
        rr, cc = np.nonzero(zone & (best_index == j))
        if rr.size == 0:
            continue
        s = sign * ndimage.gaussian_filter(z, max(0.5, wl / 4.0), mode="reflect")
        dr, dc = step_r[rr, cc], step_c[rr, cc]
        centre = s[rr, cc]
        ahead = ndimage.map_coordinates(s, [rr + dr, cc + dc], order=1, mode="nearest")
        behind = ndimage.map_coordinates(s, [rr - dr, cc - dc], order=1, mode="nearest")
        keep = (centre > 0) & (centre >= ahead) & (centre >= behind)
        out[rr[keep], cc[keep]] = True
    return out


def filter_block(image, bank, workers=None, polarity="dark", threshold=None):
    """(response, orientation_deg, wavelength_px, line_response) of a 2-D block (NaN = no data -> NaN).

    ``line_response`` is the response on crevasse centre lines (:func:`line_centres`, tested where the
    response is at least ``threshold``, default everywhere) and 0 elsewhere. ``image`` should include a
    margin of :attr:`FilterBank.margin_px` on each side for results free of edge effects; the caller
    crops it.
    """
    from scipy import fft, ndimage

    z, valid = _local_normalise(np.asarray(image, dtype=np.float32), bank.window_px)
    spectrum = fft.fft2(z, workers=workers)
    spectrum[0, 0] = 0.0
    azimuths = np.radians(bank.wave_azimuths_deg)
    shape = z.shape
    # running best over wavelengths (memory: a few full-size arrays whatever the number of filters)
    best_e = np.full(shape, -1.0, np.float32)          # energy at the best orientation, best wavelength
    best_i = np.zeros(shape, np.int16)                 # index of the best wavelength
    best_c, best_s, best_t = (np.zeros(shape, np.float32) for _ in range(3))  # doubled-angle sums, total
    prev_e, next_e = np.zeros(shape, np.float32), np.zeros(shape, np.float32)  # energies either side of best
    last = None
    for j, wl in enumerate(bank.wavelengths_px):
        peak = tot = c2 = s2 = None
        for a in azimuths:  # accumulate on the wavelength's coarse grid, then interpolate once
            e = gabor_energy(spectrum, shape, wl, a, bank.bandwidth, workers)
            if peak is None:
                peak, tot, c2, s2 = e.copy(), e.copy(), np.zeros_like(e), np.zeros_like(e)
            else:
                np.maximum(peak, e, out=peak)
                tot += e
            c2 += np.float32(math.cos(2 * a)) * e
            s2 += np.float32(math.sin(2 * a)) * e
        # average over about one wavelength: a crevasse field keeps its orientation, speckle averages out
        sigma = [bank.smoothing * wl * n_coarse / n_full for n_coarse, n_full in zip(peak.shape, shape)]
        peak, tot, c2, s2 = (_to_full(ndimage.gaussian_filter(x, sigma, mode="wrap"), shape)
                             for x in (peak, tot, c2, s2))
        if last is not None:
            np.copyto(next_e, peak, where=best_i == j - 1)
        new = peak > best_e
        for target, value in ((best_e, peak), (best_c, c2), (best_s, s2), (best_t, tot)):
            np.copyto(target, value, where=new)
        best_i[new] = j
        np.copyto(prev_e, last if last is not None else np.float32(0.0), where=new)
        last = peak
    v = best_c + 1j * best_s
    coherence = np.abs(v) / np.maximum(best_t, 1e-12)
    best = best_e * coherence
    wave = 0.5 * np.angle(v)  # rad, across-fracture azimuth
    orientation = np.mod(np.degrees(wave) + 90.0, 180.0).astype(np.float32)
    wavelength = _refine_wavelength(prev_e, best_e, next_e, best_i, np.asarray(bank.wavelengths_px))
    response = np.clip(best, 0.0, 1.0)
    zone = valid & (response >= (threshold or 0.0))
    lines = np.where(line_centres(z, orientation, best_i, bank.wavelengths_px, zone, polarity), response,
                     np.float32(0.0)).astype(np.float32)
    for a in (response, orientation, wavelength, lines):
        a[~valid] = np.nan
    return response, orientation, wavelength, lines


def _refine_wavelength(before, peak, after, index, wavelengths):
    """Wavelength (px) of the peak of a parabola through log energy over log wavelength at the best index
    (``before``/``peak``/``after``: energies at the wavelengths index - 1, index, index + 1)."""
    n = len(wavelengths)
    out = wavelengths[index].astype(np.float32)
    if n < 3:
        return out
    logw = np.log(wavelengths)
    e0, e1, e2 = (np.log(np.maximum(x, 1e-6)) for x in (before, peak, after))
    denom = e0 - 2 * e1 + e2
    step = np.where(denom < 0, 0.5 * (e0 - e2) / np.where(denom < 0, denom, -1.0), 0.0)
    inner = (index >= 1) & (index <= n - 2)
    refined = np.exp(logw[index] + np.clip(step, -0.5, 0.5) * (logw[1] - logw[0])).astype(np.float32)
    return np.where(inner, refined, out)
