"""What `liverseg predict -i PATH` accepts: one CT or a folder of them, as a list of `InputCase`s.

`find_inputs(path)` understands

- a NIfTI file (`.nii` / `.nii.gz`);
- a DICOM series folder (the files of one series, names with or without extension);
- a 3D-IRCADb patient folder (`PATIENT_DICOM/` or `PATIENT_DICOM.zip`; its masks are not read);
- a folder of cases: NIfTI files, DICOM series folders and 3D-IRCADb patient folders side by side
  (hidden entries and other files are ignored; a LiTS `segmentation-N` label file is not a CT).

Each case has an id (the file name without `.nii[.gz]`, or the folder name) and, where its name
carries one (`volume-N`, `test-volume-N`, `3Dircadb1.N`, `liver_N`), a LiTS case number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from liverseg.errors import InputError

NIFTI_SUFFIXES = (".nii.gz", ".nii")
KINDS = ("nifti", "dicom", "ircadb")
# names that hold labels, not a CT: left out of a folder of cases
LABEL_NAME = re.compile(r"^(?:test-)?(?:segmentation|prediction|label)s?[-_]?\d*\.nii(?:\.gz)?$", re.IGNORECASE)
NUMBERED = re.compile(r"^(?:test-volume|volume|liver|3dircadb\d*\.?|case|lits)[-_.]?(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class InputCase:
    """One CT to predict: `path` is a NIfTI file, a DICOM series folder or a 3D-IRCADb patient folder."""

    case_id: str
    path: Path
    kind: str  # one of KINDS
    number: int | None  # the LiTS case number its name carries, else None

    @property
    def is_dicom(self) -> bool:
        return self.kind in ("dicom", "ircadb")


def case_id_of(path: Path) -> str:
    name = Path(path).name
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def case_number_of(case_id: str) -> int | None:
    match = NUMBERED.match(case_id)
    return int(match.group(1)) if match else None


def _is_dicom_file(path: Path) -> bool:
    """A file with the DICOM preamble (`DICM` at byte 128)."""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def is_dicom_series_folder(folder: Path) -> bool:
    """A folder whose regular files include DICOM files (the first one that is not NIfTI is checked)."""
    for p in _visible(folder):
        if p.is_file() and not p.name.endswith(NIFTI_SUFFIXES) and p.name.upper() != "DICOMDIR":
            if _is_dicom_file(p):
                return True
    return False


def _case(path: Path, kind: str) -> InputCase:
    case_id = case_id_of(path)
    return InputCase(case_id, path, kind, case_number_of(case_id))


def _one(path: Path) -> InputCase | None:
    """`path` as a single case, or None when it is a folder of cases (or nothing predictable)."""
    from liverseg.io.ircadb import is_patient_folder

    if path.is_file():
        return _case(path, "nifti") if path.name.endswith(NIFTI_SUFFIXES) else None
    if is_patient_folder(path):
        return _case(path, "ircadb")
    if is_dicom_series_folder(path):
        return _case(path, "dicom")
    return None


def find_inputs(path) -> list[InputCase]:
    """The cases under `path` (see the module doc), sorted by id; InputError naming `path` when it is
    missing, not a CT, or a folder with no case in it, or when two cases share an id."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "input not found")
    if path.is_file():
        if not path.name.endswith(NIFTI_SUFFIXES):
            raise InputError(path, "not a NIfTI file (.nii / .nii.gz) or a DICOM series folder")
        return [_case(path, "nifti")]
    single = _one(path)
    if single is not None:
        return [single]
    cases: dict[str, InputCase] = {}
    for entry in _visible(path):
        if entry.is_file() and LABEL_NAME.match(entry.name):
            continue
        case = _one(entry)
        if case is None:
            continue
        if case.case_id in cases:
            raise InputError(entry, f"case {case.case_id!r} is given twice (also {cases[case.case_id].path})")
        cases[case.case_id] = case
    if not cases:
        raise InputError(path, "no CT in this folder: expected .nii / .nii.gz files, DICOM series folders or "
                               "3D-IRCADb patient folders (PATIENT_DICOM)")
    return list(cases.values())


def read_input(case: InputCase):
    """The CT of `case` as a validated canonical `Volume` (float32 HU)."""
    if case.kind == "ircadb":
        from liverseg.io.ircadb import read_ircadb_image

        return read_ircadb_image(case.path)
    from liverseg.io.volumes import read_volume

    return read_volume(case.path, kind="image")


__all__ = ["InputCase", "KINDS", "find_inputs", "read_input", "case_id_of", "case_number_of",
           "is_dicom_series_folder"]
