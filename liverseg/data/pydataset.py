"""`keras.utils.PyDataset` over the slice cache: the tf.data pipeline's twin for every Keras backend.

`SliceSequence` serves batches `(x (B, H, W, 2*context+1) float32, y (B, H, W, len(targets))
float32)` with the same `liverseg.data.reader.BatchReader` as `liverseg.data.pipeline` (read,
2.5D context, crop and jitter, OpenCV warp, targets); only NumPy and OpenCV run, no TensorFlow.

Training (`training=True`): an epoch has `steps` batches (default: `training_steps`, i.e.
max(1, ceil(samples / n_sources / batch))). All randomness comes from NumPy generators keyed by
`(seed, epoch, ...)`:

* order: per source, back-to-back permutations of its samples drawn from `(seed, epoch)`; with
  several sources each sample's source is drawn there too, with probabilities `weights`, so a
  batch mixes sources sample by sample (as `tf.data.Dataset.sample_from_datasets` does);
* batch i: its augmentation matrices (`random_affine_matrices_numpy`, ImageDataGenerator's
  distributions) and the jitter of its centred crops from `(seed, epoch, i)`.

So batch i of epoch e depends on `(seed, e, i)` only: the same seed gives the same batches in every
run, in any reading order, and a resumed run gets the same batches when it starts from the same
`epoch`. `on_epoch_end` moves to the next epoch (a new order and new draws); `epoch` can be set.
Keras's `fit` calls `on_epoch_end` once before its first epoch as well (`EpochIterator.reset`), in
a fresh run and in a resumed one alike, so a run resumed after k finished epochs gets the batches of
the uninterrupted run when its sequence is built with `epoch=k`.

Give `model.fit` `shuffle=False` (as `liverseg.train.fit` does): the sequence shuffles itself, and
Keras would otherwise permute the batch order of every epoch with Python's global `random`.

Evaluation (`training=False`): each source in turn, in manifest order, batched separately (the last
partial batch of each kept), no augmentation, no jitter: the batches of the concatenated one-pass
tf.data datasets.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd

from liverseg.config import AugmentConfig, DataConfig
from liverseg.data.augment import random_affine_matrices_numpy
from liverseg.data.reader import BatchReader, make_reader, training_steps
from liverseg.errors import OptionError

_ORDER, _BATCH, _JITTER = 0, 1, 2  # spawn-key tags of the generators


def _as_list(value, kind):
    return list(value) if isinstance(value, (list, tuple)) else [value] if isinstance(value, kind) else None


class SliceSequence(keras.utils.PyDataset):
    """Seeded batches from a slice cache, for `model.fit` on any backend (module docstring).

    `slices` / `cfg`: one manifest selection and its `DataConfig`, or equally long lists of them
    (several sources, mixed sample by sample with `weights` when training, concatenated when not).
    The batch size is `cfg[0].batch_size`; every source must give the same crop size, context and
    targets. `workers`, `use_multiprocessing`, `max_queue_size`: see `keras.utils.PyDataset`.
    """

    def __init__(self, cache, slices: pd.DataFrame | Sequence[pd.DataFrame],
                 cfg: DataConfig | Sequence[DataConfig], *, augment: AugmentConfig | None = None,
                 training: bool, seed: int, weights: Sequence[float] | None = None,
                 steps: int | None = None, epoch: int = 0, **pydataset_kwargs):
        super().__init__(**pydataset_kwargs)
        frames, cfgs = _as_list(slices, pd.DataFrame), _as_list(cfg, DataConfig)
        if not frames or cfgs is None or len(frames) != len(cfgs):
            raise OptionError("SliceSequence: give one DataFrame and one DataConfig, or equally long lists")
        readers = [make_reader(cache, f, c, augment=augment, training=training) for f, c in zip(frames, cfgs)]
        self._setup(readers, training, seed, weights, steps, epoch)

    @classmethod
    def from_readers(cls, readers: Sequence[BatchReader], *, training: bool, seed: int,
                     weights: Sequence[float] | None = None, steps: int | None = None, epoch: int = 0,
                     **pydataset_kwargs) -> "SliceSequence":
        """The same sequence over readers already made (`make_reader`, with the same `training`)."""
        self = cls.__new__(cls)
        keras.utils.PyDataset.__init__(self, **pydataset_kwargs)
        self._setup(list(readers), training, seed, weights, steps, epoch)
        return self

    def _setup(self, readers, training, seed, weights, steps, epoch) -> None:
        if not readers:
            raise OptionError("SliceSequence: no sources")
        weights = [1.0] * len(readers) if weights is None else [float(w) for w in weights]
        if len(weights) != len(readers) or not all(np.isfinite(weights)) or min(weights) <= 0:
            raise OptionError(f"source weights {weights}: need one finite weight > 0 per source")
        shapes = {(r.size, r.channels, tuple(r.cfg.targets)) for r in readers}
        if len(shapes) != 1:
            raise OptionError(f"sources give different (crop size, channels, targets): {sorted(shapes)}")
        if steps is not None and steps < 1:
            raise OptionError(f"steps={steps}: need >= 1")
        if not all(r.make_targets for r in readers):
            raise OptionError("SliceSequence: its readers warp with OpenCV (make_reader(numpy_warp=True))")
        self.readers, self.training, self.seed = readers, bool(training), int(seed) % 2**63
        self.batch_size = readers[0].cfg.batch_size
        self.weights = np.asarray(weights, np.float64) / np.sum(weights)
        self.augment = readers[0].augment
        if training:
            self.steps = int(steps or training_steps([len(r) for r in readers], self.batch_size))
        else:
            self._eval_batches = [(s, a, min(a + self.batch_size, len(r)))
                                  for s, r in enumerate(readers) for a in range(0, len(r), self.batch_size)]
            self.steps = len(self._eval_batches)
        self._plan = None
        self.epoch = epoch

    @property
    def epoch(self) -> int:
        return self._epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._epoch = int(value)
        if self.training:
            self._plan = (self._epoch, *self._epoch_plan(self._epoch))  # swapped whole: thread safe

    def _rng(self, *keys) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=keys))

    def _epoch_plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(source, sample) of every position of the epoch's `steps * batch` training samples."""
        rng = self._rng(epoch, _ORDER)
        total = self.steps * self.batch_size
        if len(self.readers) == 1:
            source = np.zeros(total, np.int64)
        else:
            source = rng.choice(len(self.readers), size=total, p=self.weights)
        sample = np.empty(total, np.int64)
        for s, reader in enumerate(self.readers):
            where = np.flatnonzero(source == s)
            laps = -(-len(where) // len(reader))
            stream = [rng.permutation(len(reader)) for _ in range(laps)]
            sample[where] = np.concatenate(stream)[:len(where)] if stream else []
        return source, sample

    @property
    def num_batches(self) -> int:
        return self.steps

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i):
        i = int(i)
        if not 0 <= i < self.steps:
            raise IndexError(f"batch {i} of a SliceSequence of {self.steps} batches")
        if not self.training:
            s, a, b = self._eval_batches[i]
            return self.readers[s](np.arange(a, b), None, None)
        epoch, source, sample = self._plan
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self._read(source[part], sample[part], epoch, i)

    def _read(self, source: np.ndarray, sample: np.ndarray, epoch: int, i: int):
        """One training batch: each source's reader fills its positions of the batch."""
        n, first = len(sample), self.readers[0]
        matrices = np.zeros((n, 8), np.float32)
        if self.augment is not None:
            matrices = random_affine_matrices_numpy(self.augment, n, first.size, first.size,
                                                    self._rng(epoch, _BATCH, i))
        if len(self.readers) == 1:
            return first(sample, self._rng(epoch, _JITTER, i, 0), matrices)
        x = np.empty((n, first.size, first.size, first.channels), np.float32)
        y = np.empty((n, first.size, first.size, len(first.cfg.targets)), np.float32)
        for s, reader in enumerate(self.readers):
            where = np.flatnonzero(source == s)
            if len(where):
                x[where], y[where] = reader(sample[where], self._rng(epoch, _JITTER, i, s), matrices[where])
        return x, y

    def on_epoch_end(self) -> None:
        """Next epoch: a new order, new augmentation and jitter (deterministic given the seed)."""
        self.epoch = self._epoch + 1


__all__ = ["SliceSequence"]
