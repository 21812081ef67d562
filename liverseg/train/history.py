"""`history.csv` of a training stage: one row per finished epoch, torn or repeated rows dropped on resume."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from liverseg.errors import InputError
from liverseg.io.atomic import atomic_write_text


def clean_history(path, finished_epochs: int) -> None:
    """Keep only the complete rows of `history.csv` whose `epoch` is below `finished_epochs`, each
    epoch once (the last copy); drops rows of an epoch that was interrupted and a torn last line.
    The file is removed when no row is left, so that the CSV logger writes a fresh header."""
    path = Path(path)
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].strip():
        path.unlink()
        return
    header = next(csv.reader([lines[0]]))
    if "epoch" not in header:
        raise InputError(path, "history file has no 'epoch' column")
    col = header.index("epoch")
    rows: dict[int, str] = {}
    for line in lines[1:]:
        if not line.endswith("\n"):
            break  # torn write of the last row
        fields = next(csv.reader([line]), [])
        if len(fields) != len(header):
            continue
        try:
            epoch = int(fields[col])
        except ValueError:
            continue
        if 0 <= epoch < finished_epochs:
            rows[epoch] = line
    if not rows:
        path.unlink()
        return
    atomic_write_text(path, lines[0] + "".join(rows[e] for e in sorted(rows)))


def read_history(path):
    """`history.csv` as a DataFrame sorted by epoch, one row per epoch (the last copy kept)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        return pd.DataFrame({"epoch": pd.Series([], dtype="int64")})
    df = pd.read_csv(io.StringIO(path.read_text(encoding="utf-8")))
    if "epoch" not in df.columns:
        raise InputError(path, "history file has no 'epoch' column")
    return df.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


__all__ = ["clean_history", "read_history"]
