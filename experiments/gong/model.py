"""Gong et al. networks: the coarse U-Net (2.2) and the multi-scale-fusion U-Net of the fine stage (2.2, Fig. 2-3)."""
from __future__ import annotations

import keras

from liverseg.nn import blocks
from liverseg.nn.models import build_unet, segmentation_head
from liverseg.nn.resolution import at_lower_resolution

from experiments.gong.config import FusionNetConfig, GongConfig, UNetConfig


def build_coarse(model_cfg: UNetConfig, size: int) -> keras.Model:
    """2.2: "an original U-net ... four down-sampling and up-sampling ... 64 to 512 ... 3*3 ... same padding",
    on the slice `model_cfg.downsample` times smaller (1 = as it is)."""
    return at_lower_resolution(lambda n: _coarse_unet(model_cfg, n), size, model_cfg.downsample, name="coarse")


def _coarse_unet(model_cfg: UNetConfig, size: int) -> keras.Model:
    return build_unet(
        (size, size, 1),
        n_outputs=len(model_cfg.outputs),
        base_filters=model_cfg.base_filters,
        depth=model_cfg.depth,
        kernel_size=model_cfg.kernel_size,
        padding=model_cfg.padding,
        dropout=model_cfg.dropout,
        max_filters=model_cfg.base_filters * 2 ** (model_cfg.depth - 1),
        name="coarse" if model_cfg.downsample == 1 else "coarse_unet",
    )


def _feature_block(x, filters: int, cfg: FusionNetConfig, *, name: str):
    """Fig. 3: a dense block with a residual connection, then a 1x1 transition to `filters` channels."""
    growth = cfg.growth_rate or max(filters // cfg.dense_layers, 2)
    x = blocks.dense_block(x, cfg.dense_layers, growth, residual=True, name=f"{name}_dense")
    return blocks.conv_bn_act(x, filters, kernel_size=1, name=f"{name}_transition")


def build_fine(model_cfg: FusionNetConfig, size: int) -> keras.Model:
    """2.2 / Fig. 2: 7x7 stem, dense+residual feature blocks, three poolings (four scales), a
    multi-scale fusion at every decoder level (all four scales brought to that level's size by max
    pooling / up-sampling and concatenated), skip connections from the fused maps, sigmoid output."""
    levels = model_cfg.poolings + 1
    widths = [model_cfg.base_filters * 2**level for level in range(levels)]
    inputs = keras.Input(shape=(size, size, 1), name="fine_input")
    x = blocks.conv_bn_act(inputs, widths[0], kernel_size=model_cfg.stem_kernel, name="fine_stem")
    features = []
    for level in range(levels):
        if level:
            x = keras.layers.MaxPooling2D(2, name=f"fine_pool{level}")(x)
        x = _feature_block(x, widths[level], model_cfg, name=f"fine_enc{level + 1}")
        features.append(x)
    fused = [
        blocks.conv_bn_act(
            blocks.multiscale_fusion(features, level, name=f"fine_fuse{level + 1}"),
            widths[level], kernel_size=1, name=f"fine_fuse{level + 1}_proj",
        )
        for level in range(levels)
    ]
    x = fused[-1]
    for level in reversed(range(levels - 1)):
        x = keras.layers.Conv2DTranspose(widths[level], 2, strides=2, name=f"fine_up{level + 1}")(x)
        x = keras.layers.Concatenate(name=f"fine_skip{level + 1}")([x, fused[level]])
        x = _feature_block(x, widths[level], model_cfg, name=f"fine_dec{level + 1}")
    outputs = segmentation_head(x, len(model_cfg.outputs), name="fine_head")
    return keras.Model(inputs, outputs, name="fine")


def build_models(cfg: GongConfig) -> dict[str, keras.Model]:
    """Both stages of a profile: {"coarse": U-Net on whole slices, "fine": fusion net on crops}."""
    size = cfg.preprocess.size
    crop = cfg.fine_data.crop_size
    return {"coarse": build_coarse(cfg.coarse_model, size), "fine": build_fine(cfg.fine_model, crop)}
