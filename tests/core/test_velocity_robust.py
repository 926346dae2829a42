"""Robust velocity defaults: featureless chips, misregistration without outlines, per-point errors."""

from pathlib import Path

import numpy as np
import pytest
import rasterio

from serac.core.errors import SeracWarning
from serac.core.jobs import run_job
from serac.core.masks import glacier_mask
from serac.core.raster_io import read_raster, write_raster
from serac.core.vector_io import read_geometries
from serac.core.velocity import CorrelationParams, filtering, glacier_velocity, track_arrays
from serac.core.velocity.correlation import peak_sigma
from serac.core.velocity.engine import featureless_pixels
from serac.core.velocity.synthetic import add_noise, fourier_shift, warp
from serac.core.velocity.velocity import stable_points

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample_data" / "everest_landsat"
YEARS = 16 / 365.25
PX_PER_YEAR = 30 / YEARS
FAST = CorrelationParams(chip=32, search=6, max_chip=32)


@pytest.fixture(scope="module")
def everest():
    r = read_raster(SAMPLE / "LE71400412000304SGS00_B4.tif")
    return r.band(1).astype(np.float64), r.grid, read_geometries(SAMPLE / "15_rgi60_glacier_outlines.gpkg", r.grid.crs)


def write_pair(folder, ref, sec, grid):
    a, b = folder / "ref_20001030.tif", folder / "sec_20001115.tif"
    write_raster(a, ref.astype("float32"), grid)
    write_raster(b, sec.astype("float32"), grid)
    return a, b


def test_featureless_pixels_are_flat_neighbourhoods():
    img = np.random.default_rng(0).normal(size=(40, 40))
    img[10:20, 10:20] = 255.0  # a saturated patch
    img[30, 30] = np.nan
    flat = featureless_pixels(img)
    assert flat[11:19, 11:19].all() and not flat[10, 25] and not flat[30, 30]
    assert flat.sum() == 64  # the 8 x 8 interior of the patch only


def test_saturated_chips_are_not_matched(everest):
    img = everest[0]
    top = np.percentile(img, 80)  # 20 % of the scene saturated, in large snow areas
    ref = np.minimum(img, top)
    sec = np.minimum(fourier_shift(img, 0.3, -0.6), top)
    on = track_arrays(ref, sec, CorrelationParams(chip=32, search=6, max_chip=32, max_featureless=0.5),
                      backend="numpy")
    off = track_arrays(ref, sec, CorrelationParams(chip=32, search=6, max_chip=32, max_featureless=1.0),
                       backend="numpy")
    lay = on.layout
    rows = np.rint(lay.centre(np.arange(lay.shape[0]))).astype(int)
    cols = np.rint(lay.centre(np.arange(lay.shape[1]))).astype(int)
    from scipy import ndimage

    frac = ndimage.uniform_filter(featureless_pixels(ref).astype(float), 32)[np.ix_(rows, cols)]
    mostly = (frac > 0.55) & (on.status != filtering.NODATA)
    assert mostly.sum() > 20
    assert (on.status[mostly] == filtering.LOW_QUALITY).all()  # every mostly-saturated chip is refused
    assert off.valid[mostly].sum() > 0  # ... which the correlation alone would have kept
    assert on.valid.sum() < off.valid.sum()
    with pytest.raises(Exception, match="max_featureless"):
        CorrelationParams(max_featureless=0.0)


def test_constant_misregistration_is_removed_without_outlines(everest, tmp_path):
    img, grid, outlines = everest
    ice = glacier_mask(outlines, grid).astype(float)
    dx = 0.8 + 2.0 * ice  # 0.8 px misregistration everywhere (548 m/yr), 2 px of flow on the glaciers
    ref, sec = write_pair(tmp_path, add_noise(img, 1.0, seed=4), add_noise(warp(img, 0.0, dx), 1.0, seed=3), grid)
    res = glacier_velocity(ref, sec, params=FAST, backend="numpy")
    s = res.summary
    assert s["offset_method"] == "slow" and s["stable_count"] > 50
    assert s["offset_x_px"] == pytest.approx(0.8, abs=0.03) and abs(s["offset_y_px"]) < 0.03
    stable = res.valid & stable_points(outlines, res.grid, FAST, res.chip)
    assert abs(np.median(res.vx[stable])) < 0.03 * PX_PER_YEAR  # was 548 m/yr without the correction
    glacier = res.valid & (glacier_mask(outlines, res.grid) == 1)
    assert np.median(res.vx[glacier]) == pytest.approx(2.0 * PX_PER_YEAR, rel=0.1)
    # with outlines the same offset is measured on the stable ground they define
    with_outlines = glacier_velocity(ref, sec, params=FAST, outlines=outlines, backend="numpy")
    assert with_outlines.summary["offset_method"] == "polygons"
    assert with_outlines.summary["offset_x_px"] == pytest.approx(0.8, abs=0.03)


