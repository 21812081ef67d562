"""In-graph Keras metrics for binary segmentation outputs: Dice coefficient and IoU (Jaccard).

Inputs: `y_true` (B, H, W, K) in {0, 1} (values >= 0.5 count as foreground) and
`y_pred` (B, H, W, K) probabilities, binarised with `y_pred > threshold`.
`channel=None` pools all K channels into one mask; `channel=k` scores channel
k only. Global mode accumulates the intersection and the two mask sizes over
every batch of an epoch and scores once (an empty prediction of an empty
truth scores 1.0). Per-image mode scores each image separately (empty vs
empty = 1.0) and reports the mean over all images seen. Optional
`sample_weight` (B,) weights images. Computation runs in float32.
"""
from __future__ import annotations

import keras
from keras import ops

__all__ = ["DiceCoefficient", "IoUScore"]


class _OverlapMetric(keras.metrics.Metric):
    """Shared state and update of DiceCoefficient and IoUScore."""

    def __init__(self, channel=None, threshold=0.5, per_image=False, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.channel = None if channel is None else int(channel)
        self.threshold = None if threshold is None else float(threshold)
        self.per_image = bool(per_image)
        if self.per_image:
            self.score_sum = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="score_sum")
            self.count = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="count")
        else:
            self.intersection = self.add_variable(shape=(), initializer="zeros", dtype="float32",
                                                  name="intersection")
            self.pred_sum = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="pred_sum")
            self.true_sum = self.add_variable(shape=(), initializer="zeros", dtype="float32", name="true_sum")

    @staticmethod
    def _ratio(inter, p, g):
        raise NotImplementedError

    def _score(self, inter, p, g):
        return ops.where(ops.equal(p + g, 0.0), ops.ones_like(p), self._ratio(inter, p, g))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        if self.channel is not None:
            y_true = y_true[..., self.channel]
            y_pred = y_pred[..., self.channel]
        t = ops.cast(y_true >= 0.5, "float32")
        # threshold None: soft overlap of the probabilities themselves (smooth; moves before any
        # pixel crosses 0.5, which makes it a usable checkpoint monitor early in training)
        p = y_pred if self.threshold is None else ops.cast(y_pred > self.threshold, "float32")
        axes = tuple(range(1, len(t.shape)))
        inter = ops.sum(t * p, axis=axes)
        ps = ops.sum(p, axis=axes)
        gs = ops.sum(t, axis=axes)
        if sample_weight is None:
            w = ops.ones_like(inter)
        else:
            w = ops.reshape(ops.cast(sample_weight, "float32"), (-1,)) * ops.ones_like(inter)
        if self.per_image:
            self.score_sum.assign_add(ops.sum(w * self._score(inter, ps, gs)))
            self.count.assign_add(ops.sum(w))
        else:
            self.intersection.assign_add(ops.sum(w * inter))
            self.pred_sum.assign_add(ops.sum(w * ps))
            self.true_sum.assign_add(ops.sum(w * gs))

    def result(self):
        if self.per_image:
            return ops.where(self.count > 0, self.score_sum / ops.maximum(self.count, 1e-12), 1.0)
        return self._score(ops.convert_to_tensor(self.intersection), ops.convert_to_tensor(self.pred_sum),
                           ops.convert_to_tensor(self.true_sum))

    def reset_state(self):
        for v in self.variables:
            v.assign(ops.zeros(v.shape, dtype=v.dtype))

    def get_config(self):
        return {**super().get_config(), "channel": self.channel, "threshold": self.threshold,
                "per_image": self.per_image}


@keras.saving.register_keras_serializable(package="liverseg")
class DiceCoefficient(_OverlapMetric):
    """Dice = 2 |P n G| / (|P| + |G|) of thresholded masks, 1.0 when both are empty; with
    `threshold=None` the soft Dice 2 sum(p g) / (sum p + sum g) of the probabilities."""

    def __init__(self, channel=None, threshold=0.5, per_image=False, name="dice", dtype=None):
        super().__init__(channel=channel, threshold=threshold, per_image=per_image, name=name, dtype=dtype)

    @staticmethod
    def _ratio(inter, p, g):
        return 2.0 * inter / ops.maximum(p + g, 1e-12)


@keras.saving.register_keras_serializable(package="liverseg")
class IoUScore(_OverlapMetric):
    """IoU (Jaccard) = |P n G| / |P u G| of thresholded masks, 1.0 when both are empty."""

    def __init__(self, channel=None, threshold=0.5, per_image=False, name="iou", dtype=None):
        super().__init__(channel=channel, threshold=threshold, per_image=per_image, name=name, dtype=dtype)

    @staticmethod
    def _ratio(inter, p, g):
        return inter / ops.maximum(p + g - inter, 1e-12)
