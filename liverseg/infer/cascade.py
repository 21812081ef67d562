"""Cascade helpers: bounding boxes, fixed-size crops around a target, paste-back, stage-1 ROIs.

Gong et al. 2.2: the fine stage sees a fixed-size crop centred on the centre of the coarse
tumour's four boundary points; the box is recorded and the fine prediction is pasted back into
a zero image of the original size.  Bi et al. / Gruber et al.: the second stage works inside the
ROI of a stage-1 liver mask.

Boxes are (r0, c0, r1, c1) with half-open ranges [r0, r1) x [c0, c1) over the first two axes of
an (H, W, ...) array.  A box may reach outside the image (when the image is smaller than the
crop); `crop` fills that part with zeros and `paste` drops it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from liverseg.data.crops import box_start
from liverseg.errors import InputError, OptionError
from liverseg.infer.predict import predict_slices
from liverseg.io.atomic import atomic_write_json

Box = tuple[int, int, int, int]


def bbox(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Tight bounding box of the nonzero voxels of `mask` (any dimension) as slices; None if empty."""
    mask = np.asarray(mask).astype(bool, copy=False)
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other) if other else mask)
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(box)


def bbox_centre(mask2d: np.ndarray) -> tuple[int, int] | None:
    """Centre (row, col) of the four boundary points of a 2-D mask: floor((min + max) / 2) per axis; None if empty."""
    mask2d = np.asarray(mask2d)
    if mask2d.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask2d.shape}")
    box = bbox(mask2d)
    if box is None:
        return None
    return tuple((s.start + s.stop - 1) // 2 for s in box)


def _pair(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise OptionError(f"crop size must be an int or (height, width), got {size}")
    return size


def centred_box(centre: tuple[float, float], size, shape: tuple[int, int]) -> Box:
    """Box (r0, c0, r1, c1) of `size` (int or (h, w)) centred on `centre`, shifted to lie inside `shape`.

    Along each axis the box starts at `box_start(c, size)`, so a half-pixel centre (c = 10.5 with
    an even size) sits exactly in the middle of the box and an integer centre with an even size
    sits just before the middle (the same rule as the training crops of `liverseg.data.crops`).  The box is then moved (never shrunk) to fit in [0, shape).  Where the
    image is smaller than the box, the box is centred on the image instead: it starts at
    (shape - size) // 2 < 0 and `crop` zero-pads both sides.
    """
    size = _pair(size)
    if min(size) < 1:
        raise OptionError(f"crop size must be positive, got {size}")
    starts = []
    for c, s, n in zip(centre, size, shape[:2]):
        if n < s:
            starts.append((n - s) // 2)
        else:
            starts.append(min(max(box_start(c, s), 0), n - s))
    return starts[0], starts[1], starts[0] + size[0], starts[1] + size[1]


def _overlap(box: Box, shape) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """(image slices, box-local slices) of the part of `box` that lies inside an image of `shape`."""
    r0, c0, r1, c1 = box
    h, w = shape[:2]
    ir0, ic0, ir1, ic1 = max(r0, 0), max(c0, 0), min(r1, h), min(c1, w)
    if ir1 <= ir0 or ic1 <= ic0:
        return (slice(0, 0), slice(0, 0)), (slice(0, 0), slice(0, 0))
    return (slice(ir0, ir1), slice(ic0, ic1)), (slice(ir0 - r0, ir1 - r0), slice(ic0 - c0, ic1 - c0))


def crop(array: np.ndarray, box: Box) -> np.ndarray:
    """array[r0:r1, c0:c1, ...] of shape (r1 - r0, c1 - c0, ...), zeros where the box leaves the image."""
    array = np.asarray(array)
    r0, c0, r1, c1 = (int(v) for v in box)
    out = np.zeros((r1 - r0, c1 - c0) + array.shape[2:], dtype=array.dtype)
    image_part, local_part = _overlap((r0, c0, r1, c1), array.shape)
    out[local_part] = array[image_part]
    return out


def paste(patch: np.ndarray, box: Box, shape: Sequence[int]) -> np.ndarray:
    """Array of `shape` (its first two axes; trailing axes default to the patch's) holding `patch` at `box`, zeros elsewhere."""
    patch = np.asarray(patch)
    r0, c0, r1, c1 = (int(v) for v in box)
    if patch.shape[:2] != (r1 - r0, c1 - c0):
        raise ValueError(f"patch {patch.shape[:2]} does not match box {(r0, c0, r1, c1)}")
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        shape = shape + patch.shape[2:]
    out = np.zeros(shape, dtype=patch.dtype)
    image_part, local_part = _overlap((r0, c0, r1, c1), shape)
    out[image_part] = patch[local_part]
    return out


def roi_box(mask3d: np.ndarray, margin: int | Sequence[int] = 0) -> tuple[slice, ...] | None:
    """Bounding box of a stage-1 mask widened by `margin` voxels (int or one per axis), clamped to the array; None if empty."""
    mask3d = np.asarray(mask3d)
    box = bbox(mask3d)
    if box is None:
        return None
    margins = (int(margin),) * mask3d.ndim if isinstance(margin, (int, np.integer)) else tuple(int(m) for m in margin)
    if len(margins) != mask3d.ndim or min(margins) < 0:
        raise OptionError(f"margin must be a non-negative int or one per axis ({mask3d.ndim}), got {margin}")
    return tuple(slice(max(s.start - m, 0), min(s.stop + m, n)) for s, m, n in zip(box, margins, mask3d.shape))


@dataclass(frozen=True)
class CropBox:
    """A recorded crop: box (r0, c0, r1, c1) in an image of `shape` (H, W), optionally of axial slice `z`."""

    r0: int
    c0: int
    r1: int
    c1: int
    shape: tuple[int, int]
    z: int | None = None

    @property
    def box(self) -> Box:
        return self.r0, self.c0, self.r1, self.c1

    @classmethod
    def around(cls, mask2d: np.ndarray, size, z: int | None = None) -> "CropBox | None":
        """Box of `size` centred on the centre of the four boundary points of `mask2d` (Gong 2.2); None if empty.

        The centre is exact ((min + max) / 2, possibly half a pixel), so the box equals the
        un-jittered training crop of `liverseg.data.crops.centred_box`.
        """
        box = bbox(mask2d)
        if box is None:
            return None
        centre = tuple((b.start + b.stop - 1) / 2.0 for b in box)
        shape = tuple(int(s) for s in np.shape(mask2d))
        return cls(*centred_box(centre, size, shape), shape=shape, z=z)

    def crop(self, array: np.ndarray) -> np.ndarray:
        return crop(array, self.box)

    def paste(self, patch: np.ndarray) -> np.ndarray:
        return paste(patch, self.box, self.shape)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shape"] = list(self.shape)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CropBox":
        try:
            return cls(
                r0=int(data["r0"]), c0=int(data["c0"]), r1=int(data["r1"]), c1=int(data["c1"]),
                shape=tuple(int(s) for s in data["shape"]),
                z=None if data.get("z") is None else int(data["z"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise OptionError(f"bad crop box record {data!r}: {exc}") from None


def write_boxes(path, boxes: Sequence[CropBox | None]) -> None:
    """Write a list of boxes (None for slices without a crop) as JSON, atomically (`liverseg.io.atomic`)."""
    atomic_write_json(path, [None if b is None else b.to_dict() for b in boxes])


def read_boxes(path) -> list[CropBox | None]:
    """Inverse of `write_boxes`; a missing or malformed file is an InputError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, list):
            raise ValueError("expected a JSON list")
        return [None if d is None else CropBox.from_dict(d) for d in data]
    except FileNotFoundError:
        raise InputError(path, "crop box file not found") from None
    except (ValueError, OptionError) as exc:
        raise InputError(path, f"not a crop box file ({exc})") from None


def _as_predict_fn(model_or_fn, batch_size: int) -> Callable[[np.ndarray], np.ndarray]:
    """A Keras model (anything with `predict_on_batch`) goes through the fixed-shape `predict_slices`."""
    if hasattr(model_or_fn, "predict_on_batch"):
        return lambda x: predict_slices(model_or_fn, x, batch_size=batch_size)
    if not callable(model_or_fn):
        raise OptionError(f"expected a Keras model or a prediction function, got {type(model_or_fn).__name__}")
    return model_or_fn


def _check_boxes(boxes: Sequence[CropBox | None], keep: list[int], shape: tuple[int, int]) -> None:
    sizes = {(boxes[i].r1 - boxes[i].r0, boxes[i].c1 - boxes[i].c0) for i in keep}
    if len(sizes) > 1:
        raise OptionError(f"all crop boxes must have the same size, got {sorted(sizes)}")
    grids = {tuple(boxes[i].shape) for i in keep} - {shape}
    if grids:
        raise OptionError(f"crop boxes were made for slices of shape {sorted(grids)}, "
                          f"but the slices to predict are {shape}")


def predict_in_boxes(predict_fn, slices: np.ndarray, boxes: Sequence[CropBox | None], channels: int = 1, *,
                     batch_size: int = 8) -> np.ndarray:
    """Predict each slice (N, H, W, C) inside its box and paste the result back: (N, H, W, K) float32.

    The crops of all slices that have a box (all boxes must have the same size and have been made
    for H x W slices) go to one `predict_fn` call; slices whose box is None, and everything
    outside a box, get zeros.  `predict_fn` is a function of the crops (M, h, w, C) or a Keras
    model; a model is called through `liverseg.infer.predict.predict_slices`, `batch_size` crops at
    a time with the last batch padded, so it sees one batch shape however many slices have a box.
    `channels` is K when no slice has a box (otherwise K is taken from the prediction).
    """
    slices = np.asarray(slices, dtype=np.float32)
    if slices.ndim != 4 or len(boxes) != len(slices):
        raise ValueError(f"expected (N, H, W, C) slices and N boxes, got {slices.shape} and {len(boxes)}")
    predict_fn = _as_predict_fn(predict_fn, batch_size)
    n, h, w, _ = slices.shape
    keep = [i for i, b in enumerate(boxes) if b is not None]
    _check_boxes(boxes, keep, (h, w))
    if not keep:
        return np.zeros((n, h, w, channels), dtype=np.float32)
    patches = np.stack([crop(slices[i], boxes[i].box) for i in keep])
    pred = np.asarray(predict_fn(patches), dtype=np.float32)
    out = np.zeros((n, h, w, pred.shape[-1]), dtype=np.float32)
    for j, i in enumerate(keep):
        out[i] = paste(pred[j], boxes[i].box, (h, w))
    return out


__all__ = [
    "Box", "bbox", "bbox_centre", "box_start", "centred_box", "crop", "paste", "roi_box",
    "CropBox", "write_boxes", "read_boxes", "predict_in_boxes",
]
