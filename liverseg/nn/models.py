"""Generic model builders several papers share (the U-Net family)."""
from __future__ import annotations

import keras

from liverseg.nn import blocks


def segmentation_head(x, n_outputs: int, *, name: str):
    """1x1 convolution to `n_outputs` logits and a float32 sigmoid (stable under mixed precision)."""
    logits = keras.layers.Conv2D(n_outputs, 1, name=f"{name}_logits")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=f"{name}_sigmoid")(logits)


def build_unet(
    input_shape: tuple[int, int, int],
    *,
    n_outputs: int,
    base_filters: int = 64,
    depth: int = 4,
    kernel_size: int = 3,
    padding: str = "same",
    dropout: float = 0.0,
    use_bn: bool = True,
    upsample: str = "transpose",
    max_filters: int | None = None,
    name: str = "unet",
) -> keras.Model:
    """Ronneberger-style U-Net: `depth` poolings, filters doubling from `base_filters`, sigmoid outputs.

    `dropout` is applied at the deepest encoder stage and the bottleneck, as in the original U-Net.
    `max_filters` caps the width (the bottleneck of Ronneberger's U-Net doubles once more; a paper
    that says "64 to 512" with four poolings caps it at 512).
    """
    if kernel_size != 3:
        raise ValueError("the U-Net stages use 3x3 convolutions")
    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    skips = []
    for level in range(depth):
        filters = base_filters * 2**level
        stage_dropout = dropout if level == depth - 1 else 0.0
        skip, x = blocks.unet_encoder_stage(
            x, filters, padding=padding, dropout=stage_dropout, use_bn=use_bn, name=f"{name}_enc{level + 1}"
        )
        skips.append(skip)
    bottom = base_filters * 2**depth
    if max_filters:
        bottom = min(bottom, max_filters)
    x = blocks.conv_bn_act(x, bottom, padding=padding, use_bn=use_bn, name=f"{name}_bottom1")
    x = blocks.conv_bn_act(x, bottom, padding=padding, use_bn=use_bn, name=f"{name}_bottom2")
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_bottom_dropout")(x)
    for level in reversed(range(depth)):
        x = blocks.unet_decoder_stage(
            x, skips[level], base_filters * 2**level, padding=padding, upsample=upsample, use_bn=use_bn,
            name=f"{name}_dec{level + 1}",
        )
    outputs = segmentation_head(x, n_outputs, name=f"{name}_head")
    return keras.Model(inputs, outputs, name=name)
