"""Valid-padding U-Nets on whole slices: Ronneberger et al.'s network shrinks its input (572 -> 388),
so a slice of any size is mirror-padded, passed once through the network built for that padded
size, and the output cropped back to the slice.

Geometry of a valid U-Net of depth d (two 3x3 valid convolutions per stage, 2x2 poolings):
- `unet_output_size(n, d, "valid")` pixels come out of n (`liverseg.nn.models`); the loss
  `shrink = n - output` is the same for every valid n (184 for d = 4, 88 for d = 3);
- an output pixel sees the input `margin = shrink // 2` pixels around it;
- the network is translation-equivariant for shifts that are multiples of `2**d`, so tiles whose
  offsets are multiples of `2**d` agree where they overlap, and one large valid input gives the
  tiles' predictions at once (`liverseg.infer.tiles.overlap_tile_predict`, tested).
"""
from __future__ import annotations

from typing import Callable

import keras
from keras import ops

from liverseg.errors import OptionError
from liverseg.nn.models import unet_output_size


def on_grid(size: int, depth: int) -> bool:
    """True when every pooling of a valid U-Net of `depth` halves an even size (no pixel dropped by a
    floor) and the output is not empty: Ronneberger's 572 is, 573 is not."""
    n = size
    for _ in range(depth):
        n -= 4
        if n < 2 or n % 2:
            return False
        n //= 2
    return unet_output_size(size, depth, "valid") is not None


def valid_geometry(depth: int) -> tuple[int, int]:
    """(shrink, align) of a valid U-Net of `depth`: input minus output pixels, and the tile step unit."""
    n = 1
    while not on_grid(n, depth):
        n += 1
    return n - unet_output_size(n, depth, "valid"), 2 ** depth


def valid_input_size(output: int, depth: int) -> int:
    """Smallest on-grid input whose output covers at least `output` pixels."""
    shrink, _ = valid_geometry(depth)
    n = output + shrink
    while not on_grid(n, depth):
        n += 1
    return n


@keras.saving.register_keras_serializable(package="liverseg")
class MirrorPad2D(keras.layers.Layer):
    """Mirror (reflect, `dcb|abcd|cba`) padding of (B, H, W, C) by ((top, bottom), (left, right)), as
    Ronneberger et al. extrapolate the missing context at the image border."""

    def __init__(self, padding=((0, 0), (0, 0)), **kwargs):
        super().__init__(**kwargs)
        self.padding = tuple(tuple(int(p) for p in pair) for pair in padding)
        if len(self.padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in self.padding):
            raise OptionError(f"{self.name}: padding must be ((top, bottom), (left, right)) >= 0, got {padding!r}")

    def build(self, input_shape):
        for axis, pair in zip(("height", "width"), self.padding):
            size = input_shape[1 if axis == "height" else 2]
            if size is not None and max(pair) >= size:
                raise OptionError(f"{self.name}: mirror padding {max(pair)} must be smaller than the {axis} {size}")

    def call(self, x):
        return ops.pad(x, ((0, 0), *self.padding, (0, 0)), mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        (t, bo), (le, r) = self.padding
        return (b, None if h is None else h + t + bo, None if w is None else w + le + r, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def mirror_padded(build_core: Callable[[int], keras.Model], size: int, depth: int, channels: int = 1,
                  name: str = "valid_unet") -> keras.Model:
    """size x size slices -> mirror pad -> the valid core built for the padded size -> crop -> size x size.

    The core is a nested model (`model.get_layer(core.name)`): its weights fit a core built for any
    other valid size, e.g. Ronneberger's 572 x 572 tile of the overlap-tile inference."""
    shrink, _ = valid_geometry(depth)
    canvas = valid_input_size(size, depth)
    margin = shrink // 2
    extra = canvas - shrink - size  # output pixels beyond the slice, bottom / right
    core = build_core(canvas)
    if tuple(core.output.shape[1:3]) != (canvas - shrink,) * 2:
        raise OptionError(f"{core.name}: built for {canvas} px, gives {core.output.shape[1:3]}, "
                          f"expected {canvas - shrink} (a valid U-Net of depth {depth})")
    inputs = keras.Input((size, size, channels), name=f"{name}_input")
    padded = MirrorPad2D(((margin, margin + extra),) * 2, name=f"{name}_mirror")(inputs)
    out = core(padded)
    cropped = keras.layers.Cropping2D(((0, extra), (0, extra)), dtype="float32", name=f"{name}_crop")(out)
    return keras.Model(inputs, cropped, name=name)


__all__ = ["on_grid", "valid_geometry", "valid_input_size", "MirrorPad2D", "mirror_padded"]
