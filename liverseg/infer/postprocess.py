"""Post-processing of predicted masks: threshold, largest connected component, per-slice hole filling, opening / closing.

Bi et al. 2.4: "a morphological filter was used to fill the holes for individual axial slices"
(`fill_holes_per_slice`).  Liu et al. II.A: opening and closing with radius 5 applied to the
first-level sigmoid output (`opening`, `closing`; grey-level when given a probability map).

Per-slice operations treat the slices along `axis` as independent 2-D images and process them
in vectorised calls (scipy labelling with an in-plane structure; cv2 morphology on up to 128
slices at once).
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from skimage.morphology import ball, disk

from liverseg.errors import OptionError


def threshold(probs: np.ndarray, t: float = 0.5) -> np.ndarray:
    """Boolean mask of probabilities at or above `t`."""
    return np.asarray(probs) >= t


def largest_component(mask: np.ndarray, connectivity: int = 3) -> np.ndarray:
    """Keep only the largest connected component of a binary mask (empty stays empty).

    `connectivity` is scipy's rank: in 3-D, 1 = 6-neighbourhood, 2 = 18, 3 = 26.  Of components
    of equal size, the first in C order is kept.
    """
    mask = np.asarray(mask).astype(bool, copy=False)
    if not 1 <= connectivity <= max(mask.ndim, 1):
        raise OptionError(f"connectivity must be between 1 and {mask.ndim}, got {connectivity}")
    structure = ndimage.generate_binary_structure(mask.ndim, connectivity)
    labels, count = ndimage.label(mask, structure=structure)
    if count <= 1:
        return mask.copy()
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes_per_slice(mask: np.ndarray, axis: int = 2) -> np.ndarray:
    """Fill holes of each slice along `axis` independently (4-connected background, as binary_fill_holes in 2-D).

    A hole is a background region of a slice not connected in that slice to the slice's border;
    holes enclosed only in 3-D (across slices) are not filled.
    """
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.ndim not in (2, 3):
        raise ValueError(f"expected a 2-D or 3-D mask, got shape {mask.shape}")
    planes = mask[..., None] if mask.ndim == 2 else np.moveaxis(mask, axis, -1)
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[:, :, 1] = ndimage.generate_binary_structure(2, 1)  # in-plane 4-neighbours only
    background, count = ndimage.label(~planes, structure=structure)
    reaches_border = np.zeros(count + 1, dtype=bool)
    reaches_border[0] = True  # label 0 is the foreground itself
    for edge in (background[0], background[-1], background[:, 0], background[:, -1]):
        reaches_border[edge.ravel()] = True
    filled = planes | ~reaches_border[background]
    return filled[..., 0] if mask.ndim == 2 else np.moveaxis(filled, -1, axis)


def _footprint(radius: int, ndim: int, per_slice: bool) -> np.ndarray:
    if int(radius) < 0:
        raise OptionError(f"radius must be >= 0, got {radius}")
    if ndim not in (2, 3):
        raise ValueError(f"expected a 2-D or 3-D array, got {ndim}-D")
    if per_slice or ndim == 2:
        return disk(int(radius)).astype(np.uint8)
    return ball(int(radius)).astype(bool)


_CV2_MAX_CHANNELS = 128  # cv2 morphology refuses images with more channels than this


def _morph(arr: np.ndarray, radius: int, per_slice: bool, axis: int, op: str) -> np.ndarray:
    """Opening / closing on an image extended by 2*radius (zeros for bool, edge values otherwise)."""
    footprint = _footprint(radius, arr.ndim, per_slice)
    if radius == 0:
        return arr.copy()
    binary = arr.dtype == bool
    pad = 2 * int(radius)
    if not per_slice and arr.ndim == 3:
        padded = np.pad(arr, pad, mode="constant" if binary else "edge")
        if binary:
            fn = ndimage.binary_opening if op == "open" else ndimage.binary_closing
            out = fn(padded, structure=footprint)
        else:
            fn = ndimage.grey_opening if op == "open" else ndimage.grey_closing
            out = fn(padded, footprint=footprint)
        return out[(slice(pad, -pad),) * 3]
    planes = arr[..., None] if arr.ndim == 2 else np.moveaxis(arr, axis, -1)
    work = planes.astype(np.uint8) if binary else planes.astype(np.float32, copy=False)
    padded = np.pad(work, ((pad, pad), (pad, pad), (0, 0)), mode="constant" if binary else "edge")
    cv_op = cv2.MORPH_OPEN if op == "open" else cv2.MORPH_CLOSE
    out = np.empty_like(work)
    for start in range(0, padded.shape[2], _CV2_MAX_CHANNELS):
        group = np.ascontiguousarray(padded[:, :, start:start + _CV2_MAX_CHANNELS])
        res = cv2.morphologyEx(group, cv_op, footprint).reshape(group.shape)
        out[:, :, start:start + group.shape[2]] = res[pad:-pad, pad:-pad]
    out = out.astype(bool) if binary else out
    return out[..., 0] if arr.ndim == 2 else np.moveaxis(out, -1, axis)


def opening(mask: np.ndarray, radius: int, per_slice: bool = True, axis: int = 2) -> np.ndarray:
    """Morphological opening with a disk of `radius` per slice along `axis` (a ball when not per_slice).

    Boolean input: binary opening, outside the array counting as background -> bool.  Float
    input (a probability map): grey-level opening with the same flat footprint on the array
    extended by its edge values -> float32.  2-D input is one slice.
    """
    return _morph(np.asarray(mask), radius, per_slice, axis, "open")


def closing(mask: np.ndarray, radius: int, per_slice: bool = True, axis: int = 2) -> np.ndarray:
    """Morphological closing with a disk of `radius` per slice along `axis` (a ball when not per_slice).

    Boolean input: binary closing of the array extended by background, so the result contains the
    input even at the array border -> bool.  Float input: grey-level closing of the array extended
    by its edge values -> float32.  2-D input is one slice.
    """
    return _morph(np.asarray(mask), radius, per_slice, axis, "close")


__all__ = ["threshold", "largest_component", "fill_holes_per_slice", "opening", "closing"]
