"""Generic model builders several papers share (the U-Net family)."""
from __future__ import annotations

import math
from numbers import Integral, Real

import keras

from liverseg.errors import OptionError
from liverseg.nn import blocks
from liverseg.nn.blocks_fusion import check_positive


def prior_bias(prior: float | None):
    """The bias initializer of a sigmoid head whose outputs start at probability `prior` (Lin et al.
    2017, focal loss, 3.3), so that a rare foreground does not spend the first epochs on the class
    prior; zeros (p = 0.5) when `prior` is None or 0."""
    if not prior:
        return "zeros"
    if not 0.0 < prior < 1.0:
        raise OptionError(f"output prior must lie in (0, 1), got {prior!r}")
    return keras.initializers.Constant(math.log(prior / (1.0 - prior)))


def set_bn_momentum(model: keras.Model, momentum: float | None) -> keras.Model:
    """Every BatchNormalization of `model` (nested models included) with moving-average `momentum`
    (Keras' default 0.99 lags the batch statistics for the first few hundred steps); None: unchanged."""
    if momentum is not None:
        for layer in model._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = float(momentum)
    return model


def segmentation_head(x, n_outputs: int, *, name: str, prior: float | None = None):
    """1x1 convolution to `n_outputs` logits (bias at `prior`, see `prior_bias`) and a float32 sigmoid
    (stable under mixed precision)."""
    check_positive(n_outputs, "n_outputs", name=name)
    logits = keras.layers.Conv2D(n_outputs, 1, bias_initializer=prior_bias(prior), name=f"{name}_logits")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=f"{name}_sigmoid")(logits)


def unet_output_size(size: int, depth: int, padding: str = "same") -> int | None:
    """Spatial size of a U-Net's output along one axis of `size` pixels; None when that size cannot pass.

    "same": the size must be a multiple of 2**depth (each of the `depth` poolings halves it and
    every up-sampling doubles it back).  "valid": each stage's two 3x3 convolutions take 4 pixels,
    poolings floor the size; every intermediate size must stay positive.
    """
    if padding == "same":
        return size if size % 2**depth == 0 else None
    for _ in range(depth):
        size = (size - 4) // 2
        if size < 1:
            return None
    size -= 4
    for _ in range(depth):
        if size < 1:
            return None
        size = 2 * size - 4
    return size if size >= 1 else None


def _check_unet_options(input_shape, n_outputs, base_filters, depth, kernel_size, padding, dropout, max_filters,
                        name) -> None:
    """OptionError (one line, naming the model) for every U-Net setting the builder cannot honour."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise OptionError(f"{name}: input_shape must be (height, width, channels), got {input_shape!r}")
    check_positive(n_outputs, "n_outputs", name=name)
    check_positive(base_filters, "base_filters", name=name)
    check_positive(depth, "depth", name=name)
    if max_filters is not None:
        check_positive(max_filters, "max_filters", name=name)
    if kernel_size != 3:
        raise OptionError(f"{name}: kernel_size must be 3 (the U-Net stages use 3x3 convolutions), got {kernel_size!r}")
    if padding not in ("same", "valid"):
        raise OptionError(f"{name}: padding must be 'same' or 'valid', got {padding!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0.0 <= dropout < 1.0:
        raise OptionError(f"{name}: dropout must be a rate in [0, 1), got {dropout!r}")
    for axis, size in zip(("height", "width", "channels"), input_shape):
        if size is None and axis != "channels":
            continue
        if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
            raise OptionError(f"{name}: input {axis} must be a positive integer, got {size!r}")
        if axis != "channels" and unet_output_size(int(size), int(depth), padding) is None:
            need = (f"a multiple of 2**depth = {2 ** depth}" if padding == "same"
                    else "large enough for the valid convolutions")
            raise OptionError(f"{name}: input {axis} {size} does not fit a U-Net of depth {depth} with {padding} "
                              f"padding (it must be {need}); change the input size or the depth")


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
    output_prior: float | None = None,
    bn_momentum: float | None = None,
    name: str = "unet",
) -> keras.Model:
    """Ronneberger-style U-Net: `depth` poolings, filters doubling from `base_filters`, sigmoid outputs.

    `dropout` is applied at the deepest encoder stage and the bottleneck, as in the original U-Net.
    `max_filters` caps the width (the bottleneck of Ronneberger's U-Net doubles once more; a paper
    that says "64 to 512" with four poolings caps it at 512). `output_prior` starts the sigmoid outputs
    at that probability (`prior_bias`), `bn_momentum` sets every BatchNorm's momentum. Settings it cannot build (a kernel
    other than 3, non-positive widths or depth, an input size the poolings do not divide) raise
    OptionError before any layer is made.
    """
    _check_unet_options(input_shape, n_outputs, base_filters, depth, kernel_size, padding, dropout, max_filters,
                        name)
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    x = inputs
    skips = []
    for level in range(depth):
        filters = base_filters * 2**level if not max_filters else min(base_filters * 2**level, max_filters)
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
        filters = base_filters * 2**level if not max_filters else min(base_filters * 2**level, max_filters)
        x = blocks.unet_decoder_stage(
            x, skips[level], filters, padding=padding, upsample=upsample, use_bn=use_bn,
            name=f"{name}_dec{level + 1}",
        )
    outputs = segmentation_head(x, n_outputs, name=f"{name}_head", prior=output_prior)
    return set_bn_momentum(keras.Model(inputs, outputs, name=name), bn_momentum)
