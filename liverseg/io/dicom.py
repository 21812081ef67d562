"""DICOM series folders -> one stacked, validated 3D array with its voxel -> RAS affine.

A folder holds the files of one series; names may have no extension and need not sort in slice
order. Slices are ordered by their position along the slice normal
(normal = row cosines x column cosines from ImageOrientationPatient;
position = ImagePositionPatient . normal). The stacked array has axes (column, row, slice):
`array[i, j, k]` is pixel (row j, column i) of the k-th slice along the normal, so the affine is

    LPS = [[X * dc, Y * dr, S, IPP_0], [0, 0, 0, 1]]     (X, Y: row / column cosines,
    RAS = diag(-1, -1, 1, 1) @ LPS                          dc, dr: column / row spacing,
                                                            S: (IPP_last - IPP_0) / (n - 1))

Refused with `InputError` naming the file: unreadable or non-DICOM files (hidden files,
DICOMDIR and a few desktop leftovers are skipped), missing geometry tags, more than one
SeriesInstanceUID, multi-frame or colour images, inconsistent rows / columns / pixel spacing /
orientation, duplicate positions, a missing slice (a gap above `GAP_FACTOR` x the median step),
uneven steps (beyond `STEP_ATOL_MM` + `STEP_RTOL` x median) and slices not stacked along the
normal (gantry tilt). Pixel data are decoded once per file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liverseg.errors import InputError

GAP_FACTOR = 1.5  # a step above 1.5 x the median step means a slice is missing
STEP_ATOL_MM = 0.01  # steps may differ from the median by STEP_ATOL_MM + STEP_RTOL * median
STEP_RTOL = 0.02
DUPLICATE_ATOL_MM = 1e-3  # two positions closer than this are the same slice
ORIENTATION_ATOL = 1e-4  # direction cosines must agree across slices to this
SPACING_RTOL = 1e-4  # pixel spacing must agree across slices to this (relative)
SHEAR_ATOL_MM = 0.05  # slice origins may stray this far from the line along the normal
SKIPPED_NAMES = {"dicomdir", ".ds_store", "thumbs.db", "desktop.ini"}
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class DicomSeries:
    """A stacked series: `array` axes (column, row, slice), `affine` voxel -> RAS mm."""

    array: np.ndarray
    affine: np.ndarray
    files: tuple[Path, ...]  # in slice order (ascending position along the normal)
    positions: np.ndarray  # mm along the normal, ascending
    series_uid: str
    folder: Path


@dataclass
class _Slice:
    path: Path
    ds: object
    ipp: np.ndarray
    iop: np.ndarray
    spacing: np.ndarray  # PixelSpacing: (row spacing, column spacing)
    rows: int
    cols: int
    uid: str


def list_dicom_files(folder) -> list[Path]:
    """The regular files of `folder` that may be DICOM (hidden files and DICOMDIR-like skipped)."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError(folder, "DICOM folder not found")
    if not folder.is_dir():
        raise InputError(folder, "not a folder of DICOM files")
    files = sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.lower() not in SKIPPED_NAMES
    )
    if not files:
        raise InputError(folder, "no DICOM files in folder")
    return files


