"""Joint image / mask augmentation with the parameters and geometry of Keras 2's ImageDataGenerator.

Keras 3 dropped `ImageDataGenerator`; papers written with it give their augmentation as its
arguments. `AugmentConfig` keeps those names, and this module draws and applies the same random
affine transforms:

* Sampling (`get_random_transform` of `keras/src/legacy/preprocessing/image.py`): rotation
  `theta ~ U(-rotation_range, rotation_range)` degrees; `tx ~ U(-h, h) * height` with
  `h = height_shift_range` and `ty ~ U(-w, w) * width` with `w = width_shift_range` (a range >= 1 is
  taken in pixels, unscaled); `shear ~ U(-shear_range, shear_range)` degrees; `zx, zy` drawn
  independently from `U(lo, hi)` with `(lo, hi) = (1 - z, 1 + z)` for a float `z` or the given pair
  (both 1 when the range is (1, 1)); each enabled flip with probability 1/2.
* Composition (`apply_affine_transform`, `transform_matrix_offset_center`): the output-to-input
  matrix is `C @ R(theta) @ T(tx, ty) @ S(shear) @ Z(zx, zy) @ C^-1`, `C` moving the origin to the
  centre `(height/2 - 0.5, width/2 - 0.5)`; the horizontal / vertical flip is applied after the
  warp, so it is folded in as `M @ F`.
* Axes: the legacy generator builds that matrix and then swaps its two axes before handing it to
  SciPy, so its first coordinate is the column. This module keeps that exactly, so a drawn `tx`
  (from `height_shift_range`) moves content along columns and `ty` along rows, as in every
  Keras >= 2.5 / tf.keras release (known upstream issue keras-team/tf-keras#310). On the square
  slices and crops used here, with equal width and height ranges (every paper in this repository),
  the two readings give the same distribution of transforms. For non-square images the legacy
  rotation centre is also swapped; kept as well.

`random_affine_params_numpy` / `random_affine_matrices_numpy` are NumPy twins of the draws (same
distributions, from a `np.random.Generator`, no backend op), for the NumPy-only `PyDataset` path.

The matrix is returned in `keras.ops.image.affine_transform` format: 8 numbers
`[a0, a1, a2, b0, b1, b2, 0, 0]` mapping an output pixel `(x=column, y=row)` to the input point
`(a0 x + a1 y + a2, b0 x + b1 y + b2)`, pixel centres at integer coordinates (SciPy's convention).

Two interchangeable back ends apply a batch of these matrices:

* `augment_batch` / `JointAugment`: one `keras.ops.image.affine_transform` call per batch for
  the images (bilinear) and one for the masks (nearest); runs on every Keras backend.
* `warp_numpy`: the same matrices applied per sample with OpenCV's `warpAffine`, for use inside the
  NumPy stage of the pipelines (`liverseg.data.pipeline`, `liverseg.data.pydataset`). TensorFlow's
  `ImageProjectiveTransformV3` CPU kernel costs about 2.5 ms per 512 x 512 slice, close to SciPy;
  OpenCV's SIMD warp about 0.4 ms (see benchmarks/RESULTS.md). With the pinned OpenCV 5 the two
  back ends agree to float rounding (about 1e-5) for "constant", "nearest" and "reflect"; for
  "wrap" they differ in bilinear samples that straddle the seam. (OpenCV 4 quantised bilinear
  weights to 1/32 pixel, an error of up to about 3 % of the local intensity step.)

Fill modes: images use `cfg.fill_mode` / `cfg.cval` ("constant", "nearest", "reflect" =
`dcba|abcd`, "wrap" = `abcd|abcd`). Masks are warped with nearest-neighbour interpolation and the
same fill mode, except that "constant" fills masks with 0 (background), never with `cfg.cval`.
Nearest interpolation only copies input values, so labels stay in the input's set ({0, 1, 2}).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import keras
import numpy as np
from keras import ops

from liverseg.config import AugmentConfig
from liverseg.errors import OptionError

FILL_MODES = ("constant", "nearest", "reflect", "wrap")
_PARAM_NAMES = ("theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal", "flip_vertical")
# the few `keras.ops` functions the draws and the composition use, in NumPy (the NumPy twins)
_NP = SimpleNamespace(cos=np.cos, sin=np.sin, stack=np.stack, zeros=np.zeros, zeros_like=np.zeros_like,
                      cast=lambda x, dtype: np.asarray(x, dtype), convert_to_tensor=np.asarray)


def check_config(cfg: AugmentConfig) -> tuple[float, float]:
    """Validate `cfg` and return its zoom interval `(lo, hi)`."""
    if cfg.fill_mode not in FILL_MODES:
        raise OptionError(f"augment.fill_mode={cfg.fill_mode!r}: choose one of {', '.join(FILL_MODES)}")
    zoom = cfg.zoom_range
    if isinstance(zoom, (int, float)):
        lo, hi = 1.0 - float(zoom), 1.0 + float(zoom)
    elif isinstance(zoom, (tuple, list)) and len(zoom) == 2:
        lo, hi = float(zoom[0]), float(zoom[1])
    else:
        raise OptionError(f"augment.zoom_range={zoom!r}: expected a float or a (lo, hi) pair")
    for name in ("rotation_range", "width_shift_range", "height_shift_range", "shear_range"):
        if getattr(cfg, name) < 0:
            raise OptionError(f"augment.{name}={getattr(cfg, name)}: must be >= 0")
    if lo <= 0 or hi < lo:
        raise OptionError(f"augment.zoom_range={zoom!r}: need 0 < lo <= hi")
    return lo, hi


def _uniform(shape, seed):
    """U[0, 1) draws from a stateless seed: int, `keras.random.SeedGenerator`, or a (2,) seed tensor."""
    if seed is None or isinstance(seed, (int, np.integer, keras.random.SeedGenerator)):
        seed = int(seed or 0) if not isinstance(seed, keras.random.SeedGenerator) else seed
        return keras.random.uniform(shape, 0.0, 1.0, dtype="float32", seed=seed)
    import tensorflow as tf  # a seed tensor comes from tf.data (e.g. `tf.data.Dataset.random`)

    return tf.random.stateless_uniform(shape, seed=tf.cast(seed, tf.int64), dtype=tf.float32)


def random_affine_params(cfg: AugmentConfig, batch: int, height: int, width: int, seed) -> dict:
    """Per-sample transform parameters, drawn as ImageDataGenerator draws them (module docstring).

    Returns a dict of (batch,) float32 tensors: theta and shear in degrees, tx and ty in pixels,
    zx, zy, and flip_horizontal / flip_vertical as 0.0 / 1.0.
    """
    lo, hi = check_config(cfg)
    return _params_from_uniform(_uniform((batch, 8), seed), batch, cfg, (lo, hi), (height, width), ops)


def random_affine_params_numpy(cfg: AugmentConfig, batch: int, height: int, width: int,
                               rng: np.random.Generator) -> dict:
    """NumPy twin of `random_affine_params`: the same distributions, drawn from `rng`.

    Returns a dict of (batch,) float32 arrays; no Keras backend op runs (for `keras.utils.PyDataset`
    workers on any backend).
    """
    lo, hi = check_config(cfg)
    u = rng.random((batch, 8), dtype=np.float32)
    return _params_from_uniform(u, batch, cfg, (lo, hi), (height, width), _NP)


def _params_from_uniform(u, batch, cfg: AugmentConfig, zoom: tuple, shape: tuple, xp) -> dict:
    """The parameters from U[0, 1) draws `u` (batch, 8); `xp` is `keras.ops` or the NumPy shim."""
    (lo, hi), (height, width) = zoom, shape

    def symmetric(col, rng):
        return (2.0 * u[:, col] - 1.0) * float(rng)

    def shift(col, rng, size):
        return symmetric(col, rng) * (float(size) if rng < 1 else 1.0)

    zeros = xp.zeros((batch,), "float32")
    zoom_on = not (lo == 1.0 and hi == 1.0)
    return dict(
        theta=symmetric(0, cfg.rotation_range),
        tx=shift(1, cfg.height_shift_range, height),
        ty=shift(2, cfg.width_shift_range, width),
        shear=symmetric(3, cfg.shear_range),
        zx=lo + (hi - lo) * u[:, 4] if zoom_on else zeros + 1.0,
        zy=lo + (hi - lo) * u[:, 5] if zoom_on else zeros + 1.0,
        flip_horizontal=xp.cast(u[:, 6] < 0.5, "float32") * float(bool(cfg.horizontal_flip)),
        flip_vertical=xp.cast(u[:, 7] < 0.5, "float32") * float(bool(cfg.vertical_flip)),
    )


def affine_matrices_from_params(params: dict, height: int, width: int):
    """(batch, 8) output->input matrices in `keras.ops.image.affine_transform` format.

    Composes `C @ R @ T @ S @ Z @ C^-1 @ F` exactly as `apply_affine_transform` followed by
    `flip_axis` does (see the module docstring for the axis convention).
    """
    return _compose(params, height, width, ops)


def affine_matrices_numpy(params: dict, height: int, width: int) -> np.ndarray:
    """NumPy twin of `affine_matrices_from_params`: (batch, 8) float32 array, same composition."""
    return _compose(params, height, width, _NP)


def random_affine_matrices_numpy(cfg: AugmentConfig, batch: int, height: int, width: int,
                                 rng: np.random.Generator) -> np.ndarray:
    """NumPy twin of `random_affine_matrices`: (batch, 8) float32 matrices drawn from `rng`."""
    return _compose(random_affine_params_numpy(cfg, batch, height, width, rng), height, width, _NP)


def _compose(params: dict, height: int, width: int, xp):
    """The matrices of `affine_matrices_from_params`; `xp` is `keras.ops` or the NumPy shim."""
    p = {k: xp.cast(xp.convert_to_tensor(params[k]), "float32") for k in _PARAM_NAMES}
    theta = p["theta"] * (math.pi / 180.0)
    shear = p["shear"] * (math.pi / 180.0)
    cos_t, sin_t = xp.cos(theta), xp.sin(theta)
    sin_s, cos_s = xp.sin(shear), xp.cos(shear)
    zx, zy, tx, ty = p["zx"], p["zy"], p["tx"], p["ty"]
    # R @ T @ S @ Z, 2x3 affine [[m00, m01, m02], [m10, m11, m12]]
    m00 = cos_t * zx
    m01 = (-cos_t * sin_s - sin_t * cos_s) * zy
    m02 = cos_t * tx - sin_t * ty
    m10 = sin_t * zx
    m11 = (-sin_t * sin_s + cos_t * cos_s) * zy
    m12 = sin_t * tx + cos_t * ty
    # conjugate with the centre offset: t' = t + o - M o
    o0, o1 = height / 2.0 - 0.5, width / 2.0 - 0.5
    m02 = m02 + o0 - (m00 * o0 + m01 * o1)
    m12 = m12 + o1 - (m10 * o0 + m11 * o1)
    # flips after the warp: M @ F, F = diag(s0, s1) + offsets (width-1, height-1) where flipped
    s0 = 1.0 - 2.0 * p["flip_horizontal"]
    s1 = 1.0 - 2.0 * p["flip_vertical"]
    f0 = p["flip_horizontal"] * (width - 1.0)
    f1 = p["flip_vertical"] * (height - 1.0)
    a2 = m00 * f0 + m01 * f1 + m02
    b2 = m10 * f0 + m11 * f1 + m12
    zeros = xp.zeros_like(m00)
    return xp.stack([m00 * s0, m01 * s1, a2, m10 * s0, m11 * s1, b2, zeros, zeros], axis=1)


def random_affine_matrices(cfg: AugmentConfig, batch: int, height: int, width: int, seed):
    """(batch, 8) float32 random output->input matrices, flips folded in.

    `seed`: an int (None counts as 0), a `keras.random.SeedGenerator` (advances on each call), or a
    (2,) integer seed tensor (TensorFlow only; what tf.data hands over). Same seed, same matrices.
    """
    return affine_matrices_from_params(random_affine_params(cfg, batch, height, width, seed), height, width)


def augment_batch(images, masks, cfg: AugmentConfig, seed):
    """Warp `images` (B, H, W, C) bilinearly and `masks` (B, H, W, K) by nearest neighbour.

    One random affine per sample, shared by its image and mask; one `affine_transform` call per
    tensor. Masks may hold one-hot channels or integer labels; dtypes are kept. With augmentation
    disabled (`cfg.enabled` false) the inputs come back unchanged.
    """
    check_config(cfg)
    if not cfg.enabled:
        return images, masks
    shape = ops.shape(images)
    matrices = random_affine_matrices(cfg, shape[0], int(images.shape[1]), int(images.shape[2]), seed)
    out_images = ops.image.affine_transform(
        ops.cast(images, "float32"), matrices, interpolation="bilinear", fill_mode=cfg.fill_mode,
        fill_value=float(cfg.cval), data_format="channels_last")
    out_masks = ops.image.affine_transform(
        ops.cast(masks, "float32"), matrices, interpolation="nearest", fill_mode=cfg.fill_mode,
        fill_value=0.0, data_format="channels_last")
    return ops.cast(out_images, images.dtype), ops.cast(out_masks, masks.dtype)


class JointAugment:
    """Callable `(images, masks) -> (images, masks)` for eager code or `tf.data.Dataset.map` on batches.

    Without an explicit seed each call draws from an internal `keras.random.SeedGenerator(seed)`,
    so the n-th call gives the same transforms whether it runs eagerly or inside a sequential
    `Dataset.map`. A parallel map should pass a per-batch seed tensor instead:
    `aug(images, masks, seed=batch_seed)` (see `liverseg.data.pipeline`).
    """

    def __init__(self, cfg: AugmentConfig, seed: int = 0):
        check_config(cfg)
        self.cfg = cfg
        self.seed = int(seed)
        self._generator = keras.random.SeedGenerator(self.seed)

    def __call__(self, images, masks, seed=None):
        return augment_batch(images, masks, self.cfg, self._generator if seed is None else seed)


_CV_BORDERS = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}  # cv2.BORDER_* values


def warp_numpy(image: np.ndarray, label: np.ndarray, matrix: np.ndarray, cfg: AugmentConfig):
    """Apply one 8-number matrix to `image` (H, W, C) float32 and `label` (H, W) integer with OpenCV.

    The NumPy counterpart of `augment_batch` for one sample (same conventions, same fill rules);
    returns `(image, label)` with the input shapes and dtypes.
    """
    import cv2

    m = np.asarray(matrix, dtype=np.float64)[:6].reshape(2, 3)
    h, w = image.shape[:2]
    border = _CV_BORDERS[cfg.fill_mode]
    flags = cv2.WARP_INVERSE_MAP
    chans = []
    for start in range(0, image.shape[2], 4):  # warpAffine takes up to 4 channels at a time
        part = np.ascontiguousarray(image[:, :, start:start + 4])
        out = cv2.warpAffine(part, m, (w, h), flags=flags | cv2.INTER_LINEAR, borderMode=border,
                             borderValue=(float(cfg.cval),) * 4)
        chans.append(out.reshape(h, w, -1))
    warped = chans[0] if len(chans) == 1 else np.concatenate(chans, axis=2)
    lab = cv2.warpAffine(np.ascontiguousarray(label), m, (w, h), flags=flags | cv2.INTER_NEAREST,
                         borderMode=border, borderValue=(0, 0, 0, 0))
    return warped.astype(image.dtype, copy=False), lab.astype(label.dtype, copy=False)


__all__ = [
    "FILL_MODES", "check_config", "random_affine_params", "affine_matrices_from_params",
    "random_affine_matrices", "augment_batch", "JointAugment", "warp_numpy",
    "random_affine_params_numpy", "affine_matrices_numpy", "random_affine_matrices_numpy",
]
