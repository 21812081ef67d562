"""Binary morphology inside a Keras model: a probability map thresholded, then opened and / or closed
with a disk, per 2D slice (Liu et al. II-A: the intermediate processing between two cascaded
networks, applied the same way at training and at test time).

Erosion and dilation are convolutions with the disk: a pixel survives erosion when every disk pixel
around it is set, and is set by dilation when any is. The map is extended by zeros 2r wide first, so
the result equals the operation on an unbounded zero background (as
`liverseg.infer.postprocess.opening` / `closing` on boolean masks); it is a constant to the gradient.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from liverseg.errors import OptionError

OPERATIONS = ("open", "close")


def disk(radius: int) -> np.ndarray:
    """Flat disk footprint of `radius` (as `skimage.morphology.disk`): x^2 + y^2 <= r^2."""
    r = int(radius)
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return (x * x + y * y <= r * r).astype(np.float32)


@keras.saving.register_keras_serializable(package="liverseg")
class BinaryMorphology(keras.layers.Layer):
    """(B, H, W, 1) probabilities -> (B, H, W, 1) mask in {0, 1}: `p > threshold`, then each of
    `operations` ("open", "close") in order with a disk of `radius`."""

    def __init__(self, threshold: float = 0.5, radius: int = 5, operations=("open", "close"), **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < float(threshold) < 1.0:
            raise OptionError(f"{self.name}: threshold must lie in (0, 1), got {threshold}")
        if int(radius) < 0:
            raise OptionError(f"{self.name}: radius must be >= 0, got {radius}")
        operations = tuple(operations)
        if any(op not in OPERATIONS for op in operations):
            raise OptionError(f"{self.name}: operations must be among {OPERATIONS}, got {operations}")
        self.threshold, self.radius, self.operations = float(threshold), int(radius), operations
        self._disk = disk(self.radius)[:, :, None, None]

    def _count(self, mask):
        return ops.conv(mask, ops.convert_to_tensor(self._disk), padding="same")

    def _erode(self, mask):
        return ops.cast(self._count(mask) > float(self._disk.sum()) - 0.5, "float32")

    def _dilate(self, mask):
        return ops.cast(self._count(mask) > 0.5, "float32")

    def call(self, prob):
        mask = ops.cast(ops.cast(prob, "float32") > self.threshold, "float32")
        if self.radius == 0 or not self.operations:
            return ops.cast(ops.stop_gradient(mask), self.compute_dtype)
        pad = 2 * self.radius
        mask = ops.pad(mask, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        for op in self.operations:
            first, second = (self._erode, self._dilate) if op == "open" else (self._dilate, self._erode)
            mask = second(first(mask))
        mask = mask[:, pad:-pad, pad:-pad, :]
        return ops.cast(ops.stop_gradient(mask), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold, "radius": self.radius,
                "operations": list(self.operations)}


__all__ = ["OPERATIONS", "disk", "BinaryMorphology"]
