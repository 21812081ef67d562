"""Bi's networks: ResNet-38 as an FCN (2.3, Table 1), the cascade on its probability maps (2.4, eq. 3)
and Table 2's VGG-FCN baseline (an FCN-8s on VGG16, trained from scratch).

Every network takes slices of any size on its stride grid (8 for the ResNet, 32 for the FCN-8s), so
one model predicts at every scale of the multi-scale test.
"""
from __future__ import annotations

from dataclasses import replace

import keras
from keras import layers

from liverseg.nn.frozen import Frozen
from liverseg.nn.models import prior_bias
from liverseg.nn.upsample import BilinearUpsampling

from experiments.bi_cascaded_resnet.config import BiConfig, ResLevel

LEVEL1, LEVEL2 = "level1", "level2"


def _w(cfg: BiConfig, filters: int) -> int:
    return max(1, int(round(filters * cfg.net.width)))


def _conv(filters, kernel, name, *, strides=1, dilation=1, use_bias=False, **kw):
    return layers.Conv2D(filters, kernel, strides=strides, dilation_rate=dilation, padding="same",
                         use_bias=use_bias, kernel_initializer="he_normal", name=name, **kw)


def preact_unit(x, widths, dilations, *, stride: int = 1, dropout: float = 0.0, bn_momentum: float = 0.99,
                name: str):
    """Pre-activation residual unit (He et al. 2016, identity mappings; ResNet-38's units): BN-ReLU
    before every convolution, two 3x3 convolutions or a 1x1-3x3-1x1 bottleneck (three widths), the
    first one strided; the shortcut is the identity, or a 1x1 (strided) projection of the pre-activated
    input when the size or the width changes; dropout before the last convolution."""
    kernels = (3, 3) if len(widths) == 2 else (1, 3, 1)
    pre = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn0")(x)
    pre = layers.Activation("relu", name=f"{name}_relu0")(pre)
    shortcut = x
    if stride != 1 or x.shape[-1] != widths[-1]:
        # a strided 1x1 projection, written as 1x1 subsampling then a 1x1 convolution (the same
        # function): TensorFlow 2.21's oneDNN kernels abort ("double free or corruption") in the
        # backward pass of a strided 1x1 convolution on some input sizes (48, 64, 88 px)
        sub = pre if stride == 1 else layers.MaxPooling2D(1, strides=stride, padding="same", name=f"{name}_proj_pool")(pre)
        shortcut = _conv(widths[-1], 1, f"{name}_proj")(sub)
    y = pre
    for i, (f, k, d) in enumerate(zip(widths, kernels, dilations)):
        if i:
            y = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn{i}")(y)
            y = layers.Activation("relu", name=f"{name}_relu{i}")(y)
        if dropout and i == len(widths) - 1:
            y = layers.Dropout(dropout, name=f"{name}_drop")(y)
        y = _conv(f, k, f"{name}_conv{i + 1}", strides=stride if i == 0 else 1, dilation=d)(y)
    return layers.Add(name=f"{name}_add")([shortcut, y])


def _level(x, cfg: BiConfig, level: ResLevel):
    widths = tuple(_w(cfg, f) for f in level.widths)
    for b in range(level.blocks):
        x = preact_unit(x, widths, level.first_dilations if b == 0 else level.dilations,
                        stride=level.stride if b == 0 else 1, dropout=level.dropout,
                        bn_momentum=cfg.net.bn_momentum, name=f"{level.name}_{b + 1}")
    return x


