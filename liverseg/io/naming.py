"""File names with a case number (LiTS `volume-N`, `segmentation-N`, MSD `liver_N`, ...)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from liverseg.errors import InputError


def index_by_case_number(files: Iterable[Path], pattern: re.Pattern) -> dict[int, Path]:
    """Case number (the pattern's first group) -> file, for the regular files whose name matches.

    InputError naming the file when a case number occurs twice.
    """
    found: dict[int, Path] = {}
    for path in sorted(files):
        match = pattern.match(path.name)
        if not match or not path.is_file():
            continue
        number = int(match.group(1))
        if number in found:
            raise InputError(path, f"case {number} is stored twice (also {found[number]})")
        found[number] = path
    return found
