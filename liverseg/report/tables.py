"""Run reports: `report.md` (paper numbers beside ours), `metrics.json` and best / median / worst
case overlays. Every file is written atomically (temporary name in the same folder, then rename).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from liverseg.io.atomic import atomic_write_text
from liverseg.errors import OptionError
from liverseg.report.plots import pick_slice, plot_overlay

MISSING = "—"
OVERLAYS = ("best", "median", "worst")


def format_value(value) -> str:
    """Table cell: floats to 3 decimals, NaN / None / missing as an em dash, anything else as text."""
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return MISSING if not math.isfinite(float(value)) else f"{float(value):.4f}"
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if text else MISSING


def _columns(rows: Iterable[dict]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        for key in row:
            if key not in cols:
                cols.append(key)
    if "method" in cols:
        cols.remove("method")
        cols.insert(0, "method")
    return cols


def markdown_table(paper_rows: Sequence[dict], our_rows: Sequence[dict]) -> str:
    """One table: a `source` column (paper / ours), then the union of the rows' columns."""
    cols = _columns(list(paper_rows) + list(our_rows))
    lines = ["| source | " + " | ".join(format_value(c) for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for source, rows in (("paper", paper_rows), ("ours", our_rows)):
        for row in rows:
            lines.append(f"| {source} | " + " | ".join(format_value(row.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def write_report(path: Path, *, title: str, paper_rows: list[dict], our_rows: list[dict],
                 notes: Sequence[str] = (), images: Sequence[Path] = (),
                 sections: Sequence[tuple[str, str]] = ()) -> Path:
    """Write the markdown report `path`: title, the paper's rows and ours in one table, further `sections`
    ((heading, markdown) pairs), notes, images (linked by paths relative to its folder)."""
    path = Path(path)
    run_dir = path.parent
    parts = [f"# {title}", "", markdown_table(paper_rows, our_rows), ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body, ""]
    if notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    if images:
        parts += ["## Figures", ""]
        for img in images:
            img = Path(img)
            rel = Path(os.path.relpath(img if img.is_absolute() else run_dir / img, run_dir)).as_posix()
            parts += [f"![{img.stem}]({rel})", ""]
    return atomic_write_text(path, "\n".join(parts))


def simple_table(columns: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A markdown table of `rows` (cells through `format_value`) under `columns`."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(format_value(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def jsonable(value):
    """Plain JSON value: floats rounded to 6 digits, NaN / inf -> None, numpy and paths converted."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    raise OptionError(f"write_metrics: value of type {type(value).__name__} is not JSON-serialisable")


def write_metrics(path: Path, metrics: dict) -> Path:
    """Write the JSON file `path` (sorted keys, NaN as null)."""
    text = json.dumps(jsonable(metrics), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_text(Path(path), text + "\n")


def choose_cases(per_case: pd.DataFrame, column: str = "tumour_dice") -> tuple[str, list[tuple[str, str, float]]]:
    """(column used, [(name, case id, value)] for best / median / worst). The column falls back to
    `liver_dice` when it is missing or all NaN; rows with NaN are ignored; the median is the lower
    middle of the sorted values; ties keep table order."""
    use = column
    if use not in per_case.columns or pd.to_numeric(per_case[use], errors="coerce").isna().all():
        use = "liver_dice"
    if use not in per_case.columns or "case" not in per_case.columns:
        raise OptionError(f"case_overlays: the per-case table needs 'case' and '{column}' or 'liver_dice' columns")
    values = pd.to_numeric(per_case[use], errors="coerce")
    table = pd.DataFrame({"case": per_case["case"].astype(str), "value": values}).dropna()
    if table.empty:
        return use, []
    ordered = table.sort_values("value", kind="stable").reset_index(drop=True)
    picks = {"worst": 0, "median": (len(ordered) - 1) // 2, "best": len(ordered) - 1}
    return use, [(name, ordered.loc[picks[name], "case"], float(ordered.loc[picks[name], "value"])) for name in OVERLAYS]


def case_overlays(run_dir, per_case: pd.DataFrame, load_case: Callable[[str], tuple], column: str = "tumour_dice",
                  variant: str | None = None) -> list[Path]:
    """overlay_best.png / overlay_median.png / overlay_worst.png in run_dir: for each chosen case,
    `load_case(case_id)` gives (ct HU, truth, prediction) volumes (x, y, z) and the slice with the
    most tumour (or liver) is drawn."""
    used, picks = choose_cases(per_case, column)
    out = []
    for name, case_id, value in picks:
        ct, truth, pred = load_case(case_id)
        k = pick_slice(truth, pred)
        title = f"{name}: case {case_id}, slice {k}{f', variant {variant}' if variant else ''}, {used} {value:.3f}"
        out.append(plot_overlay(np.asarray(ct)[..., k], np.asarray(truth)[..., k], np.asarray(pred)[..., k],
                                Path(run_dir) / f"overlay_{name}.png", title=title))
    return out
