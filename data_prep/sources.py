"""Which source folders `liverseg prep` reads, and the cheap checks run on them before anything is written.

`discover(dataset, input_dir)` finds the cases of one dataset layout (`data_prep.lits`,
`data_prep.ircadb`); `check_headers(sources)` reads only the NIfTI headers of every case (readable,
3D, image and label on the same grid), so a bad file is reported before any case is processed.
The full validation of each volume happens later, in `liverseg.io.volumes`.
"""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from data_prep.ircadb import discover_ircadb
from data_prep.case_source import CaseSource
from data_prep.lits import discover_lits, discover_msd
from liverseg.errors import InputError, OptionError
from liverseg.io.volumes import NIFTI_LOAD_ERRORS, SPACING_RTOL, format_mm

DATASETS = ("lits", "msd", "ircadb", "phantom")


def discover(dataset: str, input_dir) -> list[CaseSource]:
    """Cases of a dataset folder (InputError on an empty or inconsistent folder)."""
    if dataset == "lits":
        return discover_lits(input_dir, "lits")
    if dataset == "phantom":
        return discover_lits(input_dir, "phantom")
    if dataset == "msd":
        return discover_msd(input_dir)
    if dataset == "ircadb":
        return discover_ircadb(input_dir)
    raise OptionError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")


def _header_shape(path: Path) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """3D shape and voxel size of a NIfTI file, from its header only (InputError naming the file)."""
    try:
        img = nib.load(str(path))
    except NIFTI_LOAD_ERRORS as err:  # what nibabel raises for a file that is not valid NIfTI
        raise InputError(path, f"not a readable NIfTI file ({type(err).__name__}: {err})") from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise InputError(path, f"not a NIfTI file (nibabel reads it as {type(img).__name__})")
    shape = tuple(int(n) for n in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise InputError(path, f"is {len(img.shape)}D with shape {tuple(img.shape)}; expected a 3D volume")
    return shape, tuple(float(z) for z in img.header.get_zooms()[:3])


def check_headers(sources: list[CaseSource]) -> None:
    """Cheap pre-check of NIfTI headers: readable, 3D, image and label on the same grid."""
    for src in sources:
        if src.reader != "nifti":
            continue
        ishape, izoom = _header_shape(src.image)
        lshape, lzoom = _header_shape(src.label)
        if ishape != lshape:
            raise InputError(src.label, f"shape mismatch: label shape {lshape} differs from image {src.image} "
                                        f"shape {ishape}")
        zi, zl = np.asarray(izoom), np.asarray(lzoom)
        if np.any(np.abs(zi - zl) > SPACING_RTOL * np.maximum(zi, zl)):
            raise InputError(src.label, f"spacing mismatch: label voxel size {format_mm(lzoom)} differs from "
                                        f"image {src.image} voxel size {format_mm(izoom)}")
