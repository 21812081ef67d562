"""Plots of a run: training curves, per-case Dice bars and CT overlays (PNG, no display needed).

Figures are built on `matplotlib.figure.Figure` with the Agg canvas, so nothing here touches
pyplot's global state or needs a display; every PNG is written to a temporary name and renamed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from liverseg.io.atomic import atomic_path
from liverseg.io.run_layout import StagePaths
from liverseg.errors import InputError, OptionError
from liverseg.report.display import contour, show_ct

TRUTH_COLOUR, PRED_COLOUR = "lime", "red"


def save_figure(fig: Figure, out_png) -> Path:
    """Write `fig` as PNG atomically (temporary file in the same folder, then rename)."""
    out = Path(out_png)
    FigureCanvasAgg(fig)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi)
    return out


def _read_history(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(path, "history file not found")
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable CSV ({exc.__class__.__name__})") from None
    if "epoch" not in df.columns:
        raise InputError(path, "no 'epoch' column (expected a Keras CSVLogger history)")
    if df.empty:
        raise InputError(path, "history has no rows")
    return df


def history_panels(columns: Sequence[str]) -> list[str]:
    """Base names to plot, loss first: `val_x` joins `x`; `epoch` is the x axis."""
    bases = []
    for col in columns:
        if col == "epoch":
            continue
        base = col[4:] if col.startswith("val_") else col
        if base not in bases:
            bases.append(base)
    return sorted(bases, key=lambda b: (b != "loss", bases.index(b)))


def _stage_name(path: Path) -> str:
    """`run/coarse/history.csv` -> "coarse"; any other file name -> its stem."""
    return path.parent.name if path.stem == "history" and path.parent.name else path.stem


def best_epoch(history: pd.DataFrame, history_csv: Path) -> tuple[int, str] | None:
    """(row index, monitored column) of the best checkpoint: the monitor and mode of the stage's
    done.json beside `history_csv`; None when there is none or it names no column."""
    import json

    folder = Path(history_csv).parent
    done = StagePaths(folder.name, folder).done
    try:
        record = json.loads(done.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    monitor, mode = record.get("monitor"), record.get("mode", "min")
    if monitor not in history.columns:
        return None
    values = pd.to_numeric(history[monitor], errors="coerce")
    if values.isna().all():
        return None
    return int(values.idxmax() if mode == "max" else values.idxmin()), monitor


def plot_history(history_csv: Path | list[Path], out_png: Path, title: str = "") -> Path:
    """Loss and every metric vs epoch, counted from 1 (training solid, validation dashed); one row
    per stage; the epoch of the best checkpoint (the stage's monitor) marked by a dotted line."""
    paths = [Path(p) for p in (history_csv if isinstance(history_csv, (list, tuple)) else [history_csv])]
    if not paths:
        raise OptionError("plot_history: no history files given")
    frames = [_read_history(p) for p in paths]
    panels = [history_panels(df.columns) for df in frames]
    ncols = max(len(p) for p in panels) or 1
    fig = Figure(figsize=(3.6 * ncols, 2.8 * len(frames)), dpi=100, layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(frames), ncols, squeeze=False))
    for row, (path, df, names) in enumerate(zip(paths, frames, panels)):
        for col in range(ncols):
            ax = axes[row, col]
            if col >= len(names):
                ax.set_axis_off()
                continue
            name = names[col]
            epochs = pd.to_numeric(df["epoch"], errors="coerce") + 1  # Keras counts epochs from 0
            for key, style in ((name, "-"), (f"val_{name}", "--")):
                if key in df.columns:
                    ax.plot(epochs, pd.to_numeric(df[key], errors="coerce"), style, marker=".", label=key)
            best = best_epoch(df, path)
            if best is not None:
                ax.axvline(epochs.iloc[best[0]], color="grey", ls=":", lw=1.2,
                           label=f"best checkpoint (epoch {int(epochs.iloc[best[0]])}, {best[1]})")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_title(f"{_stage_name(path)}: {name}" if len(frames) > 1 else name, fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_png)


def plot_per_case_dice(per_case: pd.DataFrame, out_png: Path, columns=("liver_dice", "tumour_dice")) -> Path:
    """Grouped bars of the given score columns per case (`case` column); NaN shows as an empty slot."""
    cols = [c for c in columns if c in per_case.columns]
    if not cols:
        raise OptionError(f"plot_per_case_dice: none of the columns {list(columns)} in the table")
    cases = per_case["case"].astype(str).tolist() if "case" in per_case.columns else [str(i) for i in per_case.index]
    n = len(cases)
    fig = Figure(figsize=(max(4.0, 0.45 * n * len(cols) + 1.5), 3.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(cols)
    x = np.arange(n)
    for i, col in enumerate(cols):
        values = pd.to_numeric(per_case[col], errors="coerce").to_numpy(dtype=float)
        ax.bar(x + (i - (len(cols) - 1) / 2) * width, np.nan_to_num(values, nan=0.0), width, label=col)
    ax.set_xticks(x, cases, rotation=90 if n > 12 else 0, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("case")
    ax.set_ylabel("Dice")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, out_png)


def _contours(ax, mask2d: np.ndarray, colour: str, style: str) -> bool:
    return contour(ax, mask2d, colour, style)


def plot_overlay(ct_slice: np.ndarray, truth: np.ndarray, pred: np.ndarray, out_png: Path, title: str = "",
                 window=(-100, 200)) -> Path:
    """CT slice (X, Y) in grey, HU windowed, with liver (solid) and tumour (dashed) contours of the
    truth (green) and the prediction (red). Shown radiologically for RAS axes: anterior up, the
    patient's right on the image left, with R / L / A / P markers (`liverseg.report.display`)."""
    ct = np.asarray(ct_slice, dtype=float)
    truth, pred = np.asarray(truth), np.asarray(pred)
    if ct.ndim != 2 or truth.shape != ct.shape or pred.shape != ct.shape:
        raise OptionError(f"plot_overlay: slice shapes differ or are not 2-D: {ct.shape}, {truth.shape}, {pred.shape}")
    lo, hi = window
    fig = Figure(figsize=(5, 5.3), dpi=100, layout="constrained")
    ax = fig.subplots()
    show_ct(ax, ct, (lo, hi))
    for mask, colour in ((truth, TRUTH_COLOUR), (pred, PRED_COLOUR)):
        _contours(ax, mask >= 1, colour, "solid")
        _contours(ax, mask == 2, colour, "dashed")
    handles = [Line2D([], [], color=TRUTH_COLOUR, label="truth liver"),
               Line2D([], [], color=TRUTH_COLOUR, ls="--", label="truth tumour"),
               Line2D([], [], color=PRED_COLOUR, label="pred liver"),
               Line2D([], [], color=PRED_COLOUR, ls="--", label="pred tumour")]
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.6)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, out_png)


def pick_slice(truth: np.ndarray, pred: np.ndarray) -> int:
    """Axial index (last axis) with the most tumour voxels in truth plus prediction; without any
    tumour the one with the most liver; without either the middle slice. Ties: lowest index."""
    truth, pred = np.asarray(truth), np.asarray(pred)
    axes = tuple(range(truth.ndim - 1))
    for fg in (lambda a: a == 2, lambda a: a >= 1):
        score = fg(truth).sum(axis=axes) + fg(pred).sum(axis=axes)
        if score.max() > 0:
            return int(np.argmax(score))
    return truth.shape[-1] // 2
