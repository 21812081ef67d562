"""Gruber's evaluation on 2D slices (3.2): the tumour thresholds chosen on the validation slices'
restricted ROC, and Table 1 (pixel accuracy, IoU, Rand index, restricted AUC per class) on the
test slices, with the figures 3.2-3.4.

    thresholds.json                       tumour threshold per chained model (validation slices)
    evaluation/slices/per_image.csv       every model x test slice x class
    evaluation/slices/summary.json        Table 1 rows: means over slices, rAUC over pooled pixels
    figures: restricted_roc.png, tumour_probability_histogram.png, slice_overlay_*.png
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from liverseg.config import DataConfig
from liverseg.data.sampling import cap_slices
from liverseg.io.atomic import atomic_path, atomic_write_json, read_json
from liverseg.io.run_layout import RunDir
from liverseg.runner.data import stage_rows

from experiments.gruber.config import GruberConfig
from experiments.gruber.predict import THRESHOLDS, GruberPredictor, variant_stage
from experiments.gruber.stages import tumour_stage

CLASSES = ("liver", "tumour")


def chained_stages(cfg: GruberConfig) -> list[str]:
    """Models with a U-Net B: B after cross-entropy, B per alpha, and the joint model."""
    return ["tumour", *[tumour_stage(a) for a in cfg.alphas], "joint"]


def table_slices(cache, split: dict, part: str, cfg: GruberConfig) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, S, S), labels (N, S, S)) of at most `cfg.table_slices` tumour slices of the
    split's `part` ("train", "val" or "test"), or of both "val" and "test" for part "table": Table 1
    is scored on "test and validation set" (3.2.2). CHOICE: slices with tumour, so that every slice
    has a tumour IoU and Rand index (the paper's figures all show tumour). With slice blocks (too
    few patients) validation and test are the held-out validation blocks."""
    if part == "table":
        parts = ["val"] if split["mode"] == "slice_blocks" else ["val", "test"]
        pieces = [table_slices(cache, split, p, cfg) for p in parts]
        return np.concatenate([i for i, _ in pieces]), np.concatenate([lab for _, lab in pieces])
    if split["mode"] == "slice_blocks" and part != "train":
        part = "val"
    rows = cap_slices(stage_rows(cache, split, part, DataConfig(sampling="tumour"), cfg.seed), cfg.table_slices,
                      cfg.seed)
    images = np.stack([cache.image(c)[k] for c, k in zip(rows.case_id, rows.slice_index)]).astype(np.float32)
    labels = np.stack([cache.label(c)[k] for c, k in zip(rows.case_id, rows.slice_index)])
    return images, labels


def calibrate(ctx) -> None:
    """3.2.1: per chained model, the tumour threshold from the validation slices' restricted ROC."""
    cache, cfg, split, run_dir = ctx.cache, ctx.cfg, ctx.split, ctx.run_dir
    from liverseg.evaluation import youden_threshold

    path = RunDir(run_dir).calibration(THRESHOLDS)
    if path.is_file():
        return
    images, labels = table_slices(cache, split, "val", cfg)
    thresholds = {}
    # every chained model the run trained (`liverseg compare` trains the default variant's only)
    for stage in [s for s in chained_stages(cfg) if RunDir(run_dir).checkpoint(s).is_file()]:
        probs = GruberPredictor.from_stage(run_dir, cfg, stage).probabilities(images)
        thresholds[stage] = youden_threshold(probs[..., 1], labels == 2)
    atomic_write_json(path, {"criterion": cfg.tumour_threshold, "slices": len(images), **thresholds})
    print("tumour thresholds (Youden's J on validation slices): "
          + ", ".join(f"{k} {v:.3f}" for k, v in thresholds.items()), flush=True)


def class_probabilities(stage: str, probs: np.ndarray) -> dict[str, np.ndarray]:
    """Per class the probability map: one-step liver = p(tumour) + p(liver) (2.1)."""
    if stage.startswith("onestep"):
        return {"liver": probs[..., 0] + probs[..., 1], "tumour": probs[..., 0]}
    return {"liver": probs[..., 0], "tumour": probs[..., 1]}


def score_model(stage: str, predictor: GruberPredictor, images, labels) -> tuple[dict, list[dict], dict]:
    """(Table 1 values per class, per-image rows, class probabilities) of one model on the slices."""
    from liverseg.evaluation import binary_pixel_metrics, restricted_auc

    probs = predictor.probabilities(images)
    pred = predictor.labels(probs)
    maps = class_probabilities(stage, probs)
    rows, table = [], {}
    for name, fg in (("liver", lambda a: a >= 1), ("tumour", lambda a: a == 2)):
        per_image = [binary_pixel_metrics(fg(p), fg(t)) for p, t in zip(pred, labels)]
        rows += [{"model": stage, "class": name, "slice": i, **m} for i, m in enumerate(per_image)]
        means = pd.DataFrame(per_image).mean().to_dict()
        table[name] = {**means, "rauc": restricted_auc(maps[name], fg(labels))}
    return table, rows, maps


def training_fit(cache, cfg: GruberConfig, split: dict, predictor: GruberPredictor) -> float:
    """Tumour IoU (p >= 0.5, mean over slices) of the default sequential model on training tumour
    slices: how well the tumour path (mask, window, B, eq. 2.2) fits what it saw. Not a result
    (the test slices are); a regression guard for profiles too short to generalise (the smoke
    profile's tumours are a few pixels at 64 px), independent of the calibrated threshold."""
    images, labels = table_slices(cache, split, "train", cfg)
    table, _, _ = score_model(variant_stage(cfg, "sequential"), predictor.with_threshold(0.5), images, labels)
    return table["tumour"]["iou"]


def extra_evaluation(ctx) -> tuple[dict, list[Path]]:
    """Table 1 on the test and validation slices (3.2.2), and the figures; the default models' values
    as `scores`."""
    cache, cfg, split, run_dir = ctx.cache, ctx.cfg, ctx.split, ctx.run_dir
    from experiments.gruber.figures import slice_figures

    out = RunDir(run_dir).evaluation("slices")
    images, labels = table_slices(cache, split, "table", cfg)
    thresholds = read_json(RunDir(run_dir).calibration(THRESHOLDS))
    default = variant_stage(cfg, "sequential")
    table, rows, maps = {}, [], {}
    for stage in ["onestep", "onestep_balanced", *chained_stages(cfg)]:
        predictor = GruberPredictor.from_stage(run_dir, cfg, stage, thresholds.get(stage, 0.5))
        table[stage], stage_rows_, maps[stage] = score_model(stage, predictor, images, labels)
        rows += stage_rows_
        if stage == default:
            fit = training_fit(cache, cfg, split, predictor)
    out.mkdir(parents=True, exist_ok=True)
    per_image = pd.DataFrame(rows)
    with atomic_path(out / "per_image.csv") as tmp:
        per_image.to_csv(tmp, index=False)
    scores = {f"slice_{c}_{m}": table[default][c][m] for c in CLASSES for m in ("iou", "rand_index")}
    summary = {"slices": len(images), "rows": table, "thresholds": thresholds,
               "scores": {**scores, "train_slice_tumour_iou": fit}}
    atomic_write_json(RunDir(run_dir).summary("slices"), summary)
    figures = slice_figures(cfg, run_dir, images, labels, maps, per_image, thresholds)
    return summary, figures
