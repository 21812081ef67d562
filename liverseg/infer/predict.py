"""Whole-volume prediction: batched slice prediction, 2.5D context, flip and multi-scale test-time augmentation.

Geometry: a volume's canonical array is (X, Y, Z); the network sees axial slices as channels-last
tensors (N, S, S, C) where S is the preprocessed in-plane size; the whole-volume loop is
`liverseg.infer.slice_predictor.SlicePredictor` (and a paper's own cascade), which returns
probabilities in the canonical layout (X, Y, Z, K); `Volume.to_original` maps them to the file's
layout.  `labels_from_probs` turns the K target channels into a LiTS label map (0, 1, 2).
"""
from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

from liverseg.errors import OptionError

PredictFn = Callable[[np.ndarray], np.ndarray]

_CV2_MAX_CHANNELS = 128  # cv2.resize refuses images with more channels than this
_FLIP_MODES = {False: (), None: (), True: ((2,),), "h": ((2,),), "v": ((1,),), "hv": ((2,), (1,), (1, 2))}
_TARGET_LABELS = {"liver": 1, "tumour": 2, "background": 0}


def _flip_axes(tta_flip) -> tuple[tuple[int, ...], ...]:
    try:
        return _FLIP_MODES[tta_flip]
    except (KeyError, TypeError):
        raise OptionError(f"tta_flip must be one of False, True, 'h', 'v', 'hv'; got {tta_flip!r}") from None


def _select_output(outputs, output):
    if isinstance(outputs, dict):
        outputs = outputs[output] if isinstance(output, str) else list(outputs.values())[output]
    elif isinstance(outputs, (list, tuple)):
        outputs = outputs[output]
    return np.asarray(outputs, dtype=np.float32)


def _check_input(model, shape: tuple[int, ...]) -> None:
    """OptionError when the slices (N, H, W, C) do not fit the model's static input (H, W, C)."""
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        return
    name = getattr(model, "name", "")
    expected = tuple(inputs[0].shape[1:])
    if len(expected) == 3 and expected[-1] is not None and expected[-1] != shape[-1]:
        raise OptionError(
            f"model {name!r} expects {expected[-1]} input channel(s), got {shape[-1]} "
            "(check the context / channel settings against the checkpoint)"
        )
    if len(expected) == 3 and any(e is not None and e != s for e, s in zip(expected[:2], shape[1:3])):
        raise OptionError(
            f"model {name!r} expects {expected[0]} x {expected[1]} input slices, got {shape[1]} x {shape[2]} "
            "(check the slice / crop size settings against the checkpoint)"
        )


def _pad_batch(x: np.ndarray, batch_size: int) -> np.ndarray:
    """`x` (n <= batch_size, ...) extended to `batch_size` rows by repeating its last row."""
    short = batch_size - len(x)
    if short == 0:
        return x
    return np.concatenate([x, np.repeat(x[-1:], short, axis=0)], axis=0)


