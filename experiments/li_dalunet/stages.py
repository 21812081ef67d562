"""Li's four training stages, one per network of Table I, on the same slices, augmentation (III-B)
and training settings (III-C: Adagrad, cross-entropy, checkpoint / ReduceLROnPlateau / EarlyStopping)."""
from __future__ import annotations

from liverseg.runner.spec import Stage

from experiments.li_dalunet.config import TABLE_ORDER, LiConfig
from experiments.li_dalunet.model import build_variant, heads


def loss(cfg: LiConfig, variant: str):
    """III-C cross-entropy (binary, per sigmoid channel); with deep supervision (III-D) the same loss on
    every head, weighted by `cfg.net.ds_weights`."""
    from liverseg.nn.deep_supervision import DeepSupervisionLoss
    from liverseg.nn.objectives import make_loss

    n = heads(cfg, variant)
    if n == 1:
        return make_loss(cfg.train.loss)
    return DeepSupervisionLoss(make_loss(cfg.train.loss), cfg.net.ds_weights[:n], channels=len(cfg.outputs))


def _stage(cfg: LiConfig, variant: str) -> Stage:
    from liverseg.nn.objectives import make_metrics

    return Stage(name=variant, build_model=lambda: build_variant(cfg, variant), sources=(cfg.data,), train=cfg.train,
                 loss=lambda: loss(cfg, variant), metrics=lambda: make_metrics(cfg.train.metrics, cfg.outputs),
                 augment=cfg.augment)


def stages(cfg: LiConfig) -> list[Stage]:
    return [_stage(cfg, variant) for variant in TABLE_ORDER]
