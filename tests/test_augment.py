"""ImageDataGenerator-compatible joint augmentation: geometry, distributions, seeding, back ends."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from scipy import stats
from scipy.ndimage import gaussian_filter

from keras.src.legacy.preprocessing.image import ImageDataGenerator, transform_matrix_offset_center

from liverseg.config import AugmentConfig
from liverseg.data.augment import (
    JointAugment, affine_matrices_from_params, augment_batch, random_affine_matrices,
    random_affine_params, warp_numpy,
)
from liverseg.errors import OptionError

STRONG = dict(rotation_range=15.0, width_shift_range=0.1, height_shift_range=0.1, shear_range=5.0,
              zoom_range=0.1, horizontal_flip=True, vertical_flip=True)
NAMES = ("theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal", "flip_vertical")


def params(**kw):
    base = dict(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, flip_horizontal=0.0, flip_vertical=0.0)
    base.update(kw)
    return {k: np.array([float(v)], np.float32) for k, v in base.items()}


def warp(x, p, interpolation="bilinear", fill_mode="nearest"):
    h, w = x.shape[:2]
    m = affine_matrices_from_params(p, h, w)
    return np.asarray(ops.image.affine_transform(x[None], m, interpolation=interpolation, fill_mode=fill_mode))[0]


def smooth_image(h=40, w=40, c=1, seed=0):
    rng = np.random.default_rng(seed)
    return gaussian_filter(rng.random((h, w, c)), (3, 3, 0)).astype(np.float32)


def blob_labels(b, h, w, seed=0):
    """Integer label maps 0/1/2: a liver disc with a tumour disc, placed at random."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    out = np.zeros((b, h, w, 1), np.int32)
    for i in range(b):
        cy, cx = rng.uniform(0.3, 0.7, 2) * (h, w)
        out[i, ..., 0][(yy - cy) ** 2 + (xx - cx) ** 2 < (0.25 * h) ** 2] = 1
        out[i, ..., 0][(yy - cy - 2) ** 2 + (xx - cx) ** 2 < (0.1 * h) ** 2] = 2
    return out


def legacy_scipy_matrix(theta, tx, ty, shear, zx, zy, h, w):
    """The 3x3 (row, col) matrix `apply_affine_transform` hands to SciPy, written out independently."""
    t, s = np.deg2rad(theta), np.deg2rad(shear)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    shr = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    zoom = np.diag([zx, zy, 1.0])
    m = transform_matrix_offset_center(rot @ shift @ shr @ zoom, h, w)
    m[:, [0, 1]] = m[:, [1, 0]]
    m[[0, 1]] = m[[1, 0]]
    return m


@pytest.mark.parametrize("theta,tx,ty,shear,zx,zy", [
    (0, 0, 0, 0, 1, 1), (90, 0, 0, 0, 1, 1), (17, 3.5, -2, 6, 0.9, 1.1), (-30, 0, 4, -8, 1.2, 0.8)])
def test_matrix_equals_legacy_composition(theta, tx, ty, shear, zx, zy):
    h, w = 30, 30
    ours = np.asarray(affine_matrices_from_params(params(theta=theta, tx=tx, ty=ty, shear=shear, zx=zx, zy=zy), h, w))[0]
    a = np.array([[ours[0], ours[1], ours[2]], [ours[3], ours[4], ours[5]], [0, 0, 1]])  # (col, row)
    perm = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(perm @ a @ perm, legacy_scipy_matrix(theta, tx, ty, shear, zx, zy, h, w), atol=1e-5)
    assert ours[6] == 0 and ours[7] == 0


@pytest.mark.parametrize("p", [
    dict(theta=17, tx=3.5, ty=-2, shear=6, zx=0.9, zy=1.1, flip_horizontal=1),
    dict(theta=-30, shear=-8, zx=1.2, zy=0.8, flip_vertical=1),
    dict(tx=-4, flip_horizontal=1, flip_vertical=1),
])
@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "constant"])
def test_warp_equals_legacy_apply_transform(p, fill_mode):
    x = smooth_image(36, 36, 2)
    gen = ImageDataGenerator(fill_mode=fill_mode, cval=0.25)
    legacy = gen.apply_transform(x, {**p, "flip_horizontal": bool(p.get("flip_horizontal")),
                                     "flip_vertical": bool(p.get("flip_vertical"))})
    h, w = x.shape[:2]
    m = affine_matrices_from_params(params(**p), h, w)
    ours = np.asarray(ops.image.affine_transform(x[None], m, "bilinear", fill_mode=fill_mode, fill_value=0.25))[0]
    keep = np.ones((h, w), bool)
    if fill_mode == "constant":
        # SciPy and TensorFlow differ only where a bilinear sample straddles the border (cval mixed
        # in or not): compare the pixels that map more than a pixel inside or outside the image
        rows, cols = np.mgrid[:h, :w].astype(np.float64)
        mm = np.asarray(m)[0]
        sc = mm[0] * cols + mm[1] * rows + mm[2]
        sr = mm[3] * cols + mm[4] * rows + mm[5]
        dist = np.minimum.reduce([sc, w - 1 - sc, sr, h - 1 - sr])
        keep = np.abs(dist) > 1.0
        assert keep.mean() > 0.8
    np.testing.assert_allclose(ours[keep], legacy[keep], atol=1e-4)


