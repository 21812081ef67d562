"""Bi's training stages (2.5), one per network of Table 2 that learns: the VGG-FCN baseline, the
ResNet (also the cascade's first level) and the cascade's second level behind the frozen ResNet. The
same slices (half with lesion, half with neither liver nor lesion: `lesion_balanced`), augmentation,
SGD recipe and loss."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from liverseg.errors import InputError
from liverseg.runner.stage import Stage, training_stage

from experiments.bi_cascaded_resnet.config import BiConfig
from experiments.bi_cascaded_resnet.model import LEVEL1, LEVEL2, build_cascade, build_resnet, build_vgg_fcn


def with_weights(model, path: str, part: str = ""):
    """`--set weights=FILE` (a Keras `.weights.h5` of a ResNet-38 built by `build_resnet`, e.g. converted
    ImageNet weights): loaded by layer name into the ResNet (or the sub-model `part`); layers whose
    shapes differ (a stem for three channels, another number of classes) keep He initialisation."""
    if not path:
        return model
    if not Path(path).is_file():
        raise InputError(path, "--set weights: no such file")
    if not path.endswith(".weights.h5"):
        raise InputError(path, "--set weights: expected a Keras .weights.h5 file of a ResNet-38 (build_resnet)")
    (model.get_layer(part) if part else model).load_weights(path, skip_mismatch=True)
    return model


def _stage(cfg: BiConfig, name: str, build, data=None, train=None, init_from=None) -> Stage:
    return training_stage(name, build, train or cfg.train, cfg.net.outputs, (data or cfg.data,), augment=cfg.augment,
                          init_from=init_from)


def vgg_data(cfg: BiConfig):
    """FCN-8s fuses strides 8, 16 and 32: its crops are the largest multiple of 32 in the ResNet's."""
    return replace(cfg.data, crop_size=cfg.data.crop_size // 32 * 32)


def stages(cfg: BiConfig) -> list[Stage]:
    return [
        _stage(cfg, "vgg_fcn", lambda: build_vgg_fcn(cfg), data=vgg_data(cfg), train=cfg.vgg_train),
        # named as the cascade's first level, whose weights it becomes
        _stage(cfg, "resnet", lambda: with_weights(build_resnet(cfg, name=LEVEL1), cfg.weights)),
        # 2.4: the cascade's second level learns from the first ResNet's maps of the training slices
        _stage(cfg, "cascade", lambda: with_weights(build_cascade(cfg), cfg.weights, LEVEL2),
               init_from={LEVEL1: "resnet"}),
    ]
