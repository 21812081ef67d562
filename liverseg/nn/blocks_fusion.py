"""Blocks that merge two or more feature maps: attention gate, ConvLSTM skip fusion, multi-scale fusion.

Imported through `liverseg.nn.blocks`; same conventions (channels-last tensors,
every layer named from the `name` prefix).
"""
from __future__ import annotations

from numbers import Integral

from keras import layers

from liverseg.errors import OptionError


def check_positive(value, what: str, *, name: str) -> None:
    """OptionError naming block `name` unless `value` is a positive integer or a tuple / list of them."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not values or any(isinstance(v, bool) or not isinstance(v, Integral) or v < 1 for v in values):
        raise OptionError(f"{name}: {what} must be a positive integer, got {value!r}")


def _scale_factor(big, small, *, name, fallback=None) -> int:
    """Integer ratio of the static spatial sizes of `big` over `small` (equal along H and W)."""
    bh, bw = big.shape[1], big.shape[2]
    sh, sw = small.shape[1], small.shape[2]
    if None in (bh, bw, sh, sw):
        if fallback is None:
            raise OptionError(f"{name}: spatial sizes {(bh, bw)} and {(sh, sw)} are unknown at build time; "
                              "pass the scale factor explicitly")
        return int(fallback)
    if bh % sh or bw % sw or bh // sh != bw // sw:
        raise OptionError(f"{name}: {(bh, bw)} is not an integer multiple of {(sh, sw)}")
    return bh // sh


def attention_gate(x, gating, inter_channels, *, factor=None, output_projection=False, name):
    """Additive attention gate of Attention U-Net (Oktay et al. 2018, Fig. 2).

    theta_x: conv of `x` with kernel = stride = `factor` (the ratio of x's size
    to the gating signal's size, read from static shapes when `factor` is None)
    to `inter_channels`, no bias; phi_g: 1x1 conv of `gating`; their sum goes
    through ReLU, psi (1x1 conv to one channel) and a sigmoid, giving the
    attention coefficients alpha in (0, 1) at the gating resolution; alpha is
    bilinearly up-sampled by `factor` to x's size and multiplies every channel
    of `x`. With `output_projection=True` the gated features pass through a
    1x1 conv + BN (the "W" of the reference implementation).
    Layers: `{name}_theta`, `{name}_phi`, `{name}_add`, `{name}_relu`,
    `{name}_psi`, `{name}_sigmoid`, `{name}_resample`, `{name}_mul`,
    `{name}_out_conv`, `{name}_out_bn`.
    """
    check_positive(inter_channels, "inter_channels", name=name)
    if factor is not None:
        check_positive(factor, "factor", name=name)
    s = _scale_factor(x, gating, name=name) if factor is None else int(factor)
    theta = layers.Conv2D(inter_channels, s, strides=s, padding="valid", use_bias=False,
                          name=f"{name}_theta")(x)
    phi = layers.Conv2D(inter_channels, 1, name=f"{name}_phi")(gating)
    f = layers.Add(name=f"{name}_add")([theta, phi])
    f = layers.Activation("relu", name=f"{name}_relu")(f)
    psi = layers.Conv2D(1, 1, name=f"{name}_psi")(f)
    alpha = layers.Activation("sigmoid", name=f"{name}_sigmoid")(psi)
    if s > 1:
        alpha = layers.UpSampling2D(s, interpolation="bilinear", name=f"{name}_resample")(alpha)
    y = layers.Multiply(name=f"{name}_mul")([x, alpha])
    if output_projection:
        y = layers.Conv2D(int(x.shape[-1]), 1, name=f"{name}_out_conv")(y)
        y = layers.BatchNormalization(name=f"{name}_out_bn")(y)
    return y


def convlstm_skip_fusion(skip, up, filters, *, bidirectional=False, go_backwards=False, name):
    """BCDU-Net skip fusion (Azad et al. 2019): the encoder skip and the up-sampled decoder
    features form a 2-step sequence (skip first) that a ConvLSTM2D(filters, 3) reads.

    The final hidden state is returned (`return_sequences=False`), with
    `filters` channels, or 2 * filters with `bidirectional=True` (BCDU-Net's
    BConvLSTM: a forward and a backward ConvLSTM over the sequence, outputs
    concatenated). When the channel counts differ, `up` is first projected by
    a 1x1 conv to the skip's channels (`{name}_match`). Both inputs must have
    the same, fixed spatial size (ConvLSTM2D cannot be built on unknown
    sizes). `go_backwards=True` reads the sequence last step first (the decoder features, then the
    skip), as BCDU-Net's `BCDU_net_D3` does. Layers: `{name}_match`, `{name}_skip_step`, `{name}_up_step`, `{name}_stack`,
    `{name}_convlstm` (or `{name}_bconvlstm`).
    """
    check_positive(filters, "filters", name=name)
    size, up_size = tuple(skip.shape[1:3]), tuple(up.shape[1:3])
    if None in size + up_size:
        raise OptionError(f"{name}: ConvLSTM2D needs a fixed spatial size, got {size} and {up_size}")
    if size != up_size:
        raise OptionError(f"{name}: skip {size} and decoder {up_size} features differ in size")
    channels = int(skip.shape[-1])
    if int(up.shape[-1]) != channels:
        up = layers.Conv2D(channels, 1, name=f"{name}_match")(up)
    steps = [layers.Reshape((1,) + size + (channels,), name=f"{name}_{part}_step")(t)
             for part, t in (("skip", skip), ("up", up))]
    seq = layers.Concatenate(axis=1, name=f"{name}_stack")(steps)
    if bidirectional:
        cell = layers.ConvLSTM2D(filters, 3, padding="same", return_sequences=False, go_backwards=go_backwards,
                                 name=f"{name}_convlstm")
        return layers.Bidirectional(cell, merge_mode="concat", name=f"{name}_bconvlstm")(seq)
    return layers.ConvLSTM2D(filters, 3, padding="same", return_sequences=False, go_backwards=go_backwards,
                             kernel_initializer="he_normal", name=f"{name}_convlstm")(seq)


_MODES = {"pool_upsample": "nearest", "pool_bilinear": "bilinear"}


def multiscale_fusion(features, target_index, *, mode="pool_upsample", name):
    """Resizes every map of a feature pyramid to the size of `features[target_index]` and
    concatenates them along channels (Gong et al. Fig. 2).

    Larger maps are reduced by MaxPooling2D with the integer size ratio,
    smaller ones enlarged by UpSampling2D (nearest for "pool_upsample",
    bilinear for "pool_bilinear"). Ratios are read from static shapes; when
    sizes are unknown the list is taken as a pyramid from finest to coarsest,
    each level half the previous one. Output channels: the sum over inputs, in
    list order. Layers: `{name}_pool{i}`, `{name}_up{i}`, `{name}_concat`.
    """
    if mode not in _MODES:
        raise OptionError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
    features = list(features)
    if not -len(features) <= target_index < len(features):
        raise OptionError(f"{name}: target_index {target_index} outside 0..{len(features) - 1}")
    t = target_index % len(features)
    target = features[t]
    resized = []
    for i, f in enumerate(features):
        if i == t:
            resized.append(f)
            continue
        h, th = f.shape[1], target.shape[1]
        larger = (h > th) if None not in (h, th) else (i < t)
        if larger:
            k = _scale_factor(f, target, name=name, fallback=2 ** abs(i - t))
            resized.append(layers.MaxPooling2D(k, name=f"{name}_pool{i}")(f))
        else:
            k = _scale_factor(target, f, name=name, fallback=2 ** abs(i - t))
            resized.append(layers.UpSampling2D(k, interpolation=_MODES[mode], name=f"{name}_up{i}")(f))
    if len(resized) == 1:
        return resized[0]
    return layers.Concatenate(axis=-1, name=f"{name}_concat")(resized)
