"""The NumPy stage both pipelines share: read, crop, (warp) and target one batch from the slice cache.

`make_reader` checks a `DataConfig`, lists the samples of a manifest selection (`crop_items`) and
returns a `BatchReader`; `liverseg.data.pipeline` calls it from one `tf.numpy_function` per batch,
`liverseg.data.pydataset` from `keras.utils.PyDataset.__getitem__`. No TensorFlow here: this module
runs on every Keras backend.

A reader reads straight from the cache's memory maps (only the pages of the batch's slices are
touched; a cache larger than RAM is fine), stacks the 2.5D context channels (neighbours beyond a
volume's ends repeat the end slice), cuts the crop (plus the training jitter of centred crops),
warps image and label with OpenCV when given augmentation matrices, and turns labels into target
channels. The memory maps are opened lazily and are not pickled (a reader sent to a worker process
reopens the cache from its root).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from liverseg.config import AugmentConfig, DataConfig
from liverseg.data.augment import check_config, warp_numpy
from liverseg.data.crops import TARGETS, clamp_origin, crop_items, target_mask
from liverseg.errors import InputError, OptionError


class NoSamplesError(InputError):
    """A manifest selection gives no sample (a kind of `InputError`: the CLI prints one line)."""


def targets_np(label: np.ndarray, targets) -> np.ndarray:
    """(..., H, W) integer labels -> (..., H, W, len(targets)) float32 target channels."""
    return np.stack([target_mask(label, t) for t in targets], axis=-1).astype(np.float32)


def check_data_config(cfg: DataConfig) -> None:
    """The `DataConfig` checks every pipeline makes before it reads anything."""
    bad = [t for t in cfg.targets if t not in TARGETS]
    if bad or not cfg.targets:
        raise OptionError(f"data.targets={cfg.targets!r}: choose from {', '.join(TARGETS)}")
    if cfg.batch_size < 1 or cfg.context < 0:
        raise OptionError(f"data.batch_size={cfg.batch_size}, data.context={cfg.context}: need >= 1 and >= 0")


def training_steps(sample_counts, batch_size: int) -> int:
    """Batches in a training epoch over mixed sources: max(1, ceil(total / n_sources / batch))."""
    counts = list(sample_counts)
    return max(1, math.ceil(sum(counts) / max(len(counts), 1) / batch_size))


class BatchReader:
    """NumPy side of the pipelines: gathers, crops and (optionally) warps one batch of samples."""

    def __init__(self, cache, case_ids, items, cfg: DataConfig, size: int, jitter: int,
                 augment: AugmentConfig | None, warp: bool, make_targets: bool):
        self.cache, self.case_ids = cache, list(case_ids)
        self.items, self.cfg, self.size, self.jitter = items, cfg, size, jitter
        self.augment, self.warp, self.make_targets = augment, warp, make_targets
        self.channels = 2 * cfg.context + 1
        self._arrays = None

    def __len__(self) -> int:
        return len(self.items)

    def _open(self):
        if self._arrays is None:
            if isinstance(self.cache, str):  # unpickled in a worker process
                from liverseg.data.cache import SliceCache

                self.cache = SliceCache(self.cache)
            # plain ndarray views of the memory maps: same lazily paged buffer, cheaper indexing
            self._arrays = ([np.asarray(self.cache.image(c)) for c in self.case_ids],
                            [np.asarray(self.cache.label(c)) for c in self.case_ids])
        return self._arrays

    def __getstate__(self):
        state = dict(self.__dict__, _arrays=None)
        if hasattr(self.cache, "root"):
            state["cache"] = str(self.cache.root)
        return state

    @staticmethod
    def _float32(slab: np.ndarray) -> np.ndarray:
        """float16 (C, s, s) -> float32; OpenCV's SIMD conversion is about 8x faster than NumPy's."""
        if slab.dtype != np.float16:
            return slab.astype(np.float32, copy=False)
        import cv2

        flat = cv2.add(np.ascontiguousarray(slab).reshape(-1, slab.shape[-1]), 0, dtype=cv2.CV_32F)
        return flat.reshape(slab.shape)

    def __call__(self, index, seed, matrices):
        """Samples `index` -> `(x (n, s, s, C) float32, targets (n, s, s, T) float32 or labels uint8)`.

        `seed`: the crop jitter's seed (an int array, or a `np.random.Generator`); `matrices`:
        (n, 8) augmentation matrices, used when the reader warps.
        """
        images, labels = self._open()
        size, ctx = self.size, self.cfg.context
        n = len(index)
        x = np.empty((n, size, size, self.channels), np.float32)
        lab = np.empty((n, size, size), np.uint8)
        rng = None
        if self.jitter:
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(
                np.asarray(seed).astype(np.uint64))
        for j, i in enumerate(index):
            case, k, r0, c0 = (int(v) for v in self.items[i])
            image = images[case]
            if rng is not None:
                dr, dc = rng.integers(-self.jitter, self.jitter + 1, size=2)
                r0, c0 = r0 + int(dr), c0 + int(dc)
            r0, c0 = clamp_origin(r0, c0, size, image.shape[1:])  # centred items are stored unclamped
            ks = np.clip(np.arange(k - ctx, k + ctx + 1), 0, image.shape[0] - 1)
            x[j] = np.moveaxis(self._float32(image[ks, r0:r0 + size, c0:c0 + size]), 0, -1)
            lab[j] = labels[case][k, r0:r0 + size, c0:c0 + size]
            if self.warp:
                x[j], lab[j] = warp_numpy(x[j], lab[j], matrices[j], self.augment)
        if self.make_targets:
            return x, targets_np(lab, self.cfg.targets)
        return x, lab


def make_reader(cache, slices: pd.DataFrame, cfg: DataConfig, *, augment: AugmentConfig | None,
                training: bool, numpy_warp: bool = True) -> BatchReader:
    """Check `cfg`, list the samples of `slices` and return their reader.

    Augmentation is used when `training` and `augment.enabled`; the reader warps it itself when
    `numpy_warp`, else it returns integer labels (uint8) for a later warp and target step. Centred
    crops are jittered by `cfg.crop_jitter` only when `training`. Raises `InputError` (naming the
    cache) when the selection gives no sample or the cached slices differ in size.
    """
    check_data_config(cfg)
    case_ids = list(dict.fromkeys(slices["case_id"].astype(str)))
    case_index = {c: i for i, c in enumerate(case_ids)}
    items = crop_items(cache, slices, cfg, case_index)
    where = getattr(cache, "root", "cache")
    if len(items) == 0:
        raise NoSamplesError(where, f"no samples for data.sampling={cfg.sampling!r} and data.crop={cfg.crop!r} "
                                f"in {len(case_ids)} case(s)")
    shapes = {tuple(cache.image(c).shape[1:]) for c in case_ids}
    if len(shapes) != 1:
        raise InputError(where, f"cached slices differ in size: {sorted(shapes)}")
    size = cfg.crop_size if cfg.crop != "none" else shapes.pop()[0]
    use_aug = bool(training and augment is not None and augment.enabled)
    if use_aug:
        check_config(augment)
    jitter = int(cfg.crop_jitter) if training and cfg.crop == "centred" else 0
    warp = use_aug and numpy_warp
    return BatchReader(cache, case_ids, items, cfg, size, jitter, augment if use_aug else None, warp,
                       make_targets=not (use_aug and not numpy_warp))


__all__ = ["NoSamplesError", "BatchReader", "make_reader", "check_data_config", "training_steps", "targets_np"]