def test_no_stable_population_warns(everest, tmp_path):
    img, grid, _ = everest
    ref, sec = write_pair(tmp_path, img, fourier_shift(img, 0.0, 4.5), grid)  # everything moves 4.5 px
    with pytest.warns(SeracWarning, match="misregistration of the images was not removed"):
        res = glacier_velocity(ref, sec, params=FAST, backend="numpy")
    assert res.summary["offset_method"] == "none" and res.summary["offset_x_px"] == 0.0
    assert np.median(res.vx[res.valid]) == pytest.approx(4.5 * PX_PER_YEAR, rel=0.01)
    with pytest.warns(SeracWarning, match="No glacier outlines or stable areas"):
        glacier_velocity(ref, sec, params=FAST, backend="numpy", offset_correction="polygons")


def test_peak_sigma_grows_with_weaker_and_blunter_peaks():
    s = peak_sigma(np.array([0.9, 0.5, 0.9, 0.9]), np.array([[0.2, 0.2]] * 2 + [[0.05, 0.2], [0.2, 0.2]]),
                   np.array([32, 32, 32, 64]))
    assert s[1, 0] > s[0, 0] and s[2, 0] > s[0, 0] and s[2, 1] == s[0, 1] and s[3, 0] < s[0, 0]


def test_point_error_is_larger_where_the_errors_are_larger(everest, tmp_path):
    img, grid, _ = everest
    rng = np.random.default_rng(5)
    noise = np.where(np.arange(img.shape[1])[None, :] < img.shape[1] // 2, 1.0, 12.0)  # DN: left quiet, right noisy
    sec = fourier_shift(img, 0.3, -0.7) + noise * rng.normal(size=img.shape)
    ref, sec = write_pair(tmp_path, img + noise * rng.normal(size=img.shape), sec, grid)
    res = glacier_velocity(ref, sec, params=FAST, backend="numpy", offset_correction="none")
    half = res.grid.width // 2
    left, right = res.valid.copy(), res.valid.copy()
    left[:, half - 2:] = False
    right[:, :half + 2] = False
    actual = np.hypot(res.vx - (-0.7 * PX_PER_YEAR), res.vy - (-0.3 * PX_PER_YEAR))
    assert np.median(actual[right]) > 1.5 * np.median(actual[left])  # the noise does make larger errors ...
    assert np.median(res.error[right]) > 1.5 * np.median(res.error[left])  # ... and the band says so
    assert np.isnan(res.error[~res.valid]).all() and (res.error[res.valid] > 0).all()
    # on the quiet half, the band is the right size: about 1 sigma of the actual error
    ratio = np.median(actual[left]) / np.median(res.error[left])
    assert 0.3 < ratio < 3.0


def test_job_writes_the_error_raster(tmp_path):
    res = run_job("glacier_velocity", {"reference": str(SAMPLE / "LE71400412000304SGS00_B4.tif"),
                                       "secondary": str(SAMPLE.parent / "velocity"
                                                        / "everest_B4_SYNTHETIC_flow_20001115.tif"),
                                       "outlines": str(SAMPLE / "15_rgi60_glacier_outlines.gpkg")},
                  {"output": str(tmp_path / "v.tif"), "error": str(tmp_path / "err.tif")},
                  {"chip": 32, "search": 8, "spacing": 16, "reference_date": "2000-10-30"})
    with rasterio.open(res.outputs["error"]) as ds:
        err = ds.read(1)
        assert ds.count == 1 and ds.tags(1)["UNITS"] == "m/yr" and ds.descriptions == ("error",)
    assert np.nanmedian(err) == pytest.approx(res.numbers["median_error"]) and res.numbers["median_error"] > 0
    assert res.numbers["offset_x_px"] == pytest.approx(-0.15, abs=0.03)  # the demo pair's known misregistration


def slc_off_gaps(shape, phase, period=32, widest=14.0):
    """Landsat 7 SLC-off-like gaps (True): bands along the scan lines, slightly tilted, about 1 px wide at
    the centre column and ``widest`` px at the sides (the wedge geometry of the real gaps)."""
    r, c = np.mgrid[:shape[0], :shape[1]]
    width = 1.0 + (widest - 1.0) * np.abs(c - shape[1] / 2) / (shape[1] / 2)
    return ((r + 0.1 * c + phase) % period) < width


def test_slc_off_stripes_give_points_with_the_masked_correlation(everest):
    img = everest[0]
    ref = add_noise(img, 2.0, seed=1)
    sec = add_noise(fourier_shift(img, 0.4, -1.3), 2.0, seed=2)
    ref = np.where(slc_off_gaps(img.shape, 0), np.nan, ref)  # the two scenes' gaps fall on different ground
    sec = np.where(slc_off_gaps(img.shape, 11), np.nan, sec)
    assert 0.15 < np.isnan(ref).mean() < 0.35
    strict = track_arrays(ref, sec, CorrelationParams(chip=32, search=8, max_chip=32), backend="numpy")
    assert strict.valid.mean() < 0.3  # the 90 % valid-data rule leaves few points
    field = track_arrays(ref, sec, CorrelationParams(chip=32, search=8, max_chip=32, min_valid=0.5),
                         backend="numpy")
    v = field.valid
    err = np.hypot(field.dx[v] + 1.3, field.dy[v] - 0.4)
    assert v.mean() > 0.8
    assert abs(np.median(field.dx[v]) + 1.3) < 0.02 and abs(np.median(field.dy[v]) - 0.4) < 0.03
    assert np.median(err) < 0.08 and np.mean(err > 0.5) < 0.03


def _masked_ncc_max(chip, window, valid, min_overlap=0.25):
    """Highest masked ZNCC over integer offsets, by brute force in float64 (channels summed)."""
    c, m = chip.shape[-1], window.shape[-1] - chip.shape[-1] + 1
    best = -1.0
    for u in range(m):
        for v in range(m):
            mk = valid[u:u + c, v:v + c]
            if mk.sum() < min_overlap * c * c:
                continue
            a = chip[:, mk].astype(float)
            w = window[:, u:u + c, v:v + c][:, mk].astype(float)
            a -= a.mean(axis=1, keepdims=True)
            w -= w.mean(axis=1, keepdims=True)
            d = np.sqrt((a * a).sum() * (w * w).sum())
            best = max(best, (a * w).sum() / d if d > 0 else -1.0)
    return best


@pytest.mark.parametrize("channels", [1, 2])
def test_masked_correlation_against_brute_force(channels):
    """Masked NCC (one or two channels) at scene edges and stripes: strong peaks as a float64 brute force gives
    them, never above 1, and no score where no offset overlaps enough."""
    from serac.core.velocity.backends import NumpyOps
    from serac.core.velocity.correlation import masked_match_batch

    rng = np.random.default_rng(3)
    c, s, n = 16, 28, 40
    tile = rng.normal(size=(channels, 120, 120)).astype(np.float32)
    valid = np.ones((120, 120), bool)
    valid[:, :30] = False  # a scene edge
    valid[60:64] = False  # and a stripe
    full = tile.copy()
    tile[:, ~valid] = 0.0
    rows, cols = rng.integers(0, 120 - s, n), rng.integers(0, 120 - s, n)
    windows = np.stack([tile[:, r:r + s, q:q + s] for r, q in zip(rows, cols)])
    chips = np.stack([full[:, r + 5:r + 5 + c, q + 7:q + 7 + c] for r, q in zip(rows, cols)])
    chips += rng.normal(0, 0.1, chips.shape).astype(np.float32)
    window_mask = np.stack([valid[r:r + s, q:q + s] for r, q in zip(rows, cols)]).astype(np.float32)
    peaks = masked_match_batch(NumpyOps(1), chips, windows, np.ones((n, c, c), np.float32), window_mask)
    exact = np.array([_masked_ncc_max(chips[i], windows[i], window_mask[i] > 0) for i in range(n)])
    strong, scored = exact > 0.5, exact > -1
    assert strong.mean() > 0.5 and (~scored).any()
    assert np.all(np.abs(peaks.ncc[strong] - exact[strong]) < 0.01)  # refinement adds a little
    assert np.allclose(peaks.row[strong], 5, atol=0.15) and np.allclose(peaks.col[strong], 7, atol=0.15)
    assert np.all(peaks.ncc <= 1.0)
    assert np.all(peaks.flat[~scored]) and np.all(peaks.ncc[~scored] <= 0)


def test_real_landsat8_pair_on_the_bundled_crop(tmp_path):
    real = SAMPLE.parent / "velocity_real"
    res = run_job("glacier_velocity", {"reference": str(real / "LC80630182016200LGN00_B8_yahtse_crop.tif"),
                                       "secondary": str(real / "LC80630182016216LGN00_B8_yahtse_crop.tif"),
                                       "stable_areas": str(real / "yahtse_rock_outcrops.gpkg")},
                  {"output": str(tmp_path / "v.tif")}, {"max_speed": 6000})
    n = res.numbers
    assert n["interval_days"] == 16 and n["valid_fraction"] > 0.7 and n["stable_count"] > 50
    assert res.report["offset_method"] == "polygons"
    assert n["stable_nmad_vx"] < 60 and n["stable_nmad_vy"] < 60  # m/yr: below 0.2 px over 16 days
    with rasterio.open(res.outputs["output"]) as ds:
        speed = ds.read(3) / 365.25  # m/day
    assert 12.0 < np.nanpercentile(speed, 99) < 20.0  # the calving tongue: 12-17 m/day


def test_masked_correlation_of_a_point_does_not_depend_on_its_batch():
    """The masks' spectra are computed once per distinct mask of a batch: each point's peak is the same, bit for bit,
    whether it is matched alone or with others (some sharing its masks, others not); torch agrees with numpy."""
    from serac.core.backend import has_module
    from serac.core.velocity.backends import NumpyOps, TorchOps
    from serac.core.velocity.correlation import masked_match_batch

    rng = np.random.default_rng(5)
    c, s, n = 16, 28, 24
    tile = rng.normal(size=(1, 90, 90)).astype(np.float32)
    valid = np.ones((90, 90), bool)
    valid[:8] = False  # an image edge (under the chips' peaks): the windows along it share one mask
    valid[50:52, 40:] = False  # a stripe: masks of their own
    rows = np.concatenate([np.zeros(n // 2, int), rng.integers(20, 90 - s, n // 2)])
    cols = rng.integers(0, 90 - s, n)
    windows = np.stack([tile[:, r:r + s, q:q + s] * valid[r:r + s, q:q + s] for r, q in zip(rows, cols)])
    chips = np.stack([tile[:, r + 4:r + 4 + c, q + 6:q + 6 + c] for r, q in zip(rows, cols)])
    chips += rng.normal(0, 0.3, chips.shape).astype(np.float32)
    chip_mask = np.ones((n, c, c), np.float32)
    chip_mask[-1, :2] = 0.0  # one chip with a gap
    window_mask = np.stack([valid[r:r + s, q:q + s] for r, q in zip(rows, cols)]).astype(np.float32)
    ops = NumpyOps(1)
    batch = masked_match_batch(ops, chips, windows, chip_mask, window_mask)
    for i in (0, 1, n // 2 + 1, n - 1):
        alone = masked_match_batch(ops, chips[i:i + 1], windows[i:i + 1], chip_mask[i:i + 1], window_mask[i:i + 1])
        for name in ("row", "col", "ncc", "ratio", "flat", "curvature"):
            np.testing.assert_array_equal(getattr(alone, name)[0], getattr(batch, name)[i])
    if has_module("torch"):
        t = TorchOps("cpu")
        got = masked_match_batch(t, *(t.asarray(a) for a in (chips, windows, chip_mask, window_mask)))
        np.testing.assert_allclose(got.row, batch.row, atol=1e-3)
        np.testing.assert_allclose(got.ncc, batch.ncc, atol=1e-4)


def test_mask_boxes_finds_rectangles_only():
    from serac.core.velocity.correlation import mask_boxes

    masks = np.zeros((6, 8, 8), bool)
    masks[0] = True  # all valid
    masks[1, 2:, :5] = True  # an image corner
    masks[2, :, :5] = True
    masks[2, 3, 2] = False  # a hole
    masks[3, :2] = masks[3, 5:] = True  # a stripe across: two pieces
    masks[4, :4, :4] = masks[4, 4:, :] = True  # an L
    is_box, boxes = mask_boxes(masks)  # masks[5]: nothing valid
    assert is_box.tolist() == [True, True, False, False, False, False]
    assert boxes[0].tolist() == [0, 8, 0, 8] and boxes[1].tolist() == [2, 8, 0, 5]


@pytest.mark.parametrize("channels", [1, 2])
def test_boxed_correlation_is_the_masked_correlation(channels):
    """Windows across an image edge or corner: the masked NCC by box sums gives the peaks of the FFT masked NCC and
    of a float64 brute force (chip without gaps); torch agrees with numpy."""
    from serac.core.backend import has_module
    from serac.core.velocity.backends import NumpyOps, TorchOps
    from serac.core.velocity.correlation import box_moments, boxed_match_batch, mask_boxes, masked_match_batch

    rng = np.random.default_rng(7)
    c, s, n = 16, 28, 30
    tile = rng.normal(size=(channels, 100, 100)).astype(np.float32)
    valid = np.ones((100, 100), bool)
    valid[:, :9] = False  # the image's left edge
    valid[:6] = False  # and its top: windows in the corner
    full = tile.copy()
    tile[:, ~valid] = 0.0
    rows = np.concatenate([rng.integers(0, 6, n // 2), rng.integers(6, 100 - s, n - n // 2)])
    cols = rng.integers(0, 9, n)
    windows = np.stack([tile[:, r:r + s, q:q + s] for r, q in zip(rows, cols)])
    shift = (9, 10)  # the chips lie inside the image
    a, b = shift
    chips = np.stack([full[:, r + a:r + a + c, q + b:q + b + c] for r, q in zip(rows, cols)])
    chips += rng.normal(0, 0.2, chips.shape).astype(np.float32)
    chips[1] = rng.normal(size=chips[1].shape)  # a point without a match
    window_mask = np.stack([valid[r:r + s, q:q + s] for r, q in zip(rows, cols)]).astype(np.float32)
    is_box, boxes = mask_boxes(window_mask)
    assert is_box.all() and (boxes[:, 0] > 0).any() and (boxes[:, 2] > 0).all()
    moments = np.stack(box_moments(windows, c), axis=1)  # (N, 2, C, m, m)
    ops = NumpyOps(1)
    got = boxed_match_batch(ops, chips, windows, boxes, moments)
    ref = masked_match_batch(ops, chips, windows, np.ones((n, c, c), np.float32), window_mask)
    exact = np.array([_masked_ncc_max(chips[i], windows[i], window_mask[i] > 0) for i in range(n)])
    strong = exact > 0.5
    assert strong.sum() >= n - 2
    assert np.all(np.abs(got.ncc[strong] - exact[strong]) < 0.01) and np.all(got.ncc <= 1.0)
    np.testing.assert_allclose(got.row[strong], shift[0], atol=0.15)
    np.testing.assert_allclose(got.col[strong], shift[1], atol=0.15)
    np.testing.assert_allclose(got.row, ref.row, atol=2e-3)
    np.testing.assert_allclose(got.col, ref.col, atol=2e-3)
    np.testing.assert_allclose(got.ncc, ref.ncc, atol=1e-4)
    np.testing.assert_array_equal(got.flat, ref.flat)
    if has_module("torch"):
        t = TorchOps("cpu")
        on_torch = boxed_match_batch(t, t.asarray(chips), t.asarray(windows), boxes, t.asarray(moments, t.double))
        np.testing.assert_allclose(on_torch.row, got.row, atol=1e-3)
        np.testing.assert_allclose(on_torch.ncc, got.ncc, atol=1e-4)


def test_points_along_the_image_edge_take_the_boxed_correlation(everest, monkeypatch):
    """The tracker sends points whose search window crosses the image edge to the masked NCC by box sums: the same
    field as with the FFT masked NCC for all of them."""
    from serac.core.velocity import engine

    img = everest[0][:200, :220]
    ref, sec = img, fourier_shift(img, 0.6, -1.2)
    params = CorrelationParams(chip=32, search=8, max_chip=32, median_threshold=None)
    calls = []
    boxed = engine.boxed_match_batch
    monkeypatch.setattr(engine, "boxed_match_batch", lambda *a, **k: calls.append(len(a[1])) or boxed(*a, **k))
    field = track_arrays(ref, sec, params, backend="numpy")
    assert sum(calls) >= 10
    monkeypatch.setattr(engine, "_valid_boxes", lambda valid, size, rows, cols: (np.zeros(len(rows), bool),
                                                                                np.zeros((len(rows), 4), np.int64)))
    masked = track_arrays(ref, sec, params, backend="numpy")
    np.testing.assert_array_equal(field.status, masked.status)
    v = field.valid
    assert v.mean() > 0.6
    np.testing.assert_allclose(field.dx[v], masked.dx[v], atol=2e-3)
    np.testing.assert_allclose(field.dy[v], masked.dy[v], atol=2e-3)
    np.testing.assert_allclose(field.ncc[v], masked.ncc[v], atol=1e-4)
