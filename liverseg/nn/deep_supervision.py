"""Deep supervision as one output tensor: the main prediction and the up-sampled predictions of the
coarser decoder levels are stacked along channels, main first, and one loss scores each head against
the same target with its weight.

    output (B, H, W, K * n) = [main (K) | head 2 (K) | ... | head n (K)]

One tensor keeps the data pipeline, `fit`, the checkpoints and the metrics of single-output models
(a metric on channel k < K reads the main head); inference keeps the first K channels
(`main_output`).
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from liverseg.errors import OptionError


def stack_heads(heads: Sequence, *, name: str):
    """Concatenate same-size probability maps (main first) into one float32 output tensor."""
    heads = list(heads)
    sizes = {tuple(h.shape[1:]) for h in heads}
    if len(sizes) != 1:
        raise OptionError(f"{name}: deep-supervision heads differ in shape: {sorted(sizes)}")
    if len(heads) == 1:
        return heads[0]
    return keras.layers.Concatenate(axis=-1, dtype="float32", name=name)(heads)


def main_output(probs, channels: int):
    """The main head's K = `channels` maps of a stacked output (NumPy or tensor, channels last)."""
    return probs[..., :channels]


@keras.saving.register_keras_serializable(package="liverseg")
class DeepSupervisionLoss(keras.losses.Loss):
    """sum_k w_k L(y, head_k), weights normalised to sum 1, main head first; `y` has K channels and
    the prediction K * len(weights)."""

    def __init__(self, inner, weights: Sequence[float], channels: int, name: str = "deep_supervision", **kwargs):
        super().__init__(name=name, **kwargs)
        weights = [float(w) for w in weights]
        if not weights or min(weights) < 0 or sum(weights) <= 0:
            raise OptionError(f"deep supervision weights must be >= 0 with a positive sum, got {weights}")
        if int(channels) < 1:
            raise OptionError(f"deep supervision needs at least one channel per head, got {channels}")
        self.inner = keras.losses.get(inner) if isinstance(inner, (str, dict)) else inner
        self.loss_weights = [w / sum(weights) for w in weights]
        self.channels = int(channels)

    def call(self, y_true, y_pred):
        k = self.channels
        if y_pred.shape[-1] is not None and y_pred.shape[-1] != k * len(self.loss_weights):
            raise OptionError(f"{self.name}: prediction has {y_pred.shape[-1]} channels, expected "
                              f"{k} x {len(self.loss_weights)} heads")
        total = 0.0
        for i, weight in enumerate(self.loss_weights):
            head = y_pred[..., i * k:(i + 1) * k]
            value = self.inner.call(y_true, head)  # (B,) per image, (B, ...) per pixel, or () global
            if len(value.shape) > 1:
                value = ops.mean(value, axis=tuple(range(1, len(value.shape))))
            total = total + weight * value
        return total

    def get_config(self):
        return {**super().get_config(), "inner": keras.losses.serialize(self.inner),
                "weights": self.loss_weights, "channels": self.channels}


__all__ = ["stack_heads", "main_output", "DeepSupervisionLoss"]