def test_sampling_distributions_match_legacy():
    n, h, w = 3000, 64, 48
    gen = ImageDataGenerator(**STRONG)
    np.random.seed(0)
    legacy = [gen.get_random_transform((h, w, 1)) for _ in range(n)]
    ours = {k: np.asarray(v) for k, v in random_affine_params(AugmentConfig(**STRONG), n, h, w, seed=11).items()}
    for name in ("theta", "tx", "ty", "shear", "zx", "zy"):
        ref = np.array([float(t[name]) for t in legacy])
        assert stats.ks_2samp(ours[name], ref).pvalue > 1e-3, name
    assert np.abs(ours["theta"]).max() <= 15 and np.abs(ours["shear"]).max() <= 5
    assert np.abs(ours["tx"]).max() <= 0.1 * h and np.abs(ours["ty"]).max() <= 0.1 * w
    ratio = ours["tx"].std() / ours["ty"].std()
    assert abs(ratio - h / w) < 0.1 * h / w  # tx scales with the height, ty with the width
    assert ours["zx"].min() >= 0.9 and ours["zx"].max() <= 1.1
    assert abs(np.corrcoef(ours["zx"], ours["zy"])[0, 1]) < 0.1  # drawn independently
    for flip in ("flip_horizontal", "flip_vertical"):
        assert set(np.unique(ours[flip])) == {0.0, 1.0}
        assert abs(ours[flip].mean() - 0.5) < 0.05


def test_zoom_pair_and_pixel_shift_ranges():
    cfg = AugmentConfig(zoom_range=(0.8, 0.9), width_shift_range=3.0)
    p = {k: np.asarray(v) for k, v in random_affine_params(cfg, 500, 20, 20, seed=1).items()}
    assert p["zx"].min() >= 0.8 and p["zx"].max() <= 0.9 and p["zx"].max() - p["zx"].min() > 0.05
    assert np.abs(p["ty"]).max() <= 3.0 and np.abs(p["ty"]).max() > 2.5  # >= 1: pixels, not a fraction
    assert np.all(p["theta"] == 0) and np.all(p["tx"] == 0)


def test_identity_config_leaves_data_unchanged():
    x = smooth_image(16, 16, 3)[None].repeat(2, 0)
    m = blob_labels(2, 16, 16)
    out_x, out_m = augment_batch(x, m, AugmentConfig(), seed=3)
    np.testing.assert_array_equal(np.asarray(out_x), x)
    np.testing.assert_array_equal(np.asarray(out_m), m)
    np.testing.assert_allclose(warp(x[0], params()), x[0], atol=1e-6)  # the identity matrix is exact too


def test_flips_alone_equal_np_flip():
    x = np.random.default_rng(0).random((24, 12, 14, 2)).astype(np.float32)
    m = blob_labels(24, 12, 14)
    out_x, out_m = augment_batch(x, m, AugmentConfig(horizontal_flip=True, vertical_flip=True), seed=5)
    seen = set()
    for i in range(len(x)):
        for kind, axes in (("none", ()), ("h", (1,)), ("v", (0,)), ("hv", (0, 1))):
            if np.allclose(np.asarray(out_x)[i], np.flip(x[i], axes), atol=1e-6):
                np.testing.assert_array_equal(np.asarray(out_m)[i], np.flip(m[i], axes))
                seen.add(kind)
                break
        else:
            pytest.fail(f"sample {i} is not a flip of its input")
    assert seen == {"none", "h", "v", "hv"}


def test_rotation_by_90_degrees_is_rot90():
    x = smooth_image(21, 21, 1)
    np.testing.assert_allclose(warp(x, params(theta=90)), np.rot90(x, k=1, axes=(0, 1)), atol=1e-5)
    np.testing.assert_allclose(warp(x, params(theta=-90)), np.rot90(x, k=-1, axes=(0, 1)), atol=1e-5)


def test_shifts_move_content_by_the_drawn_amount():
    x = smooth_image(20, 20, 1)
    # as in the legacy generator: tx (height_shift_range) acts on columns, ty on rows
    np.testing.assert_allclose(warp(x, params(tx=3))[:, :-3], x[:, 3:], atol=1e-6)
    np.testing.assert_allclose(warp(x, params(ty=-4))[4:], x[:-4], atol=1e-6)
    mats = np.asarray(random_affine_matrices(AugmentConfig(width_shift_range=0.1), 200, 20, 20, seed=2))
    np.testing.assert_allclose(mats[:, [0, 4]], 1.0, atol=1e-6)  # pure translation...
    np.testing.assert_allclose(mats[:, [1, 2, 3, 6, 7]], 0.0, atol=1e-5)  # ... along rows only
    assert np.abs(mats[:, 5]).max() <= 2.0 and mats[:, 5].std() > 0.5


