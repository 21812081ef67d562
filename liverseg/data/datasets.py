"""Training and validation inputs from one or several sources, on any Keras backend.

A `Source` is one kind of sample: manifest rows and the `DataConfig` that cuts them (sampling,
crop, context, targets), with a mixing weight. `build_dataset` turns a list of them into what
`model.fit` takes, with one of two engines:

* "tfdata" (`liverseg.data.pipeline`): a tf.data pipeline; the default on the TensorFlow backend.
* "pydataset" (`liverseg.data.pydataset.SliceSequence`): a `keras.utils.PyDataset` in NumPy and
  OpenCV only; the default on JAX and PyTorch.

Both read, crop and augment through the same `liverseg.data.reader.BatchReader`. Training with
several sources mixes them sample by sample with the weights, then batches: batches drawn whole
from one source would give BatchNorm per-source batch statistics that its moving averages (used
at inference) cannot match. An epoch is `training_steps` batches: max(1, ceil(samples of all
sources / number of sources / batch)), the mean source's size. Validation is one pass over the
sources in turn, without augmentation or jitter. TensorFlow is imported only by the "tfdata" engine.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import keras
import pandas as pd

from liverseg.config import AugmentConfig, DataConfig
from liverseg.data.reader import NoSamplesError, make_reader, training_steps
from liverseg.errors import InputError, OptionError

ENGINES = ("auto", "tfdata", "pydataset")


@dataclass(frozen=True)
class Source:
    """One kind of sample: manifest rows + how to cut them, and its share of a mixed batch."""

    rows: pd.DataFrame
    cfg: DataConfig
    weight: float = 1.0


def resolve_engine(engine: str = "auto") -> str:
    """"tfdata" or "pydataset"; "auto" = "tfdata" on the TensorFlow backend, else "pydataset"."""
    if engine not in ENGINES:
        raise OptionError(f"data engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "tfdata" if keras.backend.backend() == "tensorflow" else "pydataset"
    return engine


def _describe(src: Source, i: int, n: int) -> str:
    c = src.cfg
    crop = f", data.crop_target={c.crop_target!r}" if c.crop != "none" else ""
    return f"source {i + 1} of {n} (data.sampling={c.sampling!r}, data.crop={c.crop!r}{crop})"


def _readers(cache, sources: list[Source], augment, training: bool, numpy_warp: bool):
    """(readers, weights) of the sources with samples; raises on an empty training source."""
    where, n = getattr(cache, "root", "cache"), len(sources)
    readers, weights, empty = [], [], []
    for i, src in enumerate(sources):
        if not isinstance(src, Source):
            raise OptionError(f"build_dataset: sources must be liverseg.data.datasets.Source, got {type(src).__name__}")
        try:
            if len(src.rows) == 0:
                raise NoSamplesError(where, "no slices selected")
            reader = make_reader(cache, src.rows, src.cfg, augment=augment, training=training, numpy_warp=numpy_warp)
        except NoSamplesError as e:
            if training:
                raise InputError(where, f"{_describe(src, i, n)} gave no training samples ({e.problem})") from None
            empty.append(_describe(src, i, n))
            continue
        except InputError as e:
            raise InputError(e.path, f"{_describe(src, i, n)}: {e.problem}") from None
        readers.append(reader)
        weights.append(float(src.weight))
    if not readers:
        raise InputError(where, f"no validation samples in any source: {'; '.join(empty)}")
    if empty:
        warnings.warn(f"{where}: no validation samples in {'; '.join(empty)}; validating on the other sources",
                      stacklevel=3)
    return readers, weights


def build_dataset(cache, sources: list[Source], *, augment: AugmentConfig | None, training: bool, seed: int,
                  engine: str = "auto", steps: int | None = None, workers: int = 1):
    """-> (dataset, steps): training: infinite stream (tf.data) / PyDataset of `steps` batches; validation: one pass.

    Batches are `(x (B, H, W, 2*context+1) float32, y (B, H, W, len(targets)) float32)` with
    B = `sources[0].cfg.batch_size`; every source must give the same H, W, context and targets.
    Training: sources mixed sample by sample with their weights, augmented with `augment`, `steps`
    = `training_steps` batches an epoch. Validation (`training=False`): the sources one after the
    other, each batched on its own (its last partial batch kept), no augmentation; `steps` = the
    batches of that pass; a source without samples is left out with a warning. Same `seed`, same
    batches. `engine`: "auto", "tfdata" or "pydataset" (see `resolve_engine`). `steps` (training
    only) replaces `training_steps` as the epoch length, e.g. a capped `train.steps_per_epoch`: give
    it here rather than to `fit` so that a PyDataset epoch is exactly the batches `fit` reads.

    `workers` > 1 (multi-worker training, tf.data): training batches are sharded across the
    workers by tf.data; the validation pass is not sharded (every worker scores the same batches)
    and drops its last partial batch, because a worker left with an empty batch breaks BatchNorm.

    Raises `InputError` (naming the slice cache and the source) when a training source or every
    validation source gives no sample, `OptionError` for a bad engine, source or weight.
    """
    engine = resolve_engine(engine)
    sources = list(sources)
    if not sources:
        raise OptionError("build_dataset: no sources given")
    if steps is not None and int(steps) < 1:
        raise OptionError(f"build_dataset: steps={steps}, need >= 1")
    weights = [s.weight for s in sources if isinstance(s, Source)]
    if any(not (w > 0 and w < float("inf")) for w in weights):
        raise OptionError(f"source weights {weights}: need finite weights > 0")
    readers, weights = _readers(cache, sources, augment, training, numpy_warp=True)
    shapes = {(r.size, r.channels, tuple(r.cfg.targets)) for r in readers}
    if len(shapes) != 1:
        raise OptionError(f"sources give different (crop size, channels, targets): {sorted(shapes)}")
    batch = sources[0].cfg.batch_size
    readers = [_with_batch(r, batch) for r in readers]
    if engine == "pydataset":
        from liverseg.data.pydataset import SliceSequence

        seq = SliceSequence.from_readers(readers, training=training, seed=seed, weights=weights, steps=steps)
        return seq, len(seq)
    ds, n = _tfdata(readers, weights, batch, training, seed)
    if workers > 1 and not training:
        ds, n = _unsharded_full_batches(ds, batch), sum(len(r) for r in readers) // batch
    return ds, int(steps) if training and steps else n


def _unsharded_full_batches(ds, batch: int):
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.unbatch().batch(batch, drop_remainder=True).with_options(options)


def _with_batch(reader, batch: int):
    """The reader with `cfg.batch_size = batch` (the batch size of a mixed dataset is the first source's)."""
    if reader.cfg.batch_size != batch:
        reader.cfg = replace(reader.cfg, batch_size=batch)
    return reader


def _tfdata(readers, weights, batch: int, training: bool, seed: int):
    import tensorflow as tf

    from liverseg.data.pipeline import dataset_from_reader

    if not training:
        sets = [dataset_from_reader(r, training=False, seed=seed) for r in readers]
        ds = sets[0]
        for other in sets[1:]:
            ds = ds.concatenate(other)
        return ds, sum(-(-len(r) // batch) for r in readers)
    steps = training_steps([len(r) for r in readers], batch)
    if len(readers) == 1:
        return dataset_from_reader(readers[0], training=True, seed=seed, repeat=True), steps
    streams = [dataset_from_reader(r, training=True, seed=seed + i, repeat=True, batch_size=1).unbatch()
               for i, r in enumerate(readers)]
    total = sum(weights)
    ds = tf.data.Dataset.sample_from_datasets(streams, weights=[w / total for w in weights], seed=seed)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE), steps


__all__ = ["ENGINES", "Source", "resolve_engine", "build_dataset"]
