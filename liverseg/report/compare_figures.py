"""Figures of a method comparison's statistics (`liverseg.evaluation.paired_stats.compare_statistics`).

- `plot_rank_stability`: per metric, each method's share of bootstrap resamples at rank 1, 2, ...
  (stacked bars; a method that holds its rank in every resample is one colour);
- `plot_significance_map`: per metric, a method x method matrix of the paired mean difference (row
  minus column, coloured by which one is better), with the Holm-corrected Wilcoxon p in each cell and
  a frame around the pairs that differ at alpha.

Agg canvas only (`liverseg.report.plots.save_figure`), written atomically.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from liverseg.report.plots import save_figure


def _shown(statistics: dict, key: str) -> list[tuple[str, dict]]:
    return [(column, entry) for column, entry in statistics["metrics"].items() if entry.get(key)]


def _empty(fig: Figure, text: str) -> None:
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)


def plot_rank_stability(statistics: dict, out_png) -> Path:
    """One panel per metric with a ranking: stacked bars of rank frequencies over bootstrap resamples."""
    metrics = [(c, e) for c, e in _shown(statistics, "ranks") if e["ranks"].get("frequency")]
    methods = statistics["methods"]
    fig = Figure(figsize=(max(4.0, 0.9 * len(methods) + 1.5) * max(1, len(metrics)), 3.8), dpi=100,
                 layout="constrained")
    if not metrics:
        _empty(fig, "no metric with at least 2 common cases and 2 methods: no ranking")
        return save_figure(fig, out_png)
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    colours = [f"C{i}" for i in range(len(methods))]
    for ax, (column, entry) in zip(axes, metrics):
        ranks = entry["ranks"]
        shown = list(ranks["frequency"])
        x = np.arange(len(shown))
        bottom = np.zeros(len(shown))
        for r in range(len(shown)):
            share = np.array([ranks["frequency"][m][r] for m in shown])
            ax.bar(x, share, bottom=bottom, color=colours[r % len(colours)], label=f"rank {r + 1}", width=0.7)
            bottom += share
        for xi, m in zip(x, shown):
            ax.text(xi, 1.02, f"obs. {ranks['observed'][m]}", ha="center", fontsize=7)
        ax.set_xticks(x, shown, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("share of bootstrap resamples", fontsize=8)
        ax.set_title(f"{entry['label']} ({ranks['n']} cases)\nsame order in {ranks['same_order']:.0%}", fontsize=9)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(f"rank of each method over {statistics['rank_resamples']} bootstrap resamples of the cases "
                 "(1 = best)", fontsize=10)
    return save_figure(fig, out_png)


def plot_significance_map(statistics: dict, out_png) -> Path:
    """One panel per metric: paired mean difference row - column, Holm-corrected p, framed when < alpha."""
    metrics = _shown(statistics, "pairs")
    fig_w = max(4.0, 0.8 * len(statistics["methods"]) + 2.0)
    fig = Figure(figsize=(fig_w * max(1, len(metrics)), fig_w * 0.85), dpi=100, layout="constrained")
    if not metrics:
        _empty(fig, "fewer than two methods per metric: no pair to test")
        return save_figure(fig, out_png)
    alpha = statistics["alpha"]
    for ax, (column, entry) in zip(np.atleast_1d(fig.subplots(1, len(metrics))), metrics):
        names = list(entry["per_method"])
        k = len(names)
        diff = np.full((k, k), np.nan)
        cells = {}
        for row in entry["pairs"]:
            i, j = names.index(row["a"]), names.index(row["b"])
            d = row["mean_difference"]
            sign = 1.0 if entry["higher_is_better"] else -1.0
            diff[i, j], diff[j, i] = sign * d, -sign * d
            cells[(i, j)] = cells[(j, i)] = row
        scale = np.nanmax(np.abs(diff)) if np.isfinite(diff).any() and np.nanmax(np.abs(diff)) > 0 else 1.0
        image = ax.imshow(diff, cmap="RdBu", vmin=-scale, vmax=scale)
        for (i, j), row in cells.items():
            p = row["p_holm"]
            text = "n<2" if not math.isfinite(p) else f"{row['mean_difference'] if i < j else -row['mean_difference']:+.3g}\np={p:.2g}"
            dark = math.isfinite(diff[i, j]) and abs(diff[i, j]) > 0.6 * scale
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="white" if dark else "black")
            if row["significant"]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2.0, ec="black"))
        ax.set_xticks(range(k), names, rotation=30, ha="right", fontsize=7)
        ax.set_yticks(range(k), names, fontsize=7)
        ax.set_title(f"{entry['label']}: row - column\nHolm p; framed: p < {alpha}", fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.7, label="blue: row better")
    fig.suptitle("paired differences and Wilcoxon signed-rank tests (Holm-corrected across pairs)", fontsize=10)
    return save_figure(fig, out_png)


__all__ = ["plot_rank_stability", "plot_significance_map"]
