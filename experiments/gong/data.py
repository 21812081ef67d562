"""Gong 3: which patients, how they are split, and the tf.data inputs of both stages."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from liverseg.data.cache import SliceCache
from liverseg.data.pipeline import make_dataset, select_slices
from liverseg.data.splits import split_patients

from experiments.gong.config import GongConfig

# Below this many tumour patients a patient-level train/val/test split is impossible; all patients
# train, validation uses held-out slices and the test cases are the training cases (said in the report).
MIN_PATIENTS_FOR_SPLIT = 3


def case_table(cache: SliceCache) -> pd.DataFrame:
    """Per case: tumour volume in mm^3 (in the cache's grid, scaled back to the original spacing)."""
    m = cache.manifest
    size = int(cache.recipe["preprocess"]["size"])
    rows = []
    for case_id, g in m.groupby("case_id", sort=False):
        shape = cache.meta(case_id)["original_shape"]
        voxel = float(g.spacing_x.iloc[0] * g.spacing_y.iloc[0] * g.spacing_z.iloc[0])
        scale = shape[0] * shape[1] / float(size * size)
        rows.append(dict(case_id=case_id, patient_id=str(g.patient_id.iloc[0]),
                         tumour_mm3=float(g.tumour_pixels.sum()) * voxel * scale,
                         liver_slices=int((g.liver_pixels > 0).sum())))
    return pd.DataFrame(rows)


def choose_split(cache: SliceCache, cfg: GongConfig, seed: int) -> dict:
    """3: tumour patients only, large:small tumour burden 1:1, train/test by patient, val from train.

    CHOICE: "large" = tumour volume above the median of the tumour patients (the paper gives no
    threshold); the strata are balanced by `split_patients(stratify=...)`.
    """
    table = case_table(cache)
    tumour = table[table.tumour_mm3 > 0]
    if len(tumour) < MIN_PATIENTS_FOR_SPLIT:
        cases = list(tumour.case_id) or list(table.case_id)
        return {"mode": "slices", "train": cases, "val": cases, "test": cases,
                "note": f"only {len(cases)} tumour patient(s): all train; validation on held-out slices; "
                        "test cases were seen in training"}
    median = tumour.tumour_mm3.median()
    size_class = {c: ("large" if v > median else "small") for c, v in zip(tumour.case_id, tumour.tumour_mm3)}
    wanted = cfg.train_patients + cfg.test_patients
    n = min(wanted, len(tumour))
    test_fraction = cfg.test_patients / wanted
    parts = split_patients(list(tumour.case_id), val_fraction=0.0, test_fraction=test_fraction, seed=seed,
                           stratify=size_class)
    train, test = parts["train"], parts["test"]
    n_test = max(1, round(n * test_fraction))
    train, test = train[: n - n_test], test[:n_test]
    inner = split_patients(train, val_fraction=cfg.coarse_data.val_fraction, test_fraction=0.0, seed=seed,
                           stratify=size_class)
    return {"mode": "patients", "train": inner["train"], "val": inner["val"], "test": test,
            "size_class": size_class, "note": ""}


def _slices(cache, cases, data_cfg, seed, split, part):
    if split["mode"] == "slices":
        # Held-out contiguous blocks of slices per case (every 5th block of 8) validate the run.
        table = select_slices(cache.manifest, cases, data_cfg, seed)
        block = (table.slice_index // 8) % 5 == 4
        return table[block] if part == "val" else table[~block]
    return select_slices(cache.manifest, cases, data_cfg, seed)


def stage_datasets(cache: SliceCache, cfg: GongConfig, split: dict, stage: str, seed: int):
    """(train_ds, val_ds, steps_per_epoch, validation_steps) of a stage: coarse, fine or fine_whole."""
    if stage == "coarse":
        sources, augment = [cfg.coarse_data], None
    elif stage == "fine":
        # 2.1: tumour-containing 256x256 tiles, and crops that contain the liver; plus crops centred
        # on the tumour as the cascade makes them at inference (2.2). CHOICE: equal weights.
        tiles = cfg.fine_data
        centred = replace(tiles, crop="centred", crop_target="tumour")
        liver = replace(tiles, crop="centred", crop_target="liver", sampling="liver")
        sources, augment = [tiles, centred, liver], cfg.augment
    elif stage == "fine_whole":
        sources, augment = [replace(cfg.fine_data, crop="none", crop_size=0)], cfg.augment
    else:
        raise ValueError(stage)
    batch, single = sources[0].batch_size, len(sources) == 1
    train_sets, val_sets, n_train, n_val = [], [], 0, 0
    for i, data_cfg in enumerate(sources):
        train_rows = _slices(cache, split["train"], data_cfg, seed, split, "train")
        val_rows = _slices(cache, split["val"], data_cfg, seed, split, "val")
        n_train += len(train_rows)
        n_val += len(val_rows)
        # Several sources are mixed sample by sample, then batched: batches drawn whole from one
        # source would give BatchNorm per-source batch statistics that its moving averages (used
        # at inference) cannot match.
        source_cfg = data_cfg if single else replace(data_cfg, batch_size=1)
        ds = make_dataset(cache, train_rows, source_cfg, augment=augment, training=True, seed=seed + i, repeat=True)
        train_sets.append(ds if single else ds.unbatch())
        val_sets.append(make_dataset(cache, val_rows, data_cfg, training=False, seed=seed))
    if n_train == 0 or n_val == 0:
        raise RuntimeError(f"stage {stage}: no training or validation slices (train {n_train}, val {n_val})")
    train_ds = train_sets[0]
    if not single:
        import tensorflow as tf

        weights = [1.0 / len(train_sets)] * len(train_sets)
        train_ds = (tf.data.Dataset.sample_from_datasets(train_sets, weights=weights, seed=seed)
                    .batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    val_ds = val_sets[0]
    for other in val_sets[1:]:
        val_ds = val_ds.concatenate(other)
    steps = max(1, math.ceil(n_train / len(sources) / batch))
    return train_ds, val_ds, steps, None


def tumour_size_classes(split: dict) -> dict[str, int]:
    classes = split.get("size_class", {})
    return {k: int(np.sum([v == k for v in classes.values()])) for k in ("large", "small")}
