"""Gong's three training stages: the coarse U-Net, the fine network on crops, and the ablation's
fine network on whole slices (section 3); what each sees and how it trains comes from the config."""
from __future__ import annotations

from dataclasses import replace

from liverseg.runner.stage import Stage, training_stage

from experiments.gong.config import GongConfig


def stages(cfg: GongConfig) -> list[Stage]:
    from liverseg.data.sampling import tumour_mix

    from experiments.gong.model import build_coarse, build_fine

    size, crop = cfg.preprocess.size, cfg.fine_data.crop_size
    fine_targets = cfg.fine_model.outputs
    # 2.1: tumour-containing 256x256 tiles, and crops that contain the liver; plus crops centred on
    # the tumour as the cascade makes them at inference (2.2). CHOICE: equal weights, mixed per sample.
    tiles = cfg.fine_data
    centred = replace(tiles, crop="centred", crop_target="tumour")
    liver = replace(tiles, crop="centred", crop_target="liver", sampling="liver")
    whole = replace(tiles, crop="none", crop_size=0)
    coarse_sources, coarse_weights = tumour_mix(cfg.coarse_data, cfg.coarse_tumour_share)
    return [
        # CHOICE: the coarse U-Net trains without augmentation: it only localises (2.2)
        training_stage("coarse", lambda: build_coarse(cfg.coarse_model, size), cfg.coarse_train,
                       cfg.coarse_model.outputs, coarse_sources, weights=coarse_weights),
        training_stage("fine", lambda: build_fine(cfg.fine_model, crop), cfg.fine_train, fine_targets,
                       [tiles, centred, liver], augment=cfg.augment),
        training_stage("fine_whole", lambda: build_fine(cfg.fine_model, size), cfg.fine_whole_train, fine_targets,
                       [whole], augment=cfg.augment),
    ]
