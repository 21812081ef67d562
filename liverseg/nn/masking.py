"""Layers that chain two networks in one model: the first network's probability as a mask on the
input of the second (Gruber et al. 2.3: M(X) X), and an intensity window on [0, 1] images (w).

`ProbabilityMask` modes, i.e. how the gradient of the second network's loss reaches the first:
- "hard": M = [p > t], no gradient (the mask is a constant, as when the networks are trained one
  after the other);
- "soft": M = p, the probability itself, in the forward pass and in the gradient;
- "straight_through": forward M = [p > t] (the hard mask the method defines), backward as if
  M = p (Bengio et al. 2013's straight-through estimator).
"""
from __future__ import annotations

import keras
from keras import ops

from liverseg.errors import OptionError

MASK_GRADIENTS = ("hard", "soft", "straight_through")


@keras.saving.register_keras_serializable(package="liverseg")
class ProbabilityMask(keras.layers.Layer):
    """A probability map (B, H, W, 1) -> mask (B, H, W, 1) in the layer's compute dtype."""

    def __init__(self, threshold: float = 0.5, gradient: str = "hard", **kwargs):
        super().__init__(**kwargs)
        if gradient not in MASK_GRADIENTS:
            raise OptionError(f"mask gradient {gradient!r}: choose one of {', '.join(MASK_GRADIENTS)}")
        if not 0.0 < float(threshold) < 1.0:
            raise OptionError(f"mask threshold must lie in (0, 1), got {threshold}")
        self.threshold, self.gradient = float(threshold), gradient

    def call(self, prob):
        prob = ops.cast(prob, self.compute_dtype)
        hard = ops.cast(prob > self.threshold, self.compute_dtype)
        if self.gradient == "soft":
            return prob
        if self.gradient == "straight_through":
            return prob + ops.stop_gradient(hard - prob)
        return ops.stop_gradient(hard)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold, "gradient": self.gradient}


@keras.saving.register_keras_serializable(package="liverseg")
class IntensityWindow(keras.layers.Layer):
    """Pointwise window of an image in [0, 1]: (x - low) / (high - low), clipped to [0, 1]."""

    def __init__(self, low: float = 0.0, high: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not float(low) < float(high):
            raise OptionError(f"intensity window needs low < high, got ({low}, {high})")
        self.low, self.high = float(low), float(high)

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        return ops.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


def window_in_unit_range(hu_window: tuple[float, float], hu_clip: tuple[float, float]) -> tuple[float, float]:
    """A HU window expressed on images that were clipped to `hu_clip` and scaled to [0, 1]."""
    lo, hi = hu_clip
    if not lo < hi:
        raise OptionError(f"HU clip needs low < high, got {hu_clip}")
    return tuple(float(min(max((v - lo) / (hi - lo), 0.0), 1.0)) for v in hu_window)


__all__ = ["MASK_GRADIENTS", "ProbabilityMask", "IntensityWindow", "window_in_unit_range"]
