"""Li et al.'s four networks (Table I): Ronneberger's valid-padding U-Net (III-C, Fig. 5), the
attention U-Net (AU-Net), AU-Net with deep supervision, and DALU-Net (III-D, Fig. 7: attention,
deep supervision, ConvLSTM skip fusion, densely connected bottleneck).

Every network maps (S, S, 1) slices to sigmoid maps of `cfg.outputs`. The U-Net is trained on whole
slices through one mirror-padded valid input (`liverseg.nn.valid_unet`) and predicts by overlap-tile
on its 572 x 572 core; the deeply supervised networks stack their heads in one output, main head
first (`liverseg.nn.deep_supervision`).
"""
from __future__ import annotations


import keras

from liverseg.errors import OptionError
from liverseg.nn import blocks
from liverseg.nn.deep_supervision import stack_heads
from liverseg.nn.models import prior_bias, set_bn_momentum
from liverseg.nn.valid_unet import mirror_padded

from experiments.li_dalunet.config import LiConfig

UNET_CORE = "unet_core"  # the nested valid U-Net inside the whole-slice model


def _filters(cfg: LiConfig, level: int) -> int:
    return cfg.net.base_filters * 2**level


def _head(x, cfg: LiConfig, name: str, upsample: int = 1):
    """1x1 conv to one logit per output (bias at the prior), optional bilinear up-sampling, float32 sigmoid."""
    prior = cfg.net.output_prior
    bias = prior_bias(prior)
    x = keras.layers.Conv2D(len(cfg.outputs), 1, bias_initializer=bias, name=f"{name}_logits")(x)
    if upsample > 1:
        x = keras.layers.UpSampling2D(upsample, interpolation="bilinear", name=f"{name}_up")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=f"{name}_sigmoid")(x)


def _encoder(x, cfg: LiConfig, padding: str, name: str):
    skips = []
    for level in range(cfg.net.depth):
        dropout = cfg.net.dropout if level == cfg.net.depth - 1 else 0.0
        skip, x = blocks.unet_encoder_stage(x, _filters(cfg, level), padding=padding, dropout=dropout,
                                            use_bn=cfg.net.batch_norm, name=f"{name}_enc{level + 1}")
        skips.append(skip)
    return skips, x


def _conv_pair(x, filters: int, cfg: LiConfig, padding: str, name: str):
    for i in (1, 2):
        x = blocks.conv_bn_act(x, filters, padding=padding, use_bn=cfg.net.batch_norm, name=f"{name}_c{i}")
    return x


def build_unet_core(cfg: LiConfig, size: int) -> keras.Model:
    """III-C / Fig. 5: valid 3x3 convolutions, `depth` poolings, 64 -> 1024 filters; 572 -> 388 at depth 4."""
    inputs = keras.Input((size, size, 1), name=f"{UNET_CORE}_input")
    skips, x = _encoder(inputs, cfg, "valid", UNET_CORE)
    x = _conv_pair(x, _filters(cfg, cfg.net.depth), cfg, "valid", f"{UNET_CORE}_bottom")
    if cfg.net.dropout:
        x = keras.layers.Dropout(cfg.net.dropout, name=f"{UNET_CORE}_bottom_drop")(x)
    for level in reversed(range(cfg.net.depth)):
        x = blocks.unet_decoder_stage(x, skips[level], _filters(cfg, level), padding="valid",
                                      use_bn=cfg.net.batch_norm, name=f"{UNET_CORE}_dec{level + 1}")
    model = keras.Model(inputs, _head(x, cfg, f"{UNET_CORE}_head"), name=UNET_CORE)
    return set_bn_momentum(model, cfg.net.bn_momentum)


def build_unet_tile(cfg: LiConfig) -> keras.Model:
    """The U-Net on Ronneberger's tile (`cfg.net.unet_tile`, 572 in the paper profile)."""
    return build_unet_core(cfg, cfg.net.unet_tile)


def build_unet(cfg: LiConfig, size: int | None = None) -> keras.Model:
    """Whole slices: mirror pad -> the valid core -> crop (the tiles of the overlap-tile inference at once)."""
    return mirror_padded(lambda n: build_unet_core(cfg, n), size or cfg.preprocess.size, cfg.net.depth, name="unet")


