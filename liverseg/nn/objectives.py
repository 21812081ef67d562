"""Losses and metrics by name, so that a paper's config names them (`TrainConfig.loss` / `.metrics`).

Losses: dice_bce (Dice + binary cross-entropy), dice, mdice (Liu et al. 1 - Dice x Tversky),
tversky, bce (binary cross-entropy), balanced_bce (per-image balanced weights).
Metrics, over the model's target channels (`targets`, e.g. ("liver", "tumour")):
dice / soft_dice / iou over every channel together; `<target>_dice` / `<target>_soft_dice` for one
channel. "soft" = on probabilities (no threshold), which moves from the first epoch on small
validation sets where a thresholded Dice stays at 0.
"""
from __future__ import annotations

from collections.abc import Sequence

from liverseg.errors import OptionError
from liverseg.nn import losses
from liverseg.nn.metrics import DiceCoefficient, IoUScore

LOSSES = {
    "dice_bce": losses.DiceBCELoss,
    "dice": losses.DiceLoss,
    # Milletari et al. 2016 (V-Net): squared denominator, eps 1e-5 (also Liu et al. eq. 1)
    "dice_squared": lambda: losses.DiceLoss(squared=True, smooth=1e-5),
    "mdice": losses.MDiceLoss,
    "tversky": losses.TverskyLoss,
    "bce": losses.BalancedCrossentropy,
    "balanced_bce": lambda: losses.BalancedCrossentropy(per_image=True),
}


def make_loss(name: str):
    """A fresh loss object for a `TrainConfig.loss` name."""
    if name not in LOSSES:
        raise OptionError(f"train.loss={name!r}: choose one of {', '.join(sorted(LOSSES))}")
    return LOSSES[name]()


def _metric(name: str, targets: Sequence[str]):
    base = {"dice": (DiceCoefficient, 0.5), "soft_dice": (DiceCoefficient, None), "iou": (IoUScore, 0.5)}
    if name in base:
        cls, threshold = base[name]
        return cls(threshold=threshold, name=name)
    for target in targets:
        for kind, threshold in (("_soft_dice", None), ("_dice", 0.5)):
            if name == f"{target}{kind}":
                return DiceCoefficient(channel=list(targets).index(target), threshold=threshold, name=name)
    per_target = [f"{t}{k}" for t in targets for k in ("_dice", "_soft_dice")]
    raise OptionError(f"train.metrics: unknown metric {name!r}; choose from {', '.join([*base, *per_target])}")


def make_metrics(names: Sequence[str], targets: Sequence[str]) -> list:
    """Fresh metric objects for `TrainConfig.metrics` on a model whose channels are `targets`."""
    return [_metric(n, tuple(targets)) for n in names]


__all__ = ["LOSSES", "make_loss", "make_metrics"]
