"""The figures a reader of Gruber et al. expects, from Table 1's slices (test and validation): the restricted ROC curves
of the alpha sweep (Fig. 3.4), the histogram of tumour probabilities in (0.01, 0.99) (Fig. 3.3),
and liver / tumour overlays on test slices (Fig. 3.2)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from liverseg.io.run_layout import RunDir

from experiments.gruber.config import GruberConfig, alpha_name
from experiments.gruber.predict import chain_labels, variant_stage
from experiments.gruber.stages import tumour_stage


def _curve_names(cfg: GruberConfig) -> dict[str, str]:
    names = {tumour_stage(a): f"alpha {alpha_name(a)}" for a in cfg.alphas}
    return {**names, "joint": "joint loss (2.1)"}


def roc_figures(cfg: GruberConfig, run_dir: Path, labels: np.ndarray, maps: dict) -> list[Path]:
    from liverseg.evaluation import restricted_auc, restricted_roc
    from liverseg.report.roc import plot_probability_histogram, plot_restricted_roc

    truth = labels == 2
    curves, probs = {}, {}
    for stage, name in _curve_names(cfg).items():
        tumour = maps[stage]["tumour"]
        auc = restricted_auc(tumour, truth)
        if np.isfinite(auc):
            fpr, tpr, _ = restricted_roc(tumour, truth)
            curves[name] = (fpr, tpr, auc)
        probs[name] = tumour
    out = []
    if curves:
        out.append(plot_restricted_roc(curves, RunDir(run_dir).figure("restricted_roc"),
                                       title="Tumour, test and validation slices: restricted ROC (Fig. 3.4)"))
    out.append(plot_probability_histogram(probs, RunDir(run_dir).figure("tumour_probability_histogram")))
    return out


def overlay_figures(cfg: GruberConfig, run_dir: Path, images, labels, maps: dict, per_image: pd.DataFrame,
                    thresholds: dict) -> list[Path]:
    """Best, median and worst test slice by tumour IoU of the default sequential model."""
    from liverseg.report.plots import plot_overlay

    stage = variant_stage(cfg, "sequential")
    pred = chain_labels(maps[stage]["liver"], maps[stage]["tumour"], cfg.liver_threshold, thresholds.get(stage, 0.5))
    iou = per_image[(per_image.model == stage) & (per_image["class"] == "tumour")].sort_values("iou", kind="stable")
    order = list(iou["slice"])
    picks = {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}
    return [plot_overlay(images[i], labels[i], pred[i], run_dir / f"slice_overlay_{name}.png",
                         title=f"{name} test slice {i}, variant sequential ({stage}): tumour IoU {iou.set_index('slice').loc[i, 'iou']:.3f}",
                         window=(0.0, 1.0))
            for name, i in picks.items()]


def slice_figures(cfg, run_dir: Path, images, labels, maps, per_image, thresholds) -> list[Path]:
    return [*roc_figures(cfg, run_dir, labels, maps),
            *overlay_figures(cfg, run_dir, images, labels, maps, per_image, thresholds)]
