"""Overlap-tile inference (Ronneberger et al. 2015, Fig. 2) for networks whose output is smaller than
their input (valid padding): the slice is mirror-padded, cut into input tiles whose output tiles
cover it, and the output tiles are stitched.

Tile offsets are multiples of `align` (2**depth for a valid U-Net), so neighbouring tiles see the
same pooling grid and agree exactly where they overlap; the stitched result then equals the
prediction of one large valid input (`liverseg.nn.valid_unet.mirror_padded`), cropped.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from liverseg.errors import OptionError


def tile_offsets(size: int, tile_out: int, align: int) -> list[int]:
    """Offsets (multiples of `align`) of output tiles of `tile_out` pixels that cover `size` pixels."""
    step = (tile_out // align) * align
    if step < 1:
        raise OptionError(f"output tile {tile_out} is smaller than the alignment {align}")
    offsets = [0]
    while offsets[-1] + tile_out < size:
        offsets.append(offsets[-1] + step)
    return offsets


def overlap_tile_predict(predict_fn: Callable[[np.ndarray], np.ndarray], slices: np.ndarray, tile_in: int,
                         tile_out: int, align: int) -> np.ndarray:
    """Probabilities (N, H, W, K) of `predict_fn` ((n, tile_in, tile_in, C) -> (n, tile_out, tile_out, K))
    on slices (N, H, W, C) by overlap-tile with mirror padding; overlapping tiles are averaged."""
    slices = np.asarray(slices, dtype=np.float32)
    if slices.ndim != 4:
        raise OptionError(f"slices must be (N, H, W, C), got shape {slices.shape}")
    if (tile_in - tile_out) % 2 or tile_out < 1:
        raise OptionError(f"tile {tile_in} -> {tile_out}: the border must be even and the output non-empty")
    margin = (tile_in - tile_out) // 2
    _, h, w, _ = slices.shape
    rows, cols = tile_offsets(h, tile_out, align), tile_offsets(w, tile_out, align)
    out_h, out_w = rows[-1] + tile_out, cols[-1] + tile_out
    canvas = np.pad(slices, ((0, 0), (margin, margin + out_h - h), (margin, margin + out_w - w), (0, 0)),
                    mode="reflect")
    total = count = None
    for r in rows:
        for c in cols:
            probs = np.asarray(predict_fn(canvas[:, r:r + tile_in, c:c + tile_in]), dtype=np.float32)
            if probs.shape[1:3] != (tile_out, tile_out):
                raise OptionError(f"the network gives {probs.shape[1:3]} for a {tile_in} px tile, expected "
                                  f"{tile_out} (check the tile sizes against the network's depth)")
            if total is None:
                total = np.zeros((len(slices), out_h, out_w, probs.shape[-1]), np.float32)
                count = np.zeros((1, out_h, out_w, 1), np.float32)
            total[:, r:r + tile_out, c:c + tile_out] += probs
            count[:, r:r + tile_out, c:c + tile_out] += 1.0
    return (total / count)[:, :h, :w]


__all__ = ["tile_offsets", "overlap_tile_predict"]
