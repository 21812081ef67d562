"""Where one case of any source is (`CaseSource`), as every reader of `data_prep` (LiTS / MSD NIfTI,
3D-IRCADb DICOM, the phantom) lists it, and the check that an input folder exists."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from liverseg.errors import InputError


class CaseSource(NamedTuple):
    """Where one case's files are: `reader` "nifti" (image + label files) or "ircadb" (patient folder)."""

    case_id: str
    patient_id: str
    image: Path
    label: Path
    reader: str = "nifti"


def require_dir(input_dir) -> Path:
    path = Path(input_dir)
    if not path.exists():
        raise InputError(path, "input folder not found")
    if not path.is_dir():
        raise InputError(path, "input is not a folder")
    return path


__all__ = ["CaseSource", "require_dir"]
