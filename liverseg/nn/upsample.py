"""Bilinear up-sampling by an integer factor as a layer that runs on inputs whose height and width are
unknown when the graph is traced (a nested model predicting at several scales), where
`UpSampling2D(interpolation="bilinear")` fails on TensorFlow. It is Long et al.'s FCN "deconvolution
initialised to bilinear interpolation", frozen, on an edge-replicated input: equal to OpenCV's
`INTER_LINEAR` resize (half-pixel centres, clamped edges)."""
from __future__ import annotations

import keras
import numpy as np
from keras import layers


def bilinear_kernel(factor: int) -> np.ndarray:
    """(2f - f % 2,) x 2 float32 weights of bilinear interpolation by `factor` (Long et al.'s upsample_filt)."""
    size = 2 * factor - factor % 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    taps = 1 - np.abs(np.arange(size) - centre) / factor
    return np.outer(taps, taps).astype(np.float32)


@keras.saving.register_keras_serializable(package="liverseg")
class BilinearUpsampling(layers.Layer):
    """(B, h, w, C) -> (B, f*h, f*w, C): each channel interpolated bilinearly, channels apart."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        if int(factor) < 1:
            raise ValueError(f"BilinearUpsampling: factor must be >= 1, got {factor}")
        self.factor = int(factor)

    def call(self, x):
        f = self.factor
        if f == 1:
            return x
        b, h, w, c = (keras.ops.shape(x)[i] for i in range(4))
        planes = keras.ops.reshape(keras.ops.transpose(x, (0, 3, 1, 2)), (-1, h, w, 1))
        planes = keras.ops.pad(planes, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="symmetric")  # edge replicate
        kernel = keras.ops.cast(bilinear_kernel(f)[:, :, None, None], planes.dtype)
        up = keras.ops.conv_transpose(planes, kernel, strides=f, padding="same")[:, f:-f, f:-f, :]
        return keras.ops.transpose(keras.ops.reshape(up, (b, c, h * f, w * f)), (0, 2, 3, 1))

    def compute_output_shape(self, shape):
        scale = lambda n: None if n is None else n * self.factor  # noqa: E731
        return (shape[0], scale(shape[1]), scale(shape[2]), shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor}


__all__ = ["bilinear_kernel", "BilinearUpsampling"]