def build_resnet(cfg: BiConfig, in_channels: int = 1, name: str = "resnet38", size: int | None = None):
    """Table 1: 3x3/64 stem; B2 .. B4 (stride 2 each: output stride 8); B5 .. B7 dilated; BN-ReLU; the
    3x3/512 dilate-12 classifier (+ReLU) and the 3x3/2 dilate-12 score map; x8 bilinear up-sampling to
    the input size; sigmoid liver and lesion maps. `size` fixes the input (None: any multiple of 8)."""
    net = cfg.net
    inputs = keras.Input((size, size, in_channels), name=f"{name}_input")
    x = _conv(_w(cfg, net.stem_filters), 3, f"{name}_stem")(inputs)  # Table 1 row 1: no BN before
    for level in net.levels:
        x = _level(x, cfg, replace(level, name=f"{name}_{level.name}"))
    x = layers.BatchNormalization(momentum=net.bn_momentum, name=f"{name}_bn_final")(x)
    x = layers.Activation("relu", name=f"{name}_relu_final")(x)
    x = _conv(_w(cfg, net.classifier_filters), 3, f"{name}_cls1", dilation=net.classifier_dilation,
              use_bias=True, activation="relu")(x)
    x = _conv(len(net.outputs), 3, f"{name}_score", dilation=net.classifier_dilation, use_bias=True,
              bias_initializer=prior_bias(net.output_prior))(x)
    x = BilinearUpsampling(net.upsample, name=f"{name}_up")(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name=f"{name}_prob")(x)
    return keras.Model(inputs, outputs, name=name)


def build_cascade(cfg: BiConfig, name: str = "cascade"):
    """2.4, eq. 3: P = F(I, Y^t, Y^v). The first ResNet (frozen and in inference mode; its weights come
    from the "resnet" stage) gives the liver and lesion probability maps of the slice; the second ResNet
    reads the slice and both maps, three channels, at training time as at test time."""
    inputs = keras.Input((None, None, 1), name=f"{name}_input")
    maps = Frozen(build_resnet(cfg, 1, name=LEVEL1))(inputs)  # inference mode: no dropout in its maps
    x = layers.Concatenate(name=f"{name}_image_and_maps")([inputs, maps])
    outputs = build_resnet(cfg, 1 + len(cfg.net.outputs), name=LEVEL2)(x)
    return keras.Model(inputs, outputs, name=name)


def build_vgg_fcn(cfg: BiConfig, name: str = "vgg_fcn", size: int | None = None):
    """Table 2's VGG-FCN: FCN-8s (Long et al. [5]) on `keras.applications.VGG16(weights=None)` (no
    ImageNet weights here): fc6 7x7 and fc7 1x1 as convolutions with dropout, a score per class at
    strides 32, 16 (pool4) and 8 (pool3), fused by x2 deconvolutions, then x8 to the input size.
    Inputs are multiples of 32 (the predictor pads whole slices)."""
    net, n = cfg.net, len(cfg.net.outputs)
    inputs = keras.Input((size, size, 1), name=f"{name}_input")
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_tensor=inputs)
    pool3, pool4, pool5 = (vgg.get_layer(f"block{i}_pool").output for i in (3, 4, 5))
    x = _conv(net.vgg_fc_filters, 7, "fc6", use_bias=True, activation="relu")(pool5)
    x = layers.Dropout(net.vgg_dropout, name="fc6_drop")(x)
    x = _conv(net.vgg_fc_filters, 1, "fc7", use_bias=True, activation="relu")(x)
    x = layers.Dropout(net.vgg_dropout, name="fc7_drop")(x)
    x = _conv(n, 1, "score_fr", use_bias=True)(x)
    for skip, stride in ((pool4, 16), (pool3, 8)):
        x = layers.Conv2DTranspose(n, 4, strides=2, padding="same", name=f"up_to_{stride}")(x)
        x = layers.Add(name=f"fuse_{stride}")([x, _conv(n, 1, f"score_pool{stride}", use_bias=True)(skip)])
    x = layers.Conv2DTranspose(n, 16, strides=8, padding="same", name="up_to_1",
                               bias_initializer=prior_bias(net.output_prior))(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name=f"{name}_prob")(x)
    return keras.Model(inputs, outputs, name=name)


__all__ = ["LEVEL1", "LEVEL2", "preact_unit", "build_resnet", "build_cascade", "build_vgg_fcn"]