def _dense_bottleneck(x, filters: int, cfg: LiConfig, name: str):
    """BCDU-Net's densely connected bottleneck: block k reads the outputs of blocks 1 .. k-1 (block 1 the input)."""
    outputs = [_conv_pair(x, filters, cfg, "same", f"{name}_dense1")]
    for k in range(2, cfg.net.dense_bottleneck_blocks + 1):
        merged = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name=f"{name}_dense{k}_in")(outputs)
        outputs.append(_conv_pair(merged, filters, cfg, "same", f"{name}_dense{k}"))
    return outputs[-1]


def _decoder_level(x, skip, filters: int, cfg: LiConfig, convlstm: bool, name: str, gate: bool = True):
    """Attention gate on the skip (gated by the coarser decoder tensor; `gate`), up-convolution, fusion,
    two convs."""
    gated = skip
    if gate:
        gated = blocks.attention_gate(skip, x, max(filters // 2, 1), output_projection=cfg.net.attention_projection,
                                      name=f"{name}_att")
    up = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", kernel_initializer="he_normal",
                                      name=f"{name}_up")(x)
    if convlstm:  # BCDU-Net D3: BN + ReLU after the up-convolution, then the 2-step ConvLSTM
        if cfg.net.batch_norm:
            up = keras.layers.BatchNormalization(name=f"{name}_up_bn")(up)
        up = keras.layers.Activation("relu", name=f"{name}_up_act")(up)
        merged = blocks.convlstm_skip_fusion(gated, up, max(filters // 2, 1), go_backwards=cfg.net.convlstm_backwards,
                                             name=f"{name}_fusion")
    else:
        merged = keras.layers.Concatenate(name=f"{name}_concat")([gated, up])
    return _conv_pair(merged, filters, cfg, "same", name)


def build_attention_unet(cfg: LiConfig, size: int | None = None, *, deep_supervision: bool, convlstm: bool,
                         name: str) -> keras.Model:
    """AU-Net (both False), AU-Net w/DS (`deep_supervision`), DALU-Net (both; plus the dense bottleneck)."""
    size = size or cfg.preprocess.size
    depth = cfg.net.depth
    if deep_supervision and len(cfg.net.ds_weights) < depth:
        raise OptionError(f"{name}: net.ds_weights has {len(cfg.net.ds_weights)} weights, a depth-{depth} "
                          f"network has {depth} heads")
    inputs = keras.Input((size, size, 1), name=f"{name}_input")
    skips, x = _encoder(inputs, cfg, "same", name)
    bottom = _filters(cfg, depth)
    x = _dense_bottleneck(x, bottom, cfg, f"{name}_bottom") if convlstm else _conv_pair(x, bottom, cfg, "same",
                                                                                         f"{name}_bottom")
    if cfg.net.dropout:
        x = keras.layers.Dropout(cfg.net.dropout, name=f"{name}_bottom_drop")(x)
    aux = []
    for level in reversed(range(depth)):
        gate = level > 0 or cfg.net.attention_top_skip
        x = _decoder_level(x, skips[level], _filters(cfg, level), cfg, convlstm, f"{name}_dec{level + 1}", gate)
        if deep_supervision and level > 0:
            aux.append(_head(x, cfg, f"{name}_ds{level + 1}", upsample=2**level))
    heads = [_head(x, cfg, f"{name}_head"), *reversed(aux)]  # main, then finest to coarsest
    model = keras.Model(inputs, stack_heads(heads, name=f"{name}_heads"), name=name)
    return set_bn_momentum(model, cfg.net.bn_momentum)


def build_variant(cfg: LiConfig, variant: str, size: int | None = None) -> keras.Model:
    """The Table I network of a variant: unet, aunet, aunet_ds, dalunet."""
    if variant == "unet":
        return build_unet(cfg, size)
    flags = {"aunet": (False, False), "aunet_ds": (True, False), "dalunet": (True, True)}
    if variant not in flags:
        raise OptionError(f"unknown variant {variant!r}; choose one of unet, {', '.join(flags)}")
    ds, convlstm = flags[variant]
    return build_attention_unet(cfg, size, deep_supervision=ds, convlstm=convlstm, name=variant)


def heads(cfg: LiConfig, variant: str) -> int:
    """Number of stacked output heads of a variant (1 without deep supervision)."""
    return cfg.net.depth if variant in ("aunet_ds", "dalunet") else 1


__all__ = ["UNET_CORE", "build_unet_core", "build_unet_tile", "build_unet", "build_attention_unet",
           "build_variant", "heads"]
