"""tf.data pipeline from a slice cache: sample -> shuffle -> batch -> read + crop + augment -> prefetch.

Shape of the pipeline (training)::

    sample indices --shuffle(seed)--> repeat --> batch(B, drop_remainder)
        zip per-batch seeds (tf.data.Dataset.random(seed), new each epoch)
        --> map(read_batch, parallel, deterministic)  --> prefetch(AUTOTUNE)

`read_batch` is one `tf.numpy_function` per batch: it reads the batch's slices straight from the
cache's memory maps (only those pages are touched; a cache larger than RAM is fine), stacks the
2.5D context channels, cuts the crops (`liverseg.data.crops`), applies the augmentation, and turns
labels into target channels. The augmentation matrices are drawn in the graph from the batch seed
with `liverseg.data.augment.random_affine_matrices` (ImageDataGenerator's distributions) and
applied by one of two back ends (`augment_engine`):

* "opencv" (default): per sample with OpenCV inside `read_batch`. OpenCV's SIMD warp is about five
  times faster per slice than TensorFlow's `ImageProjectiveTransformV3` CPU kernel, and the parallel
  map overlaps reading with warping (`benchmarks/pipeline.py`).
* "keras": `augment_batch` on the whole batch after `read_batch` (`keras.ops.image.affine_transform`).

Both back ends give the same result up to float rounding for the same seed. Labels are warped as
integer maps (nearest neighbour) before the targets are made, so the cost does not grow with the
number of targets.

Given a seed the sequence of batches is deterministic (order, crop jitter and augmentation);
each new pass over the dataset (epoch) reshuffles and redraws deterministically.
`training=False`: no augmentation, no jitter, no shuffle, no dropped remainder, no repeat.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from liverseg.config import AugmentConfig, DataConfig
from liverseg.data.augment import check_config, random_affine_matrices, augment_batch, warp_numpy
from liverseg.data.crops import clamp_origin, crop_items, target_mask, TARGETS
from liverseg.data.sampling import select_slices
from liverseg.errors import InputError, OptionError

ENGINES = ("opencv", "keras")


def _targets_np(label: np.ndarray, targets) -> np.ndarray:
    return np.stack([target_mask(label, t) for t in targets], axis=-1).astype(np.float32)


def _targets_tf(label, targets):
    chans = [label >= 1 if t == "liver" else tf.equal(label, 2) for t in targets]
    return tf.cast(tf.stack(chans, axis=-1), tf.float32)


class _BatchReader:
    """NumPy side of the pipeline: gathers, crops and (optionally) warps one batch of samples."""

    def __init__(self, cache, case_ids, items, cfg: DataConfig, size: int, jitter: int,
                 augment: AugmentConfig | None, warp: bool, make_targets: bool):
        # plain ndarray views of the memory maps: same lazily paged buffer, cheaper indexing
        self.images = [np.asarray(cache.image(c)) for c in case_ids]
        self.labels = [np.asarray(cache.label(c)) for c in case_ids]
        self.items, self.cfg, self.size, self.jitter = items, cfg, size, jitter
        self.augment, self.warp, self.make_targets = augment, warp, make_targets
        self.channels = 2 * cfg.context + 1

    @staticmethod
    def _float32(slab: np.ndarray) -> np.ndarray:
        """float16 (C, s, s) -> float32; OpenCV's SIMD conversion is about 8x faster than NumPy's."""
        if slab.dtype != np.float16:
            return slab.astype(np.float32, copy=False)
        import cv2

        flat = cv2.add(np.ascontiguousarray(slab).reshape(-1, slab.shape[-1]), 0, dtype=cv2.CV_32F)
        return flat.reshape(slab.shape)

    def __call__(self, index, seed, matrices):
        size, ctx = self.size, self.cfg.context
        n = len(index)
        x = np.empty((n, size, size, self.channels), np.float32)
        lab = np.empty((n, size, size), np.uint8)
        rng = np.random.default_rng(np.asarray(seed).astype(np.uint64)) if self.jitter else None
        for j, i in enumerate(index):
            case, k, r0, c0 = (int(v) for v in self.items[i])
            image = self.images[case]
            if rng is not None:
                dr, dc = rng.integers(-self.jitter, self.jitter + 1, size=2)
                r0, c0 = r0 + int(dr), c0 + int(dc)
            r0, c0 = clamp_origin(r0, c0, size, image.shape[1:])  # centred items are stored unclamped
            ks = np.clip(np.arange(k - ctx, k + ctx + 1), 0, image.shape[0] - 1)
            x[j] = np.moveaxis(self._float32(image[ks, r0:r0 + size, c0:c0 + size]), 0, -1)
            lab[j] = self.labels[case][k, r0:r0 + size, c0:c0 + size]
            if self.warp:
                x[j], lab[j] = warp_numpy(x[j], lab[j], matrices[j], self.augment)
        if self.make_targets:
            return x, _targets_np(lab, self.cfg.targets)
        return x, lab


def make_dataset(cache, slices: pd.DataFrame, cfg: DataConfig, *, augment: AugmentConfig | None = None,
                 training: bool, seed: int, repeat: bool | None = None,
                 augment_engine: str = "opencv") -> tf.data.Dataset:
    """Batches `(x (B, H, W, 2*context+1) float32, y (B, H, W, len(targets)) float32)` from `cache`.

    `slices`: manifest rows (e.g. from `select_slices`). H = W = `cfg.crop_size` when cropping, else
    the cached slice size. Neighbouring slices beyond a volume's ends repeat the end slice.
    `repeat` defaults to `training`. See the module docstring for the stages.
    """
    if augment_engine not in ENGINES:
        raise OptionError(f"augment_engine={augment_engine!r}: choose one of {', '.join(ENGINES)}")
    bad = [t for t in cfg.targets if t not in TARGETS]
    if bad or not cfg.targets:
        raise OptionError(f"data.targets={cfg.targets!r}: choose from {', '.join(TARGETS)}")
    if cfg.batch_size < 1 or cfg.context < 0:
        raise OptionError(f"data.batch_size={cfg.batch_size}, data.context={cfg.context}: need >= 1 and >= 0")
    repeat = training if repeat is None else repeat
    case_ids = list(dict.fromkeys(slices["case_id"].astype(str)))
    case_index = {c: i for i, c in enumerate(case_ids)}
    items = crop_items(cache, slices, cfg, case_index)
    if len(items) == 0:
        raise InputError(getattr(cache, "root", "cache"), f"no samples for data.sampling={cfg.sampling!r} "
                         f"and data.crop={cfg.crop!r} in {len(case_ids)} case(s)")
    shapes = {tuple(cache.image(c).shape[1:]) for c in case_ids}
    if len(shapes) != 1:
        raise InputError(getattr(cache, "root", "cache"), f"cached slices differ in size: {sorted(shapes)}")
    size = cfg.crop_size if cfg.crop != "none" else shapes.pop()[0]
    use_aug = bool(training and augment is not None and augment.enabled)
    if use_aug:
        check_config(augment)
    warp_np = use_aug and augment_engine == "opencv"
    warp_tf = use_aug and augment_engine == "keras"
    jitter = int(cfg.crop_jitter) if training and cfg.crop == "centred" else 0
    reader = _BatchReader(cache, case_ids, items, cfg, size, jitter, augment, warp_np, not warp_tf)
    channels, batch = 2 * cfg.context + 1, (cfg.batch_size if training else None)

    def read(index, batch_seed):
        b = tf.shape(index)[0]
        if warp_np:
            matrices = random_affine_matrices(augment, b, size, size, batch_seed)
        else:
            matrices = tf.zeros((b, 8), tf.float32)
        x, y = tf.numpy_function(reader, [index, batch_seed, matrices],
                                 [tf.float32, tf.float32 if not warp_tf else tf.uint8], stateful=False)
        x = tf.ensure_shape(x, (batch, size, size, channels))
        if warp_tf:
            y = tf.ensure_shape(y, (batch, size, size))
            x, lab = augment_batch(x, y[..., None], augment, seed=batch_seed)
            y = _targets_tf(lab[..., 0], cfg.targets)
        return x, tf.ensure_shape(y, (batch, size, size, len(cfg.targets)))

    ds = tf.data.Dataset.from_tensor_slices(np.arange(len(items), dtype=np.int64))
    if training:
        # the elements are integer indices, so a buffer over the whole list costs 8 bytes a sample
        # and gives a full shuffle (a `cfg.shuffle_buffer` window over case-ordered slices would mix
        # only neighbouring slices of one or two cases)
        ds = ds.shuffle(max(len(items), cfg.shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(cfg.batch_size, drop_remainder=training)
    seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds))
    ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def num_batches(n_samples: int, cfg: DataConfig, training: bool) -> int:
    """Batches in one pass: `n // B` when training (remainder dropped), else `ceil(n / B)`."""
    return n_samples // cfg.batch_size if training else -(-n_samples // cfg.batch_size)


def count_samples(cache, slices: pd.DataFrame, cfg: DataConfig) -> int:
    """Samples one pass over `slices` yields (tiles multiply them, tile filtering removes some)."""
    case_index = {c: i for i, c in enumerate(dict.fromkeys(slices["case_id"].astype(str)))}
    return len(crop_items(cache, slices, cfg, case_index))


__all__ = ["ENGINES", "select_slices", "make_dataset", "num_batches", "count_samples"]
