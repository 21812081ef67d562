"""Li's four training stages, one per network of Table I, on the same slices, augmentation (III-B)
and training settings (III-C: Adagrad, cross-entropy, checkpoint / ReduceLROnPlateau / EarlyStopping)."""
from __future__ import annotations

from liverseg.runner.stage import Stage, training_stage

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


def stages(cfg: LiConfig) -> list[Stage]:
    return [training_stage(v, lambda v=v: build_variant(cfg, v), cfg.train, cfg.outputs, (cfg.data,),
                           loss=lambda v=v: loss(cfg, v), augment=cfg.augment) for v in TABLE_ORDER]
