"""Gruber et al. networks: the U-Net of 2.2, the one-step 3-class U-Net (2.1), and U-Nets A and B
chained as one model (2.3: B sees the windowed masked image w(M(X) X)) for the sequential and the
joint training."""
from __future__ import annotations

import keras
import numpy as np

from liverseg.nn import blocks
from liverseg.nn.frozen import Frozen
from liverseg.nn.models import set_bn_momentum
from liverseg.nn.masking import IntensityWindow, ProbabilityMask, window_in_unit_range

from experiments.gruber.config import GruberConfig, GruberUNetConfig

# 2.1: C(X)_0 ~ T (tumour), C(X)_1 ~ L (liver), C(X)_2 ~ O (other tissue)
ONESTEP_CLASSES = ("tumour", "liver_only", "other")
CHAIN_OUTPUTS = ("liver", "tumour")  # channels of the chained model: A(X), B(w(M(X) X))


def _prior_bias(prior: float, n_outputs: int, activation: str):
    """Initial logits giving each foreground class probability `prior` (softmax: the last class,
    "other", takes the rest)."""
    if activation == "softmax":
        rest = 1.0 - prior * (n_outputs - 1)
        return keras.initializers.Constant(np.log([prior] * (n_outputs - 1) + [rest]).tolist())
    return keras.initializers.Constant(float(np.log(prior / (1.0 - prior))))


def build_unet(cfg: GruberUNetConfig, size: int, n_outputs: int, activation: str, name: str) -> keras.Model:
    """2.2: an initial convolution, convolution blocks at decreasing resolution, the expanding path
    with skip connections and dropout (2.4), a 1x1 linear classifier with sigmoid (or softmax, 2.1)."""
    inputs = keras.Input(shape=(size, size, 1), name=f"{name}_input")
    bn = cfg.batch_norm
    x = blocks.conv_bn_act(inputs, cfg.base_filters, 3, use_bn=bn, name=f"{name}_initial")
    skips = []
    for level in range(cfg.depth):
        skip, x = blocks.unet_encoder_stage(x, cfg.base_filters * 2**level, use_bn=bn, name=f"{name}_enc{level + 1}")
        skips.append(skip)
    for i in (1, 2):
        x = blocks.conv_bn_act(x, cfg.base_filters * 2**cfg.depth, use_bn=bn, name=f"{name}_bottom{i}")
    for level in reversed(range(cfg.depth)):
        x = blocks.unet_decoder_stage(x, skips[level], cfg.base_filters * 2**level, dropout=cfg.decoder_dropout,
                                      use_bn=bn, name=f"{name}_dec{level + 1}")
    logits = keras.layers.Conv2D(n_outputs, 1, bias_initializer=_prior_bias(cfg.output_prior, n_outputs, activation),
                                 name=f"{name}_classifier")(x)
    outputs = keras.layers.Activation(activation, dtype="float32", name=f"{name}_{activation}")(logits)
    return set_bn_momentum(keras.Model(inputs, outputs, name=name), cfg.bn_momentum)


def build_onestep(cfg: GruberConfig) -> keras.Model:
    """2.1: 512x512x1 -> 3 softmax classes (tumour, liver, other)."""
    return build_unet(cfg.unet, cfg.preprocess.size, len(ONESTEP_CLASSES), "softmax", "onestep")


def build_liver(cfg: GruberConfig) -> keras.Model:
    """2.3: U-Net A, liver including tumour, sigmoid."""
    return build_unet(cfg.unet, cfg.preprocess.size, 1, "sigmoid", "unet_a")


def build_chain(cfg: GruberConfig, *, train_liver: bool, gradient: str = "hard", name: str = "sequential") -> keras.Model:
    """2.3: X -> A(X) -> M = [A(X) > t_a] -> w(M X) -> B; the output stacks (A(X), B(w(M X))).

    `train_liver=False`: A is frozen (the sequential training of B, 2.4); True: A and B train
    together on the joint loss (2.1), the mask passing the gradient as `gradient` says."""
    size = cfg.preprocess.size
    a = build_unet(cfg.unet, size, 1, "sigmoid", "unet_a")
    if not train_liver:  # 2.4: B learns from the masks A gives at test time (A's dropout off)
        a = Frozen(a)
    b = build_unet(cfg.unet, size, 1, "sigmoid", "unet_b")
    image = keras.Input(shape=(size, size, 1), name=f"{name}_input")
    liver = a(image)
    mask = ProbabilityMask(cfg.liver_threshold, gradient, name="liver_mask")(liver)
    masked = keras.layers.Multiply(name="masked_image")([image, mask])
    low, high = window_in_unit_range(cfg.tumour_window_hu, cfg.preprocess.window)
    tumour = b(IntensityWindow(low, high, name="tumour_window")(masked))
    outputs = keras.layers.Concatenate(dtype="float32", name="liver_tumour")([liver, tumour])
    return keras.Model(image, outputs, name=name)


__all__ = ["ONESTEP_CLASSES", "CHAIN_OUTPUTS", "build_unet", "build_onestep", "build_liver", "build_chain"]