def _read_slice(path: Path) -> _Slice:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(str(path))
    except InvalidDicomError:
        raise InputError(path, "not a DICOM file (no DICM header)") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError) as err:  # pydicom on a damaged file
        raise InputError(path, f"unreadable or truncated DICOM file ({type(err).__name__}: {err})") from None
    if "PixelData" not in ds:
        raise InputError(path, "DICOM file has no pixel data (not an image slice)")
    for tag in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns"):
        if tag not in ds or ds.get(tag) in (None, ""):
            raise InputError(path, f"missing DICOM tag {tag}; cannot place the slice in space")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise InputError(path, f"multi-frame DICOM ({frames} frames) is not supported")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise InputError(path, "colour DICOM (SamplesPerPixel > 1) is not a CT slice")
    try:
        ipp = np.array([float(v) for v in ds.ImagePositionPatient], dtype=np.float64)
        iop = np.array([float(v) for v in ds.ImageOrientationPatient], dtype=np.float64)
        spacing = np.array([float(v) for v in ds.PixelSpacing], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(path, f"malformed geometry tags ({err})") from None
    if ipp.shape != (3,) or iop.shape != (6,) or spacing.shape != (2,) or np.any(spacing <= 0):
        raise InputError(path, "malformed ImagePositionPatient / ImageOrientationPatient / PixelSpacing")
    if not (np.all(np.isfinite(ipp)) and np.all(np.isfinite(iop)) and np.all(np.isfinite(spacing))):
        raise InputError(path, "non-finite values in the geometry tags")
    uid = str(ds.get("SeriesInstanceUID", "") or "")
    return _Slice(path, ds, ipp, iop, spacing, int(ds.Rows), int(ds.Columns), uid)


def _check_consistent(slices: list[_Slice], folder: Path) -> None:
    uids: dict[str, Path] = {}
    for s in slices:
        uids.setdefault(s.uid, s.path)
    if len(uids) > 1:
        listing = "; ".join(f"{uid or '<none>'} (e.g. {p.name})" for uid, p in uids.items())
        raise InputError(folder, f"{len(uids)} series (SeriesInstanceUID) in one folder: {listing}")
    ref = slices[0]
    row, col = ref.iop[:3], ref.iop[3:]
    if (abs(np.linalg.norm(row) - 1) > 1e-3 or abs(np.linalg.norm(col) - 1) > 1e-3
            or abs(float(row @ col)) > 1e-3):
        raise InputError(ref.path, f"ImageOrientationPatient {ref.iop.tolist()} is not two orthonormal vectors")
    for s in slices[1:]:
        if (s.rows, s.cols) != (ref.rows, ref.cols):
            raise InputError(
                s.path, f"inconsistent image size: {s.rows}x{s.cols} rows x columns, "
                f"but {ref.path.name} has {ref.rows}x{ref.cols}"
            )
        if np.abs(s.iop - ref.iop).max() > ORIENTATION_ATOL:
            raise InputError(s.path, f"inconsistent orientation {s.iop.tolist()} vs {ref.iop.tolist()} in {ref.path.name}")
        if np.abs(s.spacing - ref.spacing).max() > SPACING_RTOL * ref.spacing.max():
            raise InputError(s.path, f"inconsistent pixel spacing {s.spacing.tolist()} vs {ref.spacing.tolist()} in {ref.path.name}")


def _order(slices: list[_Slice]) -> tuple[list[_Slice], np.ndarray, np.ndarray]:
    """Sort along the normal and check the steps; returns (slices, positions, slice vector)."""
    row, col = slices[0].iop[:3], slices[0].iop[3:]
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    pos = np.array([s.ipp @ normal for s in slices])
    order = np.argsort(pos, kind="stable")
    slices = [slices[i] for i in order]
    pos = pos[order]
    if len(slices) == 1:
        ds = slices[0].ds
        step = float(ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or 1.0)
        return slices, pos, normal * abs(step)
    steps = np.diff(pos)
    for k, d in enumerate(steps):
        if d < DUPLICATE_ATOL_MM:
            raise InputError(
                slices[k + 1].path,
                f"duplicate slice position {pos[k + 1]:.4g} mm along the normal, same as {slices[k].path.name}",
            )
    median = float(np.median(steps))
    for k, d in enumerate(steps):
        if d > GAP_FACTOR * median:
            raise InputError(
                slices[k + 1].path,
                f"missing slice(s): gap of {d:.4g} mm before this slice (after {slices[k].path.name}), "
                f"median step {median:.4g} mm",
            )
    for k, d in enumerate(steps):
        if abs(d - median) > STEP_ATOL_MM + STEP_RTOL * median:
            raise InputError(
                slices[k + 1].path,
                f"uneven slice spacing: step {d:.4g} mm before this slice (after {slices[k].path.name}), "
                f"median step {median:.4g} mm",
            )
    origin = slices[0].ipp
    for s, p in zip(slices, pos):
        off = s.ipp - origin - (p - pos[0]) * normal
        if np.linalg.norm(off) > SHEAR_ATOL_MM:
            raise InputError(
                s.path, f"slice not stacked along the slice normal (offset {np.linalg.norm(off):.3g} mm; "
                "gantry tilt or sheared series is not supported)"
            )
    return slices, pos, (slices[-1].ipp - origin) / (len(slices) - 1)


def _pixels(s: _Slice, values: str) -> np.ndarray:
    try:
        px = s.ds.pixel_array
    # pydicom / its pixel handlers on missing or damaged pixel data, or an unsupported transfer syntax
    except (OSError, ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError) as err:
        raise InputError(s.path, f"cannot decode pixel data ({type(err).__name__}: {err})") from None
    if px.shape != (s.rows, s.cols):
        raise InputError(s.path, f"pixel data of shape {px.shape} does not match Rows x Columns {s.rows}x{s.cols}")
    if values == "mask":
        return px > 0
    if values == "raw":
        return px
    slope = float(s.ds.get("RescaleSlope", 1) or 1)
    intercept = float(s.ds.get("RescaleIntercept", 0) or 0)
    out = px.astype(np.float32)
    if slope != 1:
        out *= np.float32(slope)
    if intercept != 0:
        out += np.float32(intercept)
    return out


def read_dicom_series(folder, values: str = "hu") -> DicomSeries:
    """Read every slice of the series in `folder`, validate, sort and stack it.

    values: "hu" (float32, RescaleSlope / RescaleIntercept applied per slice), "raw" (stored
    pixel values) or "mask" (bool, pixel > 0).
    """
    if values not in ("hu", "raw", "mask"):
        raise ValueError(f"values must be 'hu', 'raw' or 'mask', not {values!r}")
    folder = Path(folder)
    slices = [_read_slice(p) for p in list_dicom_files(folder)]
    _check_consistent(slices, folder)
    slices, pos, slice_vec = _order(slices)
    ref = slices[0]
    first = _pixels(ref, values)
    array = np.empty((ref.cols, ref.rows, len(slices)), dtype=first.dtype, order="F")  # slices contiguous
    array[:, :, 0] = first.T
    for k, s in enumerate(slices[1:], start=1):
        px = _pixels(s, values)
        if px.dtype != array.dtype:
            array = array.astype(np.result_type(array.dtype, px.dtype), order="F")
        array[:, :, k] = px.T
        s.ds = None  # free the decoded slice
    ref.ds = None
    row, col = ref.iop[:3], ref.iop[3:]
    lps = np.eye(4)
    lps[:3, 0] = row * ref.spacing[1]  # column index i moves along the row cosines by column spacing
    lps[:3, 1] = col * ref.spacing[0]  # row index j moves along the column cosines by row spacing
    lps[:3, 2] = slice_vec
    lps[:3, 3] = ref.ipp
    return DicomSeries(
        array=array,
        affine=LPS_TO_RAS @ lps,
        files=tuple(s.path for s in slices),
        positions=pos,
        series_uid=ref.uid,
        folder=folder,
    )
