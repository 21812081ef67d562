"""Figures of Gruber et al. 3.2.1 (PNG, Agg canvas, no display needed): restricted ROC curves
(their Fig. 3.4) and the histogram of the probabilities between 0.01 and 0.99 (Fig. 3.3)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from liverseg.errors import OptionError
from liverseg.report.plots import save_figure


def _curve(name: str, curve) -> tuple[np.ndarray, np.ndarray, float]:
    try:
        fpr, tpr, auc = curve
    except (TypeError, ValueError):
        raise OptionError(f"plot_restricted_roc: curve {name!r} is not a (fpr, tpr, auc) triple") from None
    fpr, tpr = np.asarray(fpr, dtype=float).ravel(), np.asarray(tpr, dtype=float).ravel()
    if fpr.size == 0 or fpr.shape != tpr.shape:
        raise OptionError(f"plot_restricted_roc: curve {name!r} has {fpr.size} fpr and {tpr.size} tpr values")
    return fpr, tpr, float(auc)


def plot_restricted_roc(curves: dict, out_png, title: str = "") -> Path:
    """One ROC line per name from ``{name: (fpr, tpr, auc)}``, legend "name (rAUC 0.88)", and the
    chance diagonal; the rates are those of the pixels with 0.01 < p < 0.99 (`restricted_roc`)."""
    if not curves:
        raise OptionError("plot_restricted_roc: no curves given (expected {name: (fpr, tpr, auc)})")
    checked = {name: _curve(name, curve) for name, curve in curves.items()}
    fig = Figure(figsize=(4.6, 4.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    for name, (fpr, tpr, auc) in checked.items():
        ax.plot(fpr, tpr, label=f"{name} (rAUC {auc:.2f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (0.01 < p < 0.99)")
    ax.set_ylabel("true positive rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, out_png)


def plot_probability_histogram(probs: dict, out_png, low: float = 0.01, high: float = 0.99, bins: int = 50,
                               log: bool = True, title: str = "") -> Path:
    """Per name a step histogram of the probabilities with low < p < high (`bins` equal bins over
    (low, high)); the legend gives each name's pixel count. `log` (default): logarithmic pixel
    axis (the counts near 0 and 1 dwarf the rest)."""
    if not probs:
        raise OptionError("plot_probability_histogram: no probability maps given (expected {name: array})")
    if not low < high or int(bins) < 1:
        raise OptionError(f"plot_probability_histogram: need low < high and bins >= 1, got {low}, {high}, {bins}")
    edges = np.linspace(low, high, int(bins) + 1)
    fig = Figure(figsize=(5.0, 3.4), dpi=100, layout="constrained")
    ax = fig.subplots()
    for name, p in probs.items():
        p = np.asarray(p, dtype=float).ravel()
        kept = p[(p > low) & (p < high)]
        ax.hist(kept, bins=edges, histtype="step", label=f"{name} ({kept.size} pixels)")
    if log:
        ax.set_yscale("log", nonpositive="clip")
    ax.set_xlim(low, high)
    ax.set_xlabel(f"predicted probability p ({low:g} < p < {high:g})")
    ax.set_ylabel("pixels")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, out_png)
