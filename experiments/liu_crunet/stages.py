"""Liu's training stages (III-B), one per network of Table I that we train: the U-Net baseline, R-U-Net
(level 1, also the first level of cascades a, b and d), the cascades' second levels behind the frozen
level 1, and the Dice-loss pair of ablation c (its own level 1 and level 2)."""
from __future__ import annotations

from dataclasses import replace

from liverseg.runner.stage import Stage, training_stage

from experiments.liu_crunet.config import LiuConfig
from experiments.liu_crunet.model import LEVEL1, build_cascade, build_runet, build_unet_baseline

TARGETS = ("liver",)


def make_loss(cfg: LiuConfig, name: str):
    """A name of `liverseg.nn.objectives`, the same loss there and here: II-B's "mdice" (eq. 4) with
    this config's alpha (FP), beta (FN) and eps, "dice_squared" (eq. 1, Milletari's squared
    denominator), "bce" (the U-Net's cross-entropy)."""
    from liverseg.nn.losses import MDiceLoss
    from liverseg.nn.objectives import make_loss as named

    if name == "mdice":
        return MDiceLoss(alpha=cfg.mdice_alpha, beta=cfg.mdice_beta, smooth=cfg.mdice_eps)
    return named(name)


def _stage(cfg: LiuConfig, name: str, build, train, init_from=None) -> Stage:
    return training_stage(name, build, train, TARGETS, (cfg.data,), loss=lambda: make_loss(cfg, train.loss),
                          init_from=init_from)


def stages(cfg: LiuConfig) -> list[Stage]:
    n1, n2 = cfg.net.level1_blocks, cfg.net.level2_blocks
    dice = replace(cfg.train, loss="dice_squared")
    return [
        _stage(cfg, "unet", lambda: build_unet_baseline(cfg), cfg.unet_train),
        _stage(cfg, "runet", lambda: build_runet(cfg, n1), cfg.train),
        # Table I a: two levels of the same depth
        _stage(cfg, "crunet_a", lambda: build_cascade(cfg, n1, True, "crunet_a"), cfg.train, {LEVEL1: "runet"}),
        # Table I b: without the intermediate processing (level 2 sees the thresholded level-1 mask)
        _stage(cfg, "crunet_b", lambda: build_cascade(cfg, n2, False, "crunet_b"), cfg.train, {LEVEL1: "runet"}),
        # Table I c: CR-U-Net trained with the Dice loss, both levels
        _stage(cfg, "runet_dice", lambda: build_runet(cfg, n1), dice),
        _stage(cfg, "crunet_c", lambda: build_cascade(cfg, n2, True, "crunet_c"), dice, {LEVEL1: "runet_dice"}),
        # Table I d: the method, MDice
        _stage(cfg, "crunet_d", lambda: build_cascade(cfg, n2, True, "crunet_d"), cfg.train, {LEVEL1: "runet"}),
    ]
