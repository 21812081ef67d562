"""tf.data pipeline from a slice cache: sample -> shuffle -> batch -> read + crop + augment -> prefetch.

Shape of the pipeline (training)::

    sample indices --shuffle(seed)--> repeat --> batch(B, drop_remainder)
        zip per-batch seeds (tf.data.Dataset.random(seed), new each epoch)
        --> map(read_batch, parallel, deterministic)  --> prefetch(AUTOTUNE)

`read_batch` is one `tf.numpy_function` per batch calling a `liverseg.data.reader.BatchReader`: it
reads the batch's slices straight from the cache's memory maps (only those pages are touched; a
cache larger than RAM is fine), stacks the 2.5D context channels, cuts the crops
(`liverseg.data.crops`), applies the augmentation, and turns labels into target channels. The same
reader serves `liverseg.data.pydataset.SliceSequence`, the `keras.utils.PyDataset` twin of this
pipeline for the other backends; `liverseg.data.datasets.build_dataset` picks one of the two.
The augmentation matrices are drawn in the graph from the batch seed with
`liverseg.data.augment.random_affine_matrices` (ImageDataGenerator's distributions) and applied
by one of two back ends (`augment_engine`):

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
from liverseg.data.augment import augment_batch, random_affine_matrices
from liverseg.data.crops import crop_items
from liverseg.data.reader import BatchReader, make_reader
from liverseg.data.sampling import select_slices
from liverseg.errors import OptionError

ENGINES = ("opencv", "keras")


def _targets_tf(label, targets):
    chans = [label >= 1 if t == "liver" else tf.equal(label, 2) for t in targets]
    return tf.cast(tf.stack(chans, axis=-1), tf.float32)


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
    reader = make_reader(cache, slices, cfg, augment=augment, training=training,
                         numpy_warp=augment_engine == "opencv")
    return dataset_from_reader(reader, training=training, seed=seed, repeat=repeat)


def dataset_from_reader(reader: BatchReader, *, training: bool, seed: int, repeat: bool | None = None,
                        batch_size: int | None = None) -> tf.data.Dataset:
    """The tf.data pipeline over the samples of a `liverseg.data.reader.make_reader` reader.

    `batch_size` defaults to the reader's `cfg.batch_size`; `repeat` to `training`. The reader
    decides augmentation (`reader.augment`) and where it is warped (`reader.warp`: OpenCV in the
    reader, else `augment_batch` after it).
    """
    repeat = training if repeat is None else repeat
    cfg, size, warp_np, augment = reader.cfg, reader.size, reader.warp, reader.augment
    warp_tf = augment is not None and not warp_np
    batch_size = int(batch_size or cfg.batch_size)
    channels, batch = reader.channels, (batch_size if training else None)

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

    ds = tf.data.Dataset.from_tensor_slices(np.arange(len(reader), dtype=np.int64))
    if training:
        # the elements are integer indices, so a buffer over the whole list costs 8 bytes a sample
        # and gives a full shuffle (a `cfg.shuffle_buffer` window over case-ordered slices would mix
        # only neighbouring slices of one or two cases)
        ds = ds.shuffle(max(len(reader), cfg.shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=training)
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


__all__ = ["ENGINES", "select_slices", "make_dataset", "dataset_from_reader", "num_batches", "count_samples"]
