"""Validated CT volumes: NIfTI files and DICOM series folders -> `Volume` in closest-canonical RAS.

Every reader returns a `Volume` whose `array` has axes (x, y, z) in the closest-canonical RAS
orientation (`nibabel.as_closest_canonical` semantics: axes permuted and flipped, never
resampled), so an axial slice is `array[:, :, k]` and z grows towards the head.
`Volume.to_original` undoes the reorientation exactly, for writing predictions back in the
layout of the source file.

Validation (each failure raises `liverseg.errors.InputError` naming the file and the problem):

- missing path, a file that is not NIfTI, a truncated or corrupt (gzip) file: the data are
  decoded fully at read time, never lazily, so corruption surfaces here and not mid-training;
- NaN / Inf voxels; arrays that are not 3D (a trailing 4th axis of length 1, as some converters
  write, is dropped; any other 4D or 2D array is refused);
- labels (kind="label") with non-integer values or values outside {0, 1, 2};
- in `read_case`: image and label with different shapes, spacings (relative tolerance
  `SPACING_RTOL`) or affines (direction/zoom part: `AFFINE_LINEAR_ATOL` mm per voxel step;
  origin: `AFFINE_ORIGIN_ATOL_MM`).

The leakage guard (`content_hash`, `check_leakage`) is in `liverseg.io.leakage`.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel import orientations as nio

from liverseg.io.atomic import atomic_path
from liverseg.errors import InputError

LABEL_VALUES = (0, 1, 2)
SPACING_RTOL = 1e-3  # relative difference allowed between image and label spacing
AFFINE_LINEAR_ATOL = 1e-3  # mm, per entry of the 3x3 direction * zoom part of the affine
AFFINE_ORIGIN_ATOL_MM = 1e-2  # mm, on the affine translation (world position of voxel 0)
NIFTI_SUFFIXES = (".nii", ".nii.gz")
# what nibabel raises when loading a file that is not valid NIfTI (bad header, short file, bad gzip)
NIFTI_LOAD_ERRORS = (nib.filebasedimages.ImageFileError, nib.spatialimages.HeaderDataError, OSError, EOFError,
                     zlib.error, ValueError)


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D CT image or label volume in closest-canonical RAS orientation.

    array: axes (x, y, z); float32 HU for images, uint8 labels {0, 1, 2} for labels.
    spacing: mm per axis of `array`.  affine: 4x4 voxel -> RAS mm of `array`.
    original_affine / original_shape: the data as stored in `source` (for a DICOM series: the
    stack of slices, axes (column, row, slice) with slices sorted along the slice normal).
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    source: str
    original_affine: np.ndarray
    original_shape: tuple[int, int, int]

    def to_original(self, array: np.ndarray) -> np.ndarray:
        """Map an array laid out like `self.array` (any dtype, optional trailing axes such as
        channels) back to the layout of the source file (leading shape `original_shape`).

        Pair the result with `original_affine` when writing it out. Axes are only permuted and
        flipped, never resampled; the result may share memory with `array`."""
        array = np.asanyarray(array)
        if array.shape[:3] != self.array.shape[:3]:
            raise ValueError(
                f"array of shape {array.shape} does not match the canonical volume shape {self.array.shape}"
            )
        ornt = nio.io_orientation(self.original_affine)
        inverse = np.empty_like(ornt)
        for axis, (target, flip) in enumerate(ornt):
            inverse[int(target)] = (axis, flip)
        out = nio.apply_orientation(array, inverse)
        assert out.shape[:3] == tuple(self.original_shape)
        return np.copy(out, order="K") if any(s < 0 for s in out.strides) else out

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)


@dataclass(frozen=True)
class Case:
    """An image volume with its label volume (same shape, spacing and affine)."""

    image: Volume
    label: Volume
    case_id: str


def volume_from_array(array: np.ndarray, affine: np.ndarray, source, kind: str = "image",
                      zooms=None) -> Volume:
    """Validate a stored-layout array with its voxel->RAS affine and return the canonical `Volume`.

    `zooms` (mm per stored axis) defaults to the column norms of `affine`. Errors name `source`.
    """
    source = str(source)
    if kind not in ("image", "label"):
        raise ValueError(f"kind must be 'image' or 'label', not {kind!r}")
    array = _squeeze_to_3d(np.asanyarray(array), source)
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise InputError(source, f"invalid voxel-to-world affine {affine.tolist()}")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError(source, "singular voxel-to-world affine (zero voxel size or degenerate axes)")
    array = _image_values(array, source) if kind == "image" else _label_values(array, source)
    if zooms is None:
        zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    zooms = np.asarray(zooms, dtype=np.float64)[:3]
    if not np.all(np.isfinite(zooms)) or np.any(zooms <= 0):
        raise InputError(source, f"invalid voxel size {zooms.tolist()} mm")

    ornt = nio.io_orientation(affine)
    canonical = nio.apply_orientation(array, ornt)
    if any(stride < 0 for stride in canonical.strides):  # flipped view: copy, keeping the memory order
        canonical = np.copy(canonical, order="K")
    canonical_affine = affine @ nio.inv_ornt_aff(ornt, array.shape)
    spacing = np.empty(3)
    spacing[ornt[:, 0].astype(int)] = zooms
    return Volume(
        array=canonical,
        spacing=tuple(float(s) for s in spacing),
        affine=canonical_affine,
        source=source,
        original_affine=affine.copy(),
        original_shape=tuple(int(n) for n in array.shape),
    )


def _squeeze_to_3d(array: np.ndarray, source: str) -> np.ndarray:
    shape = array.shape
    while array.ndim > 3 and array.shape[-1] == 1:  # e.g. (X, Y, Z, 1) written by some converters
        array = array[..., 0]
    if array.ndim != 3:
        raise InputError(source, f"is {len(shape)}D with shape {shape}; expected a 3D volume")
    if min(array.shape) < 1:
        raise InputError(source, f"empty volume of shape {shape}")
    return array


def _image_values(array: np.ndarray, source: str) -> np.ndarray:
    out = array.astype(np.float32, copy=False)
    if not np.isfinite(out).all():
        nan, inf = int(np.isnan(out).sum()), int(np.isinf(out).sum())
        what = ", ".join(p for p in (f"{nan} NaN" if nan else "", f"{inf} Inf" if inf else "") if p)
        extra = " (values beyond float32 range)" if inf and np.isfinite(array).all() else ""
        raise InputError(source, f"contains non-finite voxels: {what}{extra}")
    return out


def _label_values(array: np.ndarray, source: str) -> np.ndarray:
    if array.dtype.kind == "b":
        return array.astype(np.uint8)
    if array.dtype.kind not in "uif":
        raise InputError(source, f"label data of type {array.dtype} is not numeric")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError(source, "label volume contains NaN or Inf values")
        fractional = array != np.round(array)
        if fractional.any():
            found = np.unique(array[fractional])
            raise InputError(source, f"label volume has non-integer values {_few(found)}; expected {{0, 1, 2}}")
    lo, hi = array.min(), array.max()
    if lo < LABEL_VALUES[0] or hi > LABEL_VALUES[-1]:
        found = np.unique(array)
        bad = found[(found < LABEL_VALUES[0]) | (found > LABEL_VALUES[-1])]
        raise InputError(
            source, f"label values {_few(bad)} outside {{0, 1, 2}} (values found: {_few(found)})"
        )
    return array.astype(np.uint8)


def _few(values: np.ndarray, limit: int = 8) -> str:
    items = [f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in values.tolist()[:limit]]
    more = f", ... ({len(values)} distinct)" if len(values) > limit else ""
    return "{" + ", ".join(items) + more + "}"


def read_nifti(path, kind: str = "image") -> Volume:
    """Read a .nii / .nii.gz file fully (decoded at once, scl_slope/scl_inter applied)."""
    path = Path(path)
    if not path.name.endswith(NIFTI_SUFFIXES):
        raise InputError(path, "not a NIfTI file (expected a .nii or .nii.gz name)")
    try:
        img = nib.load(str(path))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except NIFTI_LOAD_ERRORS as err:
        raise InputError(path, f"not a readable NIfTI file ({_reason(err)})") from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise InputError(path, f"not a NIfTI file (nibabel reads it as {type(img).__name__})")
    try:
        data = np.asarray(img.dataobj, dtype=np.float32) if kind == "image" else np.asarray(img.dataobj)
    except (EOFError, zlib.error, OSError, ValueError) as err:
        raise InputError(path, f"truncated or corrupt data: cannot decode the voxels ({_reason(err)})") from None
    zooms = img.header.get_zooms()[:3]
    if len(zooms) < 3:
        raise InputError(path, f"is {len(zooms)}D with shape {img.shape}; expected a 3D volume")
    return volume_from_array(data, img.affine, path, kind, zooms=zooms)


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def read_volume(path, kind: str = "image") -> Volume:
    """Read a NIfTI file or a DICOM series folder as a validated canonical `Volume`.

    kind "image": float32 HU (rescale slope/intercept applied); kind "label": uint8 {0, 1, 2}.
    """
    if kind not in ("image", "label"):
        raise ValueError(f"kind must be 'image' or 'label', not {kind!r}")
    path = Path(path)
    if path.is_dir():
        from liverseg.io.dicom import read_dicom_series

        series = read_dicom_series(path, values="hu" if kind == "image" else "raw")
        return volume_from_array(series.array, series.affine, path, kind)
    if not path.exists():
        raise InputError(path, "file not found")
    return read_nifti(path, kind)


def check_same_grid(image: Volume, label: Volume) -> None:
    """Raise InputError (naming the label file) unless both volumes share shape, spacing and affine."""
    if image.array.shape != label.array.shape or tuple(image.original_shape) != tuple(label.original_shape):
        raise InputError(
            label.source,
            f"shape mismatch: label shape {tuple(label.original_shape)} differs from image "
            f"{image.source} shape {tuple(image.original_shape)}",
        )
    si, sl = np.asarray(image.spacing), np.asarray(label.spacing)
    if np.any(np.abs(si - sl) > SPACING_RTOL * np.maximum(si, sl)):
        raise InputError(
            label.source,
            f"spacing mismatch: label spacing {format_mm(sl)} differs from image {image.source} spacing {format_mm(si)}",
        )
    lin = np.abs(image.affine[:3, :3] - label.affine[:3, :3]).max()
    org = np.abs(image.affine[:3, 3] - label.affine[:3, 3]).max()
    if lin > AFFINE_LINEAR_ATOL or org > AFFINE_ORIGIN_ATOL_MM:
        raise InputError(
            label.source,
            f"affine mismatch with image {image.source} (orientation differs by {lin:.4g}, origin by "
            f"{org:.4g} mm): label origin {format_mm(label.affine[:3, 3])}, image origin {format_mm(image.affine[:3, 3])}",
        )


def format_mm(values) -> str:
    """"(a, b, c) mm" with 4 significant digits, for error messages about voxel sizes and positions."""
    return "(" + ", ".join(f"{float(v):.4g}" for v in values) + ") mm"


def read_case(image_path, label_path, case_id: str | None = None) -> Case:
    """Read an image and its label and check they share one voxel grid.

    case_id defaults to the image file name without .nii / .nii.gz (or the DICOM folder name).
    """
    image = read_volume(image_path, "image")
    label = read_volume(label_path, "label")
    check_same_grid(image, label)
    return Case(image=image, label=label, case_id=case_id or _stem(image_path))


def _stem(path) -> str:
    name = Path(path).name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def write_label_volume(labels: np.ndarray, affine: np.ndarray, path) -> None:
    """Write a uint8 label volume as NIfTI atomically: a temp file in the target folder is
    written, fsynced and renamed over `path`, so no partial file is left on any error."""
    path = Path(path)
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be 3D, got shape {labels.shape}")
    if labels.dtype.kind == "f" and np.any(labels != np.round(labels)):
        raise ValueError("labels must be integer valued")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError(f"labels must lie in [0, 255], got [{labels.min()}, {labels.max()}]")
    if not path.name.endswith(NIFTI_SUFFIXES):
        raise InputError(path, "output name must end in .nii or .nii.gz")
    affine = np.asarray(affine, dtype=np.float64)
    img = nib.Nifti1Image(labels.astype(np.uint8), affine)
    img.set_data_dtype(np.uint8)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        img.to_filename(tmp)

