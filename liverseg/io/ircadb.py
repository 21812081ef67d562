"""3D-IRCADb patient folders as distributed -> `Case` (image in HU, labels 0 / 1 / 2).

Layout of one patient (e.g. `3Dircadb1.17/`), each part either a folder or a `.zip` holding
that folder::

    PATIENT_DICOM/image_N            the CT series
    MASKS_DICOM/<organ>/image_N      one binary mask series per structure (pixel > 0 = inside)

Labels: 1 = `MASKS_DICOM/liver`; 2 = union of the liver-tumour masks, matched by folder name
with `TUMOUR_PATTERN` (`livertumor01`, `livertumor1`, `livertumors`, `livertumor_01`,
`liverTumour2`, ...). Other masks (cysts, vessels, organs, and masks named plain `tumor`,
which 3D-IRCADb uses for non-liver lesions) are ignored. Tumour voxels outside the liver mask
keep label 2: the LiTS convention, where the liver target (label >= 1) includes the tumours.
Every mask must share the voxel grid (slice positions, orientation, size) of PATIENT_DICOM.
Zips are extracted to a temporary folder that is removed afterwards.
"""
from __future__ import annotations

import re
import tempfile
import zipfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from liverseg.io.dicom import DicomSeries, read_dicom_series
from liverseg.errors import InputError
from liverseg.io.volumes import Case, volume_from_array

TUMOUR_PATTERN = re.compile(r"^livertumou?r(s|_?\d+)?$", re.IGNORECASE)
LIVER_NAME = "liver"
GRID_ATOL_MM = 1e-2  # masks and image must agree on the affine to this


def is_liver_tumour_mask(name: str) -> bool:
    """True for 3D-IRCADb mask folder names that denote liver tumours."""
    return bool(TUMOUR_PATTERN.match(name))


def _extract(zip_path: Path, stack: ExitStack) -> Path:
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="liverseg-ircadb-")))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            root = tmp.resolve()
            for member in zf.infolist():
                if member.filename.startswith("__MACOSX/"):
                    continue
                target = (tmp / member.filename).resolve()
                if root not in target.parents and target != root:
                    raise InputError(zip_path, f"unsafe member path {member.filename!r} in zip")
                zf.extract(member, tmp)
    except zipfile.BadZipFile as err:
        raise InputError(zip_path, f"not a valid zip file ({err})") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as err:
        raise InputError(zip_path, f"corrupt or truncated zip file ({type(err).__name__}: {err})") from None
    return tmp


def _part(folder: Path, name: str, stack: ExitStack, renames: dict[str, str]) -> tuple[Path, str]:
    """Folder holding part `name` (extracting `name.zip` if needed) and the path to report.

    For a zip, `renames` maps the extracted folder to `<archive>` so errors name the zip member.
    """
    direct = folder / name
    if direct.is_dir():
        return direct, str(direct)
    archive = folder / f"{name}.zip"
    if archive.is_file():
        tmp = _extract(archive, stack)
        renames[str(tmp)] = str(archive)
        inner = [p for p in tmp.rglob("*") if p.is_dir() and p.name.lower() == name.lower()]
        if inner:
            return min(inner, key=lambda p: len(p.parts)), str(archive)
        return tmp, str(archive)
    raise InputError(folder, f"no {name} folder or {name}.zip in the patient folder")


def _read(path: Path, values: str, renames: dict[str, str]) -> DicomSeries:
    """`read_dicom_series`, with errors inside an extracted zip naming `<archive>/<member>`."""
    try:
        return read_dicom_series(path, values=values)
    except InputError as err:
        for tmp, archive in renames.items():
            if err.path.startswith(tmp):
                raise InputError(archive + err.path[len(tmp):], err.problem) from None
        raise


def _same_grid(image: DicomSeries, mask: DicomSeries, mask_folder: Path, source: str) -> None:
    if mask.array.shape != image.array.shape:
        raise InputError(
            f"{source}/{mask_folder.name}",
            f"mask grid {mask.array.shape} (columns, rows, slices) differs from PATIENT_DICOM {image.array.shape}",
        )
    if np.abs(mask.positions - image.positions).max() > GRID_ATOL_MM:
        raise InputError(
            f"{source}/{mask_folder.name}",
            "mask slice positions differ from PATIENT_DICOM "
            f"(max difference {np.abs(mask.positions - image.positions).max():.4g} mm)",
        )
    if np.abs(mask.affine - image.affine).max() > GRID_ATOL_MM:
        raise InputError(
            f"{source}/{mask_folder.name}", "mask orientation / pixel spacing / origin differ from PATIENT_DICOM"
        )


def read_ircadb_case(folder) -> Case:
    """Read one 3D-IRCADb patient folder; case_id is the folder name (e.g. `3Dircadb1.17`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "3D-IRCADb patient folder not found")
    renames: dict[str, str] = {}
    with ExitStack() as stack:
        image_dir, image_src = _part(folder, "PATIENT_DICOM", stack, renames)
        masks_dir, masks_src = _part(folder, "MASKS_DICOM", stack, renames)
        image = _read(image_dir, "hu", renames)
        organs = {p.name: p for p in sorted(masks_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")}
        liver_dirs = [p for name, p in organs.items() if name.lower() == LIVER_NAME]
        if not liver_dirs:
            raise InputError(masks_src, f"no '{LIVER_NAME}' mask folder (found: {', '.join(organs) or 'none'})")
        label = np.zeros(image.array.shape, dtype=np.uint8)
        liver = _read(liver_dirs[0], "mask", renames)
        _same_grid(image, liver, liver_dirs[0], masks_src)
        label[liver.array] = 1
        del liver
        for name, path in organs.items():
            if not is_liver_tumour_mask(name):
                continue
            tumour = _read(path, "mask", renames)
            _same_grid(image, tumour, path, masks_src)
            label[tumour.array] = 2
        image_volume = volume_from_array(image.array, image.affine, image_src, "image")
        label_volume = volume_from_array(label, image.affine, masks_src, "label")
    return Case(image=image_volume, label=label_volume, case_id=folder.name)


@contextmanager
def patient_dicom(folder):
    """The PATIENT_DICOM series folder of a 3D-IRCADb patient (extracted to a temporary folder, removed
    on exit, when it is a `.zip`) and the path to name in messages."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "3D-IRCADb patient folder not found")
    renames: dict[str, str] = {}
    with ExitStack() as stack:
        yield _part(folder, "PATIENT_DICOM", stack, renames)


def read_ircadb_image(folder):
    """The CT of one 3D-IRCADb patient folder (PATIENT_DICOM only: masks are not read) as a `Volume`."""
    with patient_dicom(folder) as (image_dir, image_src):
        renames = {str(image_dir): image_src} if image_src != str(image_dir) else {}
        image = _read(image_dir, "hu", renames)
        return volume_from_array(image.array, image.affine, image_src, "image")


def is_patient_folder(folder) -> bool:
    """True for a folder laid out as a 3D-IRCADb patient (a PATIENT_DICOM folder or PATIENT_DICOM.zip)."""
    folder = Path(folder)
    return (folder / "PATIENT_DICOM").is_dir() or (folder / "PATIENT_DICOM.zip").is_file()
