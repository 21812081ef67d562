"""Case discovery for 3D-IRCADb: every patient folder holding `PATIENT_DICOM` (a folder or a .zip).

The input may be one patient folder, a folder of patient folders (`3Dircadb1/3Dircadb1.1/...`),
or one level above that. The patient folder is read by `liverseg.io.volumes.read_ircadb_case`
(image from PATIENT_DICOM, labels from MASKS_DICOM). Case id: `ircadb-<folder name without the
"3Dircadb" prefix>`, e.g. `3Dircadb1.17` -> `ircadb-1.17`; each case is its own patient.
"""
from __future__ import annotations

import re
from pathlib import Path

from data_prep.case_source import CaseSource, require_dir
from liverseg.errors import InputError

MAX_DEPTH = 3  # input, patients, patients' parents: 3Dircadb1/3Dircadb1.N/PATIENT_DICOM


def _has(folder: Path, name: str) -> bool:
    return (folder / name).is_dir() or (folder / f"{name}.zip").is_file()


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _patient_folders(root: Path) -> list[Path]:
    found: list[Path] = []
    frontier = [root]
    for _ in range(MAX_DEPTH):
        nxt = []
        for folder in frontier:
            if _has(folder, "PATIENT_DICOM"):
                found.append(folder)
                continue
            nxt.extend(p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith("."))
        frontier = nxt
    return sorted(found, key=lambda p: _natural_key(p.name))


def case_id_for(folder: Path) -> str:
    name = folder.name
    suffix = name[len("3Dircadb"):] if name.lower().startswith("3dircadb") else name
    return f"ircadb-{suffix.strip('-_') or name}"


def discover_ircadb(input_dir) -> list[CaseSource]:
    """3D-IRCADb patient folders under `input_dir`, in natural name order."""
    root = require_dir(input_dir)
    folders = _patient_folders(root)
    if not folders:
        raise InputError(root, "no 3D-IRCADb patient folders found (expected */PATIENT_DICOM[.zip])")
    cases: list[CaseSource] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        if not _has(folder, "MASKS_DICOM"):
            raise InputError(folder, "has PATIENT_DICOM but no MASKS_DICOM (folder or .zip) with the labels")
        case_id = case_id_for(folder)
        if case_id in seen:
            raise InputError(folder, f"patient {case_id} is stored twice (also {seen[case_id]})")
        seen[case_id] = folder
        cases.append(CaseSource(case_id, case_id, folder, folder, reader="ircadb"))
    return cases


__all__ = ["discover_ircadb", "case_id_for"]