def predict_slices(model, slices: np.ndarray, batch_size: int = 8, tta_flip=False, output: int | str = 0) -> np.ndarray:
    """Probabilities (N, H, W, K) float32 of a Keras model on slices (N, H, W, C), `batch_size` at a time.

    Each batch is one call of the model's compiled predict step (`predict_on_batch`, inference
    mode) on exactly (batch_size, H, W, C): a short last batch is padded by repeating its last
    slice and the padding is dropped from the output, so the model sees one batch shape and
    compiles once (on JAX / XLA every new shape is a new compilation).  `tta_flip`: False
    (none); True or "h" averages the prediction on x with the un-flipped prediction on x flipped
    along W; "v" the same along H; "hv" averages the four mirrorings (identity, W, H, both).  For a
    multi-output model, `output` picks the output (index or name).
    """
    slices = np.asarray(slices, dtype=np.float32)
    if slices.ndim != 4:
        raise ValueError(f"slices must be (N, H, W, C), got shape {slices.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise OptionError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not len(slices):
        raise ValueError("no slices to predict")
    _check_input(model, slices.shape)
    flips = _flip_axes(tta_flip)
    batch_size = int(batch_size)

    def run(x: np.ndarray) -> np.ndarray:
        return _select_output(model.predict_on_batch(x), output)

    out = None
    for start in range(0, len(slices), batch_size):
        x = slices[start:start + batch_size]
        count = len(x)
        x = _pad_batch(x, batch_size)
        prob = run(x)
        for axes in flips:
            prob = prob + np.flip(run(np.ascontiguousarray(np.flip(x, axis=axes))), axis=axes)
        if flips:
            prob = prob / np.float32(len(flips) + 1)
        if out is None:
            out = np.empty((len(slices),) + prob.shape[1:], dtype=np.float32)
        out[start:start + count] = prob[:count]
    return out


def context_indices(depth: int, context: int, index: np.ndarray | None = None) -> np.ndarray:
    """Slice indices (len(index), 2*context+1) of each slice's neighbours, clamped to [0, depth-1]."""
    if context < 0:
        raise OptionError(f"context must be >= 0, got {context}")
    index = np.arange(depth) if index is None else np.asarray(index)
    offsets = np.arange(-context, context + 1)
    return np.clip(index[:, None] + offsets[None, :], 0, depth - 1)


def stack_context(slices_zhw: np.ndarray, context: int, index: np.ndarray | None = None) -> np.ndarray:
    """2.5D input (Z, H, W, 2*context+1): slice k with its `context` neighbours on each side as channels.

    Channel j holds slice k - context + j; neighbours beyond either end repeat the end slice.
    `index` restricts the output to those centre slices (for chunked prediction).
    """
    slices_zhw = np.asarray(slices_zhw)
    if slices_zhw.ndim != 3:
        raise ValueError(f"slices must be (Z, H, W), got shape {slices_zhw.shape}")
    idx = context_indices(len(slices_zhw), context, index)
    return np.moveaxis(slices_zhw[idx], 1, -1)


def resize_probs(probs: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize (half-pixel centres, as cv2 / tf.image) of (N, h, w, K) to (N, height, width, K).

    The N*K planes are resized at most 128 per cv2 call, a group of whole slices at a time, each
    written straight into the (contiguous) result: besides input and output, memory holds one
    group's planes, never a transposed copy of the whole volume.
    """
    probs = np.asarray(probs)
    if probs.ndim != 4:
        raise ValueError(f"expected (N, h, w, K), got shape {probs.shape}")
    n, h, w, k = probs.shape
    if (h, w) == (height, width):
        return probs.astype(np.float32, copy=False)
    out = np.empty((n, height, width, k), dtype=np.float32)
    group = max(1, _CV2_MAX_CHANNELS // max(k, 1))
    for start in range(0, n, group):
        block = probs[start:start + group]
        planes = np.ascontiguousarray(block.transpose(1, 2, 0, 3).reshape(h, w, -1), dtype=np.float32)
        if k > _CV2_MAX_CHANNELS:  # more channels than one cv2 call takes: one slice, its channels in groups
            resized = np.concatenate([cv2.resize(planes[:, :, c:c + _CV2_MAX_CHANNELS], (width, height),
                                                 interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
                                      for c in range(0, planes.shape[2], _CV2_MAX_CHANNELS)], axis=2)
        else:
            resized = cv2.resize(planes, (width, height), interpolation=cv2.INTER_LINEAR)
        out[start:start + len(block)] = resized.reshape(height, width, len(block), k).transpose(2, 0, 1, 3)
    return out


def multiscale_predict(predict_fn: PredictFn, slices: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Average over `sizes` of predict_fn(slices resized to size x size), each resized back to (H, W).

    Bi et al. 2.4 use sizes 512, 544, ..., 640.  Empty `sizes` means a single prediction at the
    input size.
    """
    slices = np.asarray(slices, dtype=np.float32)
    if slices.ndim != 4:
        raise ValueError(f"slices must be (N, H, W, C), got shape {slices.shape}")
    _, height, width, _ = slices.shape
    sizes = [int(s) for s in sizes]
    if not sizes:
        return np.asarray(predict_fn(slices), dtype=np.float32)
    if min(sizes) < 1:
        raise OptionError(f"scales must be positive sizes, got {sizes}")
    total = None
    for size in sizes:
        prob = np.asarray(predict_fn(resize_probs(slices, size, size)), dtype=np.float32)
        prob = resize_probs(prob, height, width)
        total = prob.copy() if total is None else total + prob
    return total / np.float32(len(sizes))


def labels_from_probs(probs: np.ndarray, targets: Sequence[str], threshold: float = 0.5,
                      tumour_in_liver: bool = False) -> np.ndarray:
    """LiTS label map uint8 (0 background, 1 liver, 2 tumour) from probabilities (..., K).

    `targets` names the K channels.  Sigmoid channels ("liver", "tumour"): a voxel is liver where
    the liver channel is >= threshold, tumour where the tumour channel is >= threshold (tumour
    wins over liver).  With `tumour_in_liver` and both channels present, tumour voxels outside the
    predicted liver are dropped (set to 0).  Softmax channels (targets include "background"): each
    voxel takes the label of its most probable channel (`threshold` and `tumour_in_liver` unused).
    """
    probs = np.asarray(probs)
    targets = tuple(targets)
    if probs.shape[-1] != len(targets):
        raise OptionError(f"{len(targets)} target name(s) {targets} for {probs.shape[-1]} probability channel(s)")
    unknown = [t for t in targets if t not in _TARGET_LABELS]
    if unknown or len(set(targets)) != len(targets):
        raise OptionError(f"targets must be distinct names among {sorted(_TARGET_LABELS)}, got {targets}")
    if "background" in targets:
        lut = np.array([_TARGET_LABELS[t] for t in targets], dtype=np.uint8)
        return lut[np.argmax(probs, axis=-1)]
    labels = np.zeros(probs.shape[:-1], dtype=np.uint8)
    liver = probs[..., targets.index("liver")] >= threshold if "liver" in targets else None
    tumour = probs[..., targets.index("tumour")] >= threshold if "tumour" in targets else None
    if liver is not None:
        labels[liver] = 1
    if tumour is not None:
        if tumour_in_liver and liver is not None:
            tumour = tumour & liver
        labels[tumour] = 2
    return labels


__all__ = [
    "predict_slices", "context_indices", "stack_context", "resize_probs", "multiscale_predict",
    "labels_from_probs",
]