def test_image_and_mask_stay_aligned_and_labels_stay_in_set():
    masks = blob_labels(16, 48, 48, seed=4)
    images = (masks >= 1).astype(np.float32)
    cfg = AugmentConfig(**STRONG, fill_mode="constant")
    out_x, out_m = augment_batch(images, masks, cfg, seed=9)
    out_x, out_m = np.asarray(out_x), np.asarray(out_m)
    assert out_m.dtype == masks.dtype
    assert set(np.unique(out_m)) <= {0, 1, 2} and 2 in out_m
    agree = ((out_x > 0.5) == (out_m >= 1)).mean()
    assert agree > 0.99
    changed = (out_m != masks).mean()
    assert changed > 0.01  # it did transform


def test_constant_fill_uses_cval_for_images_and_zero_for_masks():
    x = np.ones((1, 10, 10, 1), np.float32)
    m = np.full((1, 10, 10, 1), 2, np.int32)
    cfg = AugmentConfig(fill_mode="constant", cval=0.7)
    mat = affine_matrices_from_params(params(ty=5), 10, 10)  # rows 5.. sample outside the image
    img = np.asarray(ops.image.affine_transform(x, mat, "bilinear", "constant", 0.7))
    assert np.allclose(img[0, 6:], 0.7) and np.allclose(img[0, :4], 1.0)
    for i in range(2):
        w_img, w_lab = warp_numpy(x[0], m[0, ..., 0].astype(np.uint8), np.asarray(mat)[0], cfg)
        assert np.allclose(w_img[6:], 0.7) and np.all(w_lab[6:] == 0) and np.all(w_lab[:4] == 2)


def test_same_seed_same_batch_different_seed_different():
    x = smooth_image(16, 16, 1)[None].repeat(4, 0)
    m = blob_labels(4, 16, 16)
    cfg = AugmentConfig(**STRONG)
    a = augment_batch(x, m, cfg, seed=1)
    b = augment_batch(x, m, cfg, seed=1)
    c = augment_batch(x, m, cfg, seed=2)
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
    np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
    assert not np.allclose(np.asarray(a[0]), np.asarray(c[0]))
    # a JointAugment draws a new transform per call, the same sequence for the same seed
    j1, j2 = JointAugment(cfg, 3), JointAugment(cfg, 3)
    first, second = j1(x, m), j1(x, m)
    assert not np.allclose(np.asarray(first[0]), np.asarray(second[0]))
    np.testing.assert_array_equal(np.asarray(j2(x, m)[0]), np.asarray(first[0]))


def test_eager_equals_tf_data_map():
    x = np.random.default_rng(1).random((3, 4, 16, 16, 2)).astype(np.float32)
    m = np.stack([blob_labels(4, 16, 16, seed=s) for s in range(3)])
    cfg = AugmentConfig(**STRONG)
    eager = JointAugment(cfg, 21)
    expected = [eager(x[i], m[i]) for i in range(3)]
    ds = tf.data.Dataset.from_tensor_slices((x, m)).map(JointAugment(cfg, 21))
    for (gx, gm), (ex, em) in zip(ds, expected):
        np.testing.assert_allclose(gx.numpy(), np.asarray(ex), atol=1e-5)  # graph vs eager rounding
        np.testing.assert_array_equal(gm.numpy(), np.asarray(em))
    # explicit per-batch seed tensors, as the parallel pipeline passes them
    seeds = np.array([[5, 6], [7, 8], [9, 10]], np.int64)
    aug = JointAugment(cfg, 0)
    ds = tf.data.Dataset.from_tensor_slices((x, m, seeds)).map(lambda a, b, s: aug(a, b, seed=s),
                                                                num_parallel_calls=2)
    for i, (gx, gm) in enumerate(ds):
        ex, em = aug(x[i], m[i], seed=tf.constant(seeds[i]))
        np.testing.assert_allclose(gx.numpy(), np.asarray(ex), atol=1e-5)  # graph vs eager rounding
        np.testing.assert_array_equal(gm.numpy(), np.asarray(em))


@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "reflect"])
def test_opencv_backend_equals_keras_backend(fill_mode):
    x = np.random.default_rng(2).random((4, 24, 24, 5)).astype(np.float32)
    labels = blob_labels(4, 24, 24, seed=3)
    cfg = AugmentConfig(**STRONG, fill_mode=fill_mode, cval=0.3)
    mats = np.asarray(random_affine_matrices(cfg, 4, 24, 24, seed=8))
    kx, km = augment_batch(x, labels, cfg, seed=8)
    for i in range(4):
        cx, cl = warp_numpy(x[i], labels[i, ..., 0].astype(np.uint8), mats[i], cfg)
        np.testing.assert_allclose(cx, np.asarray(kx)[i], atol=1e-4)
        assert (cl != np.asarray(km)[i, ..., 0]).mean() < 0.005


def test_bad_options_are_option_errors():
    with pytest.raises(OptionError):
        JointAugment(AugmentConfig(fill_mode="mirror"))
    with pytest.raises(OptionError):
        random_affine_matrices(AugmentConfig(zoom_range=(1.2, 0.8)), 2, 8, 8, seed=0)
    with pytest.raises(OptionError):
        random_affine_matrices(AugmentConfig(zoom_range=(0.8, 0.9, 1.0)), 2, 8, 8, seed=0)
