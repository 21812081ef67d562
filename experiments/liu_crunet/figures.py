"""Liu's figures: per-case boxes of Dice and ASSD for every variant, and Fig. 3-style overlays (the
ground truth filled, each variant's liver contour) on two test slices."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from liverseg.io.run_layout import RunDir

from experiments.liu_crunet.config import TABLE_ORDER, VARIANT_TITLES, VARIANTS, LiuConfig


def per_case_boxes(run_dir: Path) -> Path:
    from matplotlib.figure import Figure

    from liverseg.report.plots import save_figure
    from liverseg.runner.predictions import per_case_table

    tables = {v: per_case_table(run_dir, v) for v in TABLE_ORDER}
    fig = Figure(figsize=(11, 4), dpi=100, layout="constrained")
    for ax, column, label in zip(fig.subplots(1, 2), ("liver_dice", "liver_assd"), ("Dice", "ASSD (mm)")):
        values = [pd.to_numeric(tables[v][column], errors="coerce").replace(np.inf, np.nan).dropna() for v in TABLE_ORDER]
        ax.boxplot(values, tick_labels=[v.replace("crunet_", "CR ") for v in TABLE_ORDER], showmeans=True)
        ax.set_title(f"liver {label} per test patient", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    return save_figure(fig, RunDir(run_dir).figure("per_case_boxes"))


def contour_overlays(cache, split: dict, run_dir: Path, cfg: LiuConfig, slices: int = 2) -> list[Path]:
    """Fig. 3: on the first test patient's slices with the most liver (two, far apart), the truth filled
    green and each variant's contour in its colour."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from liverseg.io.volumes import read_volume
    from liverseg.report.plots import save_figure
    from liverseg.runner.data import read_source_case
    from liverseg.runner.predictions import prediction_path

    case_id = split["test"][0]
    case = read_source_case(cache, case_id)
    truth = np.asarray(case.label.array) >= 1
    preds = {v: np.asarray(read_volume(prediction_path(run_dir, v, case_id), kind="label").array) >= 1
             for v in TABLE_ORDER}
    area = truth.sum(axis=(0, 1))
    order = np.argsort(-area, kind="stable")
    picks = [int(order[0])] + [int(z) for z in order if abs(int(z) - int(order[0])) > 5][:slices - 1]
    colours = dict(zip(TABLE_ORDER, ("tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "red")))
    lo, hi = cfg.preprocess.window
    fig = Figure(figsize=(5.2 * len(picks), 5.4), dpi=100, layout="constrained")
    for ax, z in zip(np.atleast_1d(fig.subplots(1, len(picks))), picks):
        ax.imshow(np.clip(case.image.array[..., z], lo, hi).T[::-1, ::-1], cmap="gray", vmin=lo, vmax=hi)
        ax.imshow(np.ma.masked_where(~truth[..., z].T[::-1, ::-1], truth[..., z].T[::-1, ::-1]), cmap="Greens",
                  alpha=0.45, vmin=0, vmax=1)
        for v in TABLE_ORDER:
            shown = preds[v][..., z].T[::-1, ::-1].astype(float)
            if shown.max() > shown.min():
                ax.contour(shown, levels=[0.5], colors=colours[v], linewidths=1.0)
        ax.set_title(f"test patient {case_id}, slice {z}", fontsize=9)
        ax.set_axis_off()
    handles = [Line2D([], [], color=colours[v], label=VARIANT_TITLES[v]) for v in TABLE_ORDER]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=7)
    return [save_figure(fig, RunDir(run_dir).figure("fig3_contours"))]


def mean_abs_rvd(run_dir: Path, variants) -> dict[str, float]:
    """Mean |RVD| over the test patients per variant: Table I's RVD values are all positive, so they
    read as magnitudes; the signed mean lets over- and under-segmentation cancel."""
    from liverseg.runner.predictions import per_case_table

    out = {}
    for v in variants:
        rvd = pd.to_numeric(per_case_table(run_dir, v)["liver_rvd"], errors="coerce").abs()
        out[v] = float(rvd.mean())
    return out


def extra_evaluation(ctx) -> tuple[dict, list[Path]]:
    cache, cfg, split, run_dir = ctx.cache, ctx.cfg, ctx.split, ctx.run_dir
    images = [per_case_boxes(run_dir), *contour_overlays(cache, split, run_dir, cfg)]
    return {"liver_rvd_abs": mean_abs_rvd(run_dir, VARIANTS)}, images
