"""Case discovery for NIfTI datasets: LiTS (and the phantom, which uses LiTS naming) and MSD Task03_Liver.

LiTS / phantom: `volume-N.nii[.gz]` with `segmentation-N.nii[.gz]`, anywhere under the input folder
(the LiTS download comes as "Training Batch 1" / "Training Batch 2" sub-folders); case id
`<prefix>-N`. MSD Task03_Liver: `imagesTr/liver_N.nii.gz` with `labelsTr/liver_N.nii.gz` (the
imagesTs test images have no labels and are ignored); case id `msd-N`. macOS resource forks
(`._*`) and other hidden files are skipped. Each case is its own patient (`patient_id = case_id`).

Every inconsistency raises `InputError` naming the offending file: a volume without its
segmentation, a segmentation without its volume, the same case number stored twice.
"""
from __future__ import annotations

import re
from pathlib import Path

from data_prep.case_source import CaseSource, require_dir
from liverseg.errors import InputError
from liverseg.io.naming import index_by_case_number

LITS_VOLUME = re.compile(r"^volume-(\d+)\.nii(\.gz)?$")
LITS_SEGMENTATION = re.compile(r"^segmentation-(\d+)\.nii(\.gz)?$")
MSD_CASE = re.compile(r"^liver_(\d+)\.nii(\.gz)?$")


def _visible_files(root: Path, recursive: bool = True):
    items = root.rglob("*") if recursive else root.iterdir()
    for path in sorted(items):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):  # `._volume-0.nii`, `.git`, ...
            continue
        if path.is_file():
            yield path


def _check_pairs(images: dict[int, Path], labels: dict[int, Path], no_label, no_image) -> None:
    """InputError naming the first image without a label (then label without an image);
    `no_label(number, path)` / `no_image(number, path)` word the problem."""
    for number, path in sorted(images.items()):
        if number not in labels:
            raise InputError(path, no_label(number, path))
    for number, path in sorted(labels.items()):
        if number not in images:
            raise InputError(path, no_image(number, path))


def discover_lits(input_dir, prefix: str = "lits") -> list[CaseSource]:
    """LiTS-named cases under `input_dir`, sorted by case number."""
    root = require_dir(input_dir)
    files = list(_visible_files(root))
    volumes = index_by_case_number(files, LITS_VOLUME)
    segmentations = index_by_case_number(files, LITS_SEGMENTATION)
    if not volumes and not segmentations:
        raise InputError(root, "no LiTS cases found (expected volume-N.nii[.gz] with segmentation-N.nii[.gz])")
    _check_pairs(volumes, segmentations,
                 lambda n, _: f"no matching segmentation-{n}.nii[.gz] for this volume",
                 lambda n, _: f"no matching volume-{n}.nii[.gz] for this segmentation")
    return [CaseSource(f"{prefix}-{n}", f"{prefix}-{n}", volumes[n], segmentations[n])
            for n in sorted(volumes)]


def discover_msd(input_dir) -> list[CaseSource]:
    """Medical Segmentation Decathlon Task03_Liver training cases, sorted by case number."""
    root = require_dir(input_dir)
    images_dir, labels_dir = root / "imagesTr", root / "labelsTr"
    if not images_dir.is_dir():
        raise InputError(root, "no imagesTr folder (expected the MSD Task03_Liver layout imagesTr/ + labelsTr/)")
    images = index_by_case_number(_visible_files(images_dir, recursive=False), MSD_CASE)
    if not images:
        raise InputError(images_dir, "no liver_N.nii.gz images found")
    if not labels_dir.is_dir():
        raise InputError(root, "no labelsTr folder next to imagesTr")
    labels = index_by_case_number(_visible_files(labels_dir, recursive=False), MSD_CASE)
    _check_pairs(images, labels,
                 lambda _, path: f"no matching labelsTr/{path.name} for this image",
                 lambda _, path: f"no matching imagesTr/{path.name} for this label")
    return [CaseSource(f"msd-{n}", f"msd-{n}", images[n], labels[n]) for n in sorted(images)]


__all__ = ["CaseSource", "discover_lits", "discover_msd", "require_dir"]
