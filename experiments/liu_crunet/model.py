"""Liu et al.'s networks: R-U-Net (II-A, Fig. 2) of pre-activation residual unit blocks, the two-level
CR-U-Net cascade with the intermediate processing between the levels, and the plain U-Net baseline.

Layer count of an R-U-Net of n blocks per path (NOTES.md): every unit block has 4 layers (three 3x3
convolutions + a 2x2 max pooling, or a 2x2 stride-2 deconvolution + three 3x3 convolutions), and the
bottom bridge 3 convolutions: 8n + 3 = 35 for level 1 (n = 4) and 43 for level 2 (n = 5). The 1x1
projection shortcuts and the 1x1 output convolution are not counted (`counted_layers`).
"""
from __future__ import annotations

import math

import keras

from liverseg.nn.frozen import Frozen
from liverseg.nn.models import build_unet
from liverseg.nn.morphology import BinaryMorphology

from experiments.liu_crunet.config import LiuConfig

LEVEL1 = "level1"  # the sub-model name of level 1 inside a cascade (warm-started from its stage)


def _conv(cfg: LiuConfig, filters: int, kernel: int, name: str, bias: float | None = None):
    # III-B: Xavier initialisation, bias 0.1 (`bias`: another start, the output layer's prior)
    start = cfg.net.bias_init if bias is None else bias
    return keras.layers.Conv2D(filters, kernel, padding="same", kernel_initializer="glorot_uniform",
                               bias_initializer=keras.initializers.Constant(start), name=name)


def residual_unit(x, filters: int, cfg: LiuConfig, name: str):
    """II-A / Fig. 2 with He et al. 2016's pre-activation ordering: `convs_per_block` x (BN -> ReLU ->
    3x3 conv -> dropout), plus the identity (a 1x1 projection of the pre-activated input when the
    width changes)."""
    pre = keras.layers.BatchNormalization(momentum=cfg.net.bn_momentum, name=f"{name}_bn1")(x)
    pre = keras.layers.Activation("relu", name=f"{name}_relu1")(pre)
    shortcut = x if int(x.shape[-1]) == filters else _conv(cfg, filters, 1, f"{name}_projection")(pre)
    y = pre
    for i in range(1, cfg.net.convs_per_block + 1):
        if i > 1:
            y = keras.layers.BatchNormalization(momentum=cfg.net.bn_momentum, name=f"{name}_bn{i}")(y)
            y = keras.layers.Activation("relu", name=f"{name}_relu{i}")(y)
        y = _conv(cfg, filters, 3, f"{name}_conv{i}")(y)
        if cfg.net.dropout:
            y = keras.layers.Dropout(cfg.net.dropout, name=f"{name}_drop{i}")(y)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def build_runet(cfg: LiuConfig, blocks: int, channels: int = 1, name: str = LEVEL1) -> keras.Model:
    """An R-U-Net of `blocks` down and up unit blocks on (S, S, channels) -> (S, S, 1) sigmoid."""
    size, f0 = cfg.preprocess.size, cfg.net.base_filters
    inputs = keras.Input((size, size, channels), name=f"{name}_input")
    x, skips = inputs, []
    for k in range(blocks):  # down blocks: unit (its third conv feeds the skip), 2x2 max pooling
        x = residual_unit(x, f0 * 2**k, cfg, f"{name}_down{k + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"{name}_down{k + 1}_pool")(x)
    x = residual_unit(x, f0 * 2**blocks, cfg, f"{name}_bridge")  # the 3-conv bottom bridge
    for k in reversed(range(blocks)):  # up blocks: 2x2 stride-2 deconvolution, the skip, unit
        x = keras.layers.Conv2DTranspose(f0 * 2**k, 2, strides=2, kernel_initializer="glorot_uniform",
                                         bias_initializer=keras.initializers.Constant(cfg.net.bias_init),
                                         name=f"{name}_up{k + 1}_deconv")(x)
        x = keras.layers.Concatenate(name=f"{name}_up{k + 1}_concat")([skips[k], x])
        x = residual_unit(x, f0 * 2**k, cfg, f"{name}_up{k + 1}")
    x = keras.layers.BatchNormalization(momentum=cfg.net.bn_momentum, name=f"{name}_out_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_out_relu")(x)
    prior = cfg.net.output_prior
    bias = math.log(prior / (1.0 - prior)) if prior else None
    logits = _conv(cfg, 1, 1, f"{name}_logits", bias)(x)  # II-A: 1x1 convolution, then the sigmoid
    out = keras.layers.Activation("sigmoid", dtype="float32", name=f"{name}_sigmoid")(logits)
    return keras.Model(inputs, out, name=name)


def counted_layers(model: keras.Model) -> int:
    """3x3 convolutions, max poolings and deconvolutions of a model (the paper's layer count)."""
    def counts(layer) -> bool:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            return True
        if isinstance(layer, keras.layers.Conv2D):
            return tuple(layer.kernel_size) == (3, 3)
        return isinstance(layer, keras.layers.MaxPooling2D)

    return sum(counts(layer) for layer in model._flatten_layers(include_self=False))


def build_cascade(cfg: LiuConfig, level2_blocks: int, processing: bool, name: str) -> keras.Model:
    """CR-U-Net (II-A, Fig. 1): CT -> level 1 (frozen) -> sigmoid > t -> opening r, closing r (when
    `processing`) -> level 2 on (CT, processed mask) -> liver sigmoid. CHOICE: level 2 sees the CT and the
    mask as two channels (the paper: "the output data is employed as a new input data to the second
    level"; the mask alone would throw the image away, the CT masked by it would cut off the liver
    pixels level 1 missed, which the processing is there to restore)."""
    size = cfg.preprocess.size
    level1 = Frozen(build_runet(cfg, cfg.net.level1_blocks, 1, LEVEL1))  # inference mode: no dropout
    image = keras.Input((size, size, 1), name=f"{name}_input")
    operations = ("open", "close") if processing else ()
    mask = BinaryMorphology(cfg.level1_threshold, cfg.morphology_radius, operations, name=f"{name}_processing")(
        level1(image))
    both = keras.layers.Concatenate(name=f"{name}_ct_and_mask")([image, mask])
    level2 = build_runet(cfg, level2_blocks, 2, "level2")
    return keras.Model(image, level2(both), name=name)


def build_unet_baseline(cfg: LiuConfig) -> keras.Model:
    """Table I's U-Net [12]: Ronneberger's network (same padding here, four poolings, 64 -> 1024 at the
    paper profile), one sigmoid output."""
    model = build_unet((cfg.preprocess.size, cfg.preprocess.size, 1), n_outputs=1,
                       base_filters=cfg.net.unet_base_filters, depth=cfg.net.level1_blocks,
                       bn_momentum=cfg.net.bn_momentum, name="unet")
    return model


__all__ = ["LEVEL1", "residual_unit", "build_runet", "counted_layers", "build_cascade", "build_unet_baseline"]
