"""Paths a user gives relative to the project while a tool runs elsewhere: Jupyter starts a notebook's
kernel in `notebooks/`, so `LIVERSEG_RUN=runs/gong/<run>` set in the project root must still find the run."""
from __future__ import annotations

from pathlib import Path


def locate(path, start=None) -> Path:
    """`path` as given when absolute or when it exists from `start` (default: the working directory);
    else the first existing `<parent>/path` for the parents of `start`; else `start/path` (so the
    error that follows names the path the user meant)."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.resolve().parents):
        if (folder / path).exists():
            return folder / path
    return start / path


__all__ = ["locate"]
