"""Functional block builders shared by the paper models.

Every function takes a channels-last tensor `x` (B, H, W, C) and a `name`
prefix, and names every layer it creates from that prefix (`f"{name}_conv1"`,
...), so a model built from blocks has readable, unique layer names.
Attention gates, ConvLSTM skip fusion and multi-scale fusion live in
`liverseg.nn.blocks_fusion` and are re-exported here.
"""
from __future__ import annotations

from keras import layers

from liverseg.nn.blocks_fusion import attention_gate, check_positive, convlstm_skip_fusion, multiscale_fusion
from liverseg.errors import OptionError

__all__ = [
    "conv_bn_act",
    "unet_encoder_stage",
    "unet_decoder_stage",
    "dense_block",
    "attention_gate",
    "convlstm_skip_fusion",
    "multiscale_fusion",
    "center_crop_to",
]


def _channels(x) -> int:
    return int(x.shape[-1])


def conv_bn_act(x, filters, kernel_size=3, *, strides=1, padding="same", dilation_rate=1,
                activation="relu", use_bn=True, name):
    """Conv2D -> (BatchNorm) -> (activation).

    Layers: `{name}_conv`, `{name}_bn` (when `use_bn`), `{name}_act` (when
    `activation` is not None). The convolution has no bias when followed by
    batch normalisation (the BN offset replaces it).
    """
    if padding not in ("same", "valid"):
        raise OptionError(f"{name}: padding must be 'same' or 'valid', got {padding!r}")
    for what, value in (("filters", filters), ("kernel_size", kernel_size), ("strides", strides),
                        ("dilation_rate", dilation_rate)):
        check_positive(value, what, name=name)
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                      dilation_rate=dilation_rate, use_bias=not use_bn,
                      kernel_initializer="he_normal", name=f"{name}_conv")(x)
    if use_bn:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_act")(x)
    return x


def unet_encoder_stage(x, filters, *, padding="same", n_convs=2, dropout=0.0, use_bn=True, name):
    """One contracting U-Net stage: `n_convs` x (conv3x3-BN-ReLU), optional dropout, 2x2 max-pool.

    Returns `(skip, pooled)`: the stage's features before pooling (for the skip
    connection) and after pooling. Layers: `{name}_c1`.. `{name}_c{n}`
    (conv_bn_act prefixes), `{name}_drop`, `{name}_pool`.
    """
    for i in range(n_convs):
        x = conv_bn_act(x, filters, 3, padding=padding, use_bn=use_bn, name=f"{name}_c{i + 1}")
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_drop")(x)
    pooled = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    return x, pooled


def center_crop_to(skip, target, *, name):
    """Centre-crops `skip` spatially to the static (H, W) of `target` with `Cropping2D`.

    Returns `skip` unchanged when the sizes already agree. An odd difference
    puts the extra row/column on the bottom/right. Raises OptionError when
    the sizes are unknown at build time or `target` is larger than `skip`.
    """
    sh, sw = skip.shape[1], skip.shape[2]
    th, tw = target.shape[1], target.shape[2]
    if None not in (sh, sw, th, tw) and (sh, sw) == (th, tw):
        return skip
    if None in (sh, sw, th, tw):
        raise OptionError(
            f"{name}: cannot crop a skip connection of unknown size {(sh, sw)} to {(th, tw)}; "
            "valid padding needs a fixed input size")
    dh, dw = sh - th, sw - tw
    if dh < 0 or dw < 0:
        raise OptionError(f"{name}: skip connection {(sh, sw)} is smaller than the decoder features {(th, tw)}")
    crop = ((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2))
    return layers.Cropping2D(crop, name=f"{name}_crop")(skip)


def unet_decoder_stage(x, skip, filters, *, padding="same", upsample="transpose", n_convs=2,
                       dropout=0.0, use_bn=True, name):
    """One expanding U-Net stage: 2x up-sampling, concatenation with the (cropped) skip, convs.

    `upsample="transpose"`: Conv2DTranspose(filters, 2, strides=2) (`{name}_up`), the
    original U-Net up-convolution. `upsample="bilinear"`: UpSampling2D bilinear
    (`{name}_up`) with no weights. With valid padding the skip is centre-cropped
    to the up-sampled size (`{name}_crop`). Then `{name}_concat`, optional
    `{name}_drop`, and `n_convs` x conv_bn_act (`{name}_c1`...).
    """
    if upsample == "transpose":
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same",
                                   kernel_initializer="he_normal", name=f"{name}_up")(x)
    elif upsample == "bilinear":
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
    else:
        raise OptionError(f"upsample must be 'transpose' or 'bilinear', got {upsample!r}")
    if padding == "valid" or None not in tuple(skip.shape[1:3]) + tuple(x.shape[1:3]):
        skip = center_crop_to(skip, x, name=name)
    x = layers.Concatenate(axis=-1, name=f"{name}_concat")([skip, x])
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_drop")(x)
    for i in range(n_convs):
        x = conv_bn_act(x, filters, 3, padding=padding, use_bn=use_bn, name=f"{name}_c{i + 1}")
    return x


def dense_block(x, n_layers, growth_rate, *, residual=False, include_input=True, name):
    """DenseNet block (Huang et al. 2017): each layer is BN-ReLU-conv3x3(growth_rate)
    applied to the concatenation of the block input and all previous layers.

    The output is the concatenation of the input (when `include_input`) and the
    `n_layers` new feature maps: C + n_layers * growth_rate channels (or
    n_layers * growth_rate). With `residual=True` a 1x1 projection of the
    input to the output width is added to it (Gong et al. Fig. 3: dense module
    with a residual connection). Layers: `{name}_l{i}_bn`, `{name}_l{i}_relu`,
    `{name}_l{i}_conv`, `{name}_l{i}_concat`, `{name}_out_concat`, `{name}_proj`,
    `{name}_add`.
    """
    check_positive(n_layers, "n_layers (a dense block needs at least one layer)", name=name)
    check_positive(growth_rate, "growth_rate", name=name)
    block_input = x
    features = [x]
    new = []
    for i in range(1, n_layers + 1):
        h = features[0] if len(features) == 1 else layers.Concatenate(
            axis=-1, name=f"{name}_l{i}_concat")(features)
        h = layers.BatchNormalization(name=f"{name}_l{i}_bn")(h)
        h = layers.Activation("relu", name=f"{name}_l{i}_relu")(h)
        h = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False,
                          kernel_initializer="he_normal", name=f"{name}_l{i}_conv")(h)
        features.append(h)
        new.append(h)
    outputs = features if include_input else new
    out = outputs[0] if len(outputs) == 1 else layers.Concatenate(axis=-1, name=f"{name}_out_concat")(outputs)
    if residual:
        proj = layers.Conv2D(_channels(out), 1, use_bias=False, kernel_initializer="he_normal",
                             name=f"{name}_proj")(block_input)
        out = layers.Add(name=f"{name}_add")([proj, out])
    return out

