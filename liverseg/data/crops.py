"""Crop-box arithmetic (plain NumPy, shared with inference) and the per-sample crop list of a dataset.

* "none": the whole slice.
* "tiles": the slice cut into non-overlapping `crop_size` tiles in row-major order (Gong 2.1: a
  512 x 512 slice gives four 256 x 256 tiles). When the size does not divide the slice, one more
  tile per axis is aligned to the far edge (it overlaps its neighbour). With sampling "tumour" or
  "liver" only tiles containing `crop_target` are kept; with "all" / "balanced" every tile is.
* "centred": a `crop_size` box centred on the centre of the bounding box of `crop_target` in the
  slice (Gong 2.2: "through the four boundary points of the tumour ... calculate the centre"),
  shifted during training by a uniform random integer in [-crop_jitter, crop_jitter] per axis, and
  clamped inside the slice. A slice without the target is centred on the slice centre.

Boxes are `(r0, c0, r1, c1)`, half-open, in (row, column) = (H, W) of a cached slice.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from liverseg.errors import OptionError

CROPS = ("none", "tiles", "centred")
TARGETS = ("liver", "tumour", "liver_only", "other")


def box_start(centre: float, size: int) -> int:
    """First index of a `size` window centred on `centre`: floor(centre - (size - 1) / 2 + 0.5).

    The one rule for every centred crop, at training (this module) and at inference."""
    return int(np.floor(float(centre) - (size - 1) / 2.0 + 0.5))


def target_mask(label: np.ndarray, target: str) -> np.ndarray:
    """Binary target of a label array: "liver" = label >= 1 (liver including tumour), "tumour" =
    label == 2, "liver_only" = label == 1 (liver tissue without tumour), "other" = label == 0. The
    last two with "tumour" make three exclusive classes for a softmax output (Gruber 2.1)."""
    if target == "liver":
        return label >= 1
    if target == "tumour":
        return label == 2
    if target == "liver_only":
        return label == 1
    if target == "other":
        return label == 0
    raise OptionError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")


def centre_origin(mask2d: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner (unclamped) of a `size` box centred on the bounding-box centre of `mask2d`."""
    rows = np.flatnonzero(mask2d.any(axis=1))
    cols = np.flatnonzero(mask2d.any(axis=0))
    if len(rows):
        cr, cc = (rows[0] + rows[-1]) / 2.0, (cols[0] + cols[-1]) / 2.0
    else:
        cr, cc = (mask2d.shape[0] - 1) / 2.0, (mask2d.shape[1] - 1) / 2.0
    return box_start(cr, size), box_start(cc, size)


def clamp_origin(r0: int, c0: int, size: int, shape: tuple[int, int]) -> tuple[int, int]:
    """Shift a `size` box's corner so the box lies inside an image of `shape`."""
    if size > shape[0] or size > shape[1]:
        raise OptionError(f"crop_size={size} is larger than the slice {shape[0]}x{shape[1]}")
    return int(np.clip(r0, 0, shape[0] - size)), int(np.clip(c0, 0, shape[1] - size))


def centred_box(mask2d: np.ndarray, size: int, jitter: int = 0, rng: np.random.Generator | None = None):
    """`(r0, c0, r1, c1)` of a `size` box centred on the target's bounding box, jittered, clamped."""
    r0, c0 = centre_origin(np.asarray(mask2d, bool), size)
    if jitter:
        rng = rng if rng is not None else np.random.default_rng()
        dr, dc = rng.integers(-jitter, jitter + 1, size=2)
        r0, c0 = r0 + int(dr), c0 + int(dc)
    r0, c0 = clamp_origin(r0, c0, size, mask2d.shape)
    return r0, c0, r0 + size, c0 + size


def tile_origins(length: int, size: int) -> list[int]:
    """Starts of the tiles along one axis (one extra far-aligned tile when `size` does not divide it)."""
    if size > length:
        raise OptionError(f"crop_size={size} is larger than the slice size {length}")
    starts = list(range(0, length - size + 1, size))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def tile_boxes(shape: tuple[int, int], size: int) -> list[tuple[int, int, int, int]]:
    """All tiles `(r0, c0, r1, c1)` of an image of `shape`, row-major."""
    return [(r, c, r + size, c + size) for r in tile_origins(shape[0], size) for c in tile_origins(shape[1], size)]


def crop_items(cache, slices: pd.DataFrame, cfg, case_index: dict[str, int]) -> np.ndarray:
    """One row per training sample: `(case, slice_index, r0, c0)` int64, `(r0, c0)` before jitter.

    Reads the label slices of `slices` once (per case, through the memory map) when the crop needs
    them ("tiles" filtering, "centred" centres).
    """
    if cfg.crop not in CROPS:
        raise OptionError(f"data.crop={cfg.crop!r}: choose one of {', '.join(CROPS)}")
    case = slices["case_id"].astype(str).map(case_index).to_numpy(np.int64)
    k = slices["slice_index"].to_numpy(np.int64)
    if cfg.crop == "none" or len(slices) == 0:
        return np.stack([case, k, np.zeros_like(k), np.zeros_like(k)], axis=1).reshape(-1, 4)
    if cfg.crop_size <= 0:
        raise OptionError(f"data.crop={cfg.crop!r} needs data.crop_size > 0")
    items = []
    ids = {v: c for c, v in case_index.items()}
    for ci in dict.fromkeys(case.tolist()):
        sel = np.flatnonzero(case == ci)
        labels = np.asarray(cache.label(ids[ci])[k[sel]])
        shape = labels.shape[1:]
        for row, lab in zip(sel, labels):
            mask = target_mask(lab, cfg.crop_target)
            if cfg.crop == "centred":
                r0, c0 = centre_origin(mask, cfg.crop_size)
                clamp_origin(r0, c0, cfg.crop_size, shape)  # size check
                items.append((ci, k[row], r0, c0))
                continue
            for r0, c0, r1, c1 in tile_boxes(shape, cfg.crop_size):
                if cfg.sampling in ("tumour", "liver") and not mask[r0:r1, c0:c1].any():
                    continue
                items.append((ci, k[row], r0, c0))
    return np.asarray(items, np.int64).reshape(-1, 4)


__all__ = ["CROPS", "target_mask", "centre_origin", "clamp_origin", "centred_box", "tile_origins",
           "tile_boxes", "crop_items"]
