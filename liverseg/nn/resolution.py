"""A network that sees the slice at a lower resolution than the one it is trained and scored at.

`at_lower_resolution(build, size, factor)` = area down-sampling by `factor` (average pooling, as the
slice cache resamples) -> the network built for `size // factor` -> bilinear up-sampling of its
probabilities back to `size`. The loss and the metrics are taken at the full resolution, and the
model takes and gives full-size slices, so a cascade's first level (a coarse liver or liver-and-tumour
network) can look at the whole slice cheaply while its second level works at the cache's full
resolution on the same slices, with no second cache and no resizing in the data pipeline or at
inference. With `factor` 1 the network is returned as built.
"""
from __future__ import annotations

from collections.abc import Callable

import keras

from liverseg.errors import OptionError


def at_lower_resolution(build: Callable[[int], keras.Model], size: int, factor: int, *, channels: int = 1,
                        name: str | None = None) -> keras.Model:
    """`build(size // factor)` wrapped between an average pooling and a bilinear up-sampling by `factor`."""
    factor = int(factor)
    if factor < 1 or size % factor:
        raise OptionError(f"input down-sampling factor {factor}: must be >= 1 and divide the slice size {size}")
    if factor == 1:
        return build(size)
    net = build(size // factor)
    inputs = keras.Input((size, size, channels), name=f"{net.name}_full_input")
    x = keras.layers.AveragePooling2D(factor, name=f"{net.name}_downsample")(inputs)
    y = net(x)
    y = keras.layers.UpSampling2D(factor, interpolation="bilinear", name=f"{net.name}_upsample")(y)
    return keras.Model(inputs, y, name=name or net.name)


__all__ = ["at_lower_resolution"]
