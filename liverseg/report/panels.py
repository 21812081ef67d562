"""One CT slice under several methods, side by side: the source, the ground truth, then each method's
labels filled over the CT (liver green, tumour red), with its slice Dice in the title."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from liverseg.errors import OptionError
from liverseg.report.display import radiological, show_ct
from liverseg.report.plots import save_figure

_LABELS = ListedColormap([(0, 0, 0, 0), (0.1, 0.85, 0.2, 0.45), (0.95, 0.1, 0.1, 0.7)])


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * (a & b).sum() / total)


def _show(ax, image: np.ndarray, window) -> None:
    show_ct(ax, image, window)


def plot_side_by_side(ct_slice: np.ndarray, truth: np.ndarray, predictions: Mapping[str, np.ndarray], out_png: Path,
                      title: str = "", window=(-125, 125)) -> Path:
    """CT (X, Y) in grey (HU `window`), the truth and every prediction (labels 0/1/2, same shape) as
    filled overlays, shown radiologically (anterior up, the patient's right on the image left) with
    R / L / A / P markers."""
    ct, truth = np.asarray(ct_slice, dtype=float), np.asarray(truth)
    shapes = {name: np.asarray(p).shape for name, p in predictions.items()}
    if ct.ndim != 2 or truth.shape != ct.shape or any(s != ct.shape for s in shapes.values()):
        raise OptionError(f"plot_side_by_side: slices must be 2-D of one shape: CT {ct.shape}, truth "
                          f"{truth.shape}, predictions {shapes}")
    panels = [("source", None), ("ground truth", truth), *predictions.items()]
    fig = Figure(figsize=(2.6 * len(panels), 3.0), dpi=100, layout="constrained")
    for ax, (name, labels) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels):
        _show(ax, ct, window)
        if labels is None:
            ax.set_title(name, fontsize=9)
            continue
        labels = np.asarray(labels)
        ax.imshow(radiological(labels), cmap=_LABELS, vmin=0, vmax=2, interpolation="nearest")
        if labels is truth:
            ax.set_title(name, fontsize=9)
        else:
            ax.set_title(f"{name}\nliver {_dice(labels >= 1, truth >= 1):.3f}, tumour "
                         f"{_dice(labels == 2, truth == 2):.3f}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_png)


def variants_figure(image: np.ndarray, truth: np.ndarray, preds: Mapping[str, np.ndarray], titles: Mapping[str, str],
                    default: str, out_png: Path, title: str, window) -> tuple[int, Path]:
    """One axial slice of (X, Y, Z) volumes: the CT, the truth and each variant's labels side by side (panel
    titles `titles[variant]`, in that order), at the slice with the most tumour (else liver) in the truth and
    `default`'s prediction. Returns (the slice index, the PNG)."""
    from liverseg.report.plots import pick_slice

    z = pick_slice(truth, preds[default])
    png = plot_side_by_side(image[..., z], truth[..., z], {titles[v]: p[..., z] for v, p in preds.items()}, out_png,
                            title=f"{title}, slice {z}", window=window)
    return int(z), png


__all__ = ["plot_side_by_side", "variants_figure"]
