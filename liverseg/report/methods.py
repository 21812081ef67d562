"""Several methods on the same cases: per-case scores as dots per method, one panel per score, the
same case joined by a grey line across methods (which cases are hard for everyone, which for one)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from liverseg.errors import OptionError
from liverseg.report.plots import save_figure


def plot_methods_per_case(per_case: pd.DataFrame, out_png: Path, columns: Sequence[str],
                          method: str = "method", case: str = "case", title: str = "") -> Path:
    """`per_case`: one row per (method, case) with the score `columns`; NaN scores (a method that does
    not segment that structure) are left out of their panel. The mean of each method is a bar."""
    missing = [c for c in (method, case, *columns) if c not in per_case.columns]
    if missing:
        raise OptionError(f"plot_methods_per_case: no column(s) {missing} in the table")
    methods = list(dict.fromkeys(per_case[method].astype(str)))
    fig = Figure(figsize=(max(4.0, 1.1 * len(methods) + 1.0) * len(columns), 3.6), dpi=100, layout="constrained")
    for ax, column in zip(np.atleast_1d(fig.subplots(1, len(columns))), columns):
        wide = per_case.pivot_table(index=case, columns=method, values=column, aggfunc="first", dropna=False)
        wide = wide.reindex(columns=methods)
        x = np.arange(len(methods))
        for _, row in wide.iterrows():
            values = row.to_numpy(dtype=float)
            ax.plot(x, values, color="0.75", lw=0.8, zorder=1)
            ax.scatter(x, values, s=18, zorder=2)
        means = wide.mean(axis=0, skipna=True).to_numpy(dtype=float)
        for xi, m in zip(x, means):
            if np.isfinite(m):
                ax.hlines(m, xi - 0.3, xi + 0.3, color="black", lw=2, zorder=3)
        ax.set_xticks(x, methods, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{column} per case (bar: mean)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_png)


__all__ = ["plot_methods_per_case"]
