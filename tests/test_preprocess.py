"""Per-slice recipe: every step checked against values worked out by hand or by a second implementation."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi

from liverseg.data import preprocess as pp
from liverseg.config import PreprocessConfig, config_hash
from liverseg.errors import OptionError


def test_window_arithmetic_by_hand():
    hu = np.array([-1000.0, -100.0, -25.0, 50.0, 200.0, 3000.0])
    out = pp.window(hu, -100, 200)
    # (hu + 100) / 300, clipped
    np.testing.assert_allclose(out, [0.0, 0.0, 0.25, 0.5, 1.0, 1.0], atol=1e-7)
    assert out.dtype == np.float32
    np.testing.assert_allclose(pp.window(np.array([0.0, 40.0, 400.0]), 0, 400), [0.0, 0.1, 1.0], atol=1e-7)


def test_window_leaves_input_untouched_and_rejects_empty_window():
    hu = np.array([-50.0, 500.0], dtype=np.float32)
    pp.window(hu, -100, 200)
    np.testing.assert_array_equal(hu, [-50.0, 500.0])
    with pytest.raises(OptionError):
        pp.window(hu, 200, -100)


def test_global_equalisation_matches_opencv_equalizehist():
    rng = np.random.default_rng(0)
    levels = np.clip(rng.normal(90, 20, (3, 40, 50)), 0, 255).astype(np.uint8)
    out = pp.equalize(levels / 255.0, "global")
    expected = np.stack([cv2.equalizeHist(s) for s in levels]) / 255.0
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1.01 / 255)


def test_global_equalisation_range_monotone_and_background_plateau():
    rng = np.random.default_rng(1)
    img = np.zeros((1, 32, 32), dtype=np.float32)
    img[0, 8:24, 8:24] = rng.uniform(0.3, 0.5, (16, 16))  # low-contrast organ on a large zero plateau
    out = pp.equalize(img, "global")
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.all(out[img == 0] == 0.0)  # the plateau stays black
    order = np.argsort(img.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)  # monotone in the input
    inside = out[0, 8:24, 8:24]
    assert inside.max() - inside.min() > 0.9  # the 0.3..0.5 range is spread over nearly [0, 1]


def test_equalisation_of_constant_slices_has_no_nan():
    for method in ("global", "clahe"):
        for value in (0.0, 0.4, 1.0):
            out = pp.equalize(np.full((2, 16, 16), value, dtype=np.float32), method)
            assert np.all(np.isfinite(out))
            assert out.min() >= 0 and out.max() <= 1
            assert np.ptp(out) == 0.0


def test_clahe_range_floor_and_contrast():
    rng = np.random.default_rng(2)
    img = np.zeros((2, 64, 64), dtype=np.float32)
    img[:, 16:48, 16:48] = rng.uniform(0.45, 0.55, (2, 32, 32))
    out = pp.equalize(img, "clahe")
    assert out.dtype == np.float32 and out.shape == img.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.all(out[img == 0] == 0.0)
    assert out[:, 16:48, 16:48].std() > 2 * img[:, 16:48, 16:48].std()


def test_equalize_rejects_unknown_method():
    with pytest.raises(OptionError):
        pp.equalize(np.zeros((1, 4, 4)), "adaptive")


@pytest.mark.parametrize("size", [3, 5, 7])
def test_median_removes_salt_noise(size):
    img = np.full((2, 30, 30), 0.5, dtype=np.float32)
    img[0, 5, 5] = img[0, 20, 11] = img[1, 0, 0] = img[1, 29, 17] = 1.0  # isolated salt, borders included
    img[1, 14, 14] = 0.0  # and a pepper pixel
    out = pp.denoise(img, "median", size)
    np.testing.assert_array_equal(out, np.full_like(img, 0.5))


@pytest.mark.parametrize("size", [3, 5, 7])
def test_median_equals_scipy_median_with_replicated_borders(size):
    img = np.random.default_rng(3).random((2, 17, 23)).astype(np.float32)
    expected = np.stack([ndi.median_filter(s, size=size, mode="nearest") for s in img])
    np.testing.assert_array_equal(pp.denoise(img, "median", size), expected)


def test_bilateral_smooths_flat_regions_and_keeps_the_edge():
    rng = np.random.default_rng(4)
    clean = np.zeros((1, 40, 40), dtype=np.float32)
    clean[:, :, 20:] = 0.8
    noisy = clean + rng.normal(0, 0.02, clean.shape).astype(np.float32)
    out = pp.denoise(noisy, "bilateral", 5)
    assert out[0, 5:35, 3:15].std() < 0.6 * noisy[0, 5:35, 3:15].std()
    step = out[0, :, 21:].mean() - out[0, :, :19].mean()
    assert step > 0.75
    np.testing.assert_array_equal(pp.denoise(noisy, "none", 5), noisy)
    with pytest.raises(OptionError):
        pp.denoise(noisy, "wiener", 3)


def test_gaussian_smoothing_of_an_impulse_by_hand():
    img = np.zeros((1, 21, 21), dtype=np.float32)
    img[0, 10, 10] = 1.0
    sigma = 1.0
    out = pp.smooth(img, sigma)
    taps = np.exp(-np.arange(-4, 5) ** 2 / (2 * sigma ** 2))
    taps /= taps.sum()
    np.testing.assert_allclose(out[0, 6:15, 6:15], np.outer(taps, taps), atol=1e-6)
    assert out[0, :6].max() == 0 and out[0, 15:].max() == 0
    np.testing.assert_array_equal(pp.smooth(img, 0.0), img)


def test_resize_shapes_and_area_average():
    img = np.random.default_rng(5).random((3, 64, 64)).astype(np.float32)
    down = pp.resize_slices(img, 32)
    assert down.shape == (3, 32, 32) and down.dtype == np.float32
    block_mean = img.reshape(3, 32, 2, 32, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(down, block_mean, atol=1e-6)
    assert pp.resize_slices(img, 100).shape == (3, 100, 100)
    assert pp.resize_slices(np.zeros((2, 30, 50)), 16).shape == (2, 16, 16)


def test_nearest_label_resize_keeps_label_set():
    rng = np.random.default_rng(6)
    lab = np.zeros((4, 64, 64), dtype=np.uint8)
    lab[:, 10:50, 10:50] = 1
    lab[:, 20:30, 22:34] = 2
    lab[1] = rng.integers(0, 3, (64, 64))
    for size in (17, 32, 100):
        out = pp.resize_slices(lab, size, order="nearest")
        assert out.shape == (4, size, size) and out.dtype == np.uint8
        assert set(np.unique(out)) <= {0, 1, 2}
    half = pp.resize_slices(lab, 32, order="nearest")
    np.testing.assert_array_equal(half, lab[:, 1::2, 1::2])  # pixel-centre aligned: picks 2i + 1


def test_preprocess_slices_axes_dtype_range_and_determinism():
    rng = np.random.default_rng(7)
    hu = rng.normal(60, 80, (48, 40, 6)).astype(np.float32)  # (x, y, z)
    cfg = PreprocessConfig(window=(-100, 200), denoise="median", denoise_size=3, smooth_sigma=0.5,
                           equalize="clahe", size=32)
    a = pp.preprocess_slices(hu, cfg)
    b = pp.preprocess_slices(hu.copy(), cfg)
    assert a.shape == (6, 32, 32) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    # axis convention: slice k is hu[:, :, k]; with the identity recipe the output equals the window
    plain = PreprocessConfig(window=(-100, 200), size=40)
    hu2 = np.full((40, 40, 3), -1000.0, dtype=np.float32)
    hu2[5, 30, 2] = 50.0
    out = pp.preprocess_slices(hu2, plain)
    assert out.shape == (3, 40, 40)
    assert out[2, 5, 30] == pytest.approx(0.5)
    assert out.sum() == pytest.approx(0.5)


@pytest.mark.parametrize("value", [-1024.0, 40.0, 3000.0])
def test_constant_volume_through_a_full_recipe(value):
    cfg = PreprocessConfig(denoise="median", smooth_sigma=0.5, equalize="global", size=16)
    out = pp.preprocess_slices(np.full((24, 24, 3), value, dtype=np.float32), cfg)
    assert np.all(np.isfinite(out)) and np.ptp(out) == 0
    expected = min(max((value + 100.0) / 300.0, 0.0), 1.0)
    assert out[0, 0, 0] == pytest.approx(round(expected * 255) / 255, abs=1e-6)


def test_label_slices_transpose_and_dtype():
    lab = np.zeros((8, 8, 3), dtype=np.int16)
    lab[1, 4, 2] = 2
    out = pp.label_slices(lab, 8)
    assert out.shape == (3, 8, 8) and out.dtype == np.uint8
    assert out[2, 1, 4] == 2 and out.sum() == 2
    big = pp.label_slices(lab, 16)  # each pixel becomes a 2 x 2 block
    assert big.shape == (3, 16, 16)
    assert np.array_equal(np.argwhere(big == 2), [[2, 2, 8], [2, 2, 9], [2, 3, 8], [2, 3, 9]])


def test_recipe_hash_is_the_config_hash():
    cfg = PreprocessConfig()
    assert pp.recipe_hash(cfg) == config_hash(cfg)
    assert pp.recipe_hash(replace(cfg, window=(-200.0, 250.0))) != pp.recipe_hash(cfg)
    assert pp.recipe_hash(replace(cfg)) == pp.recipe_hash(cfg)
