"""Surface voxels of binary masks and exact nearest-surface-point distances in mm.

Three surface definitions are offered, each "mask XOR its erosion" with a different
structuring element and treatment of the volume border:

=========  ==============================================  ======================================
name       erosion structuring element                      voxels outside the array count as
=========  ==============================================  ======================================
``lits``   ``generate_binary_structure(ndim, 2)``           background (volume-border voxels of a
           (18-neighbourhood in 3D: faces and edges)        mask are surface voxels)
``medpy``  ``generate_binary_structure(ndim, 1)``           background
           (6-neighbourhood in 3D: faces only)
``chaos``  ``generate_binary_structure(ndim, 1)``           foreground (``border_value=1``: a mask
                                                            voxel on the volume border is surface
                                                            only if it touches background inside)
=========  ==============================================  ======================================

``lits`` is the LiTS challenge scorer (lits-challenge-scoring, ``helpers/surface.py``:
``binary_erosion(mask, generate_binary_structure(3, 2))`` with scipy's default
``border_value=0``), ``medpy`` is ``medpy.metric.binary.__surface_distances`` (connectivity 1,
default border) and ``chaos`` is the CHAOS challenge scorer (``CHAOSmetrics.SSD``). The
18-neighbourhood erosion removes more voxels, so LiTS surfaces are thicker than medpy's and
CHAOS's.

Distances are Euclidean distances between voxel centres in mm (``index * spacing``), from each
surface voxel of one mask to the nearest surface voxel of the other, exact (a k-d tree query
with no approximation). Everything runs inside the bounding box of the union of both masks
plus a one-voxel margin clipped to the array: the margin voxels are background, so erosion,
surfaces and distances are the same as on the whole array, whatever the border rule.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

# name -> (connectivity passed to generate_binary_structure, border_value of the erosion)
SURFACE_DEFINITIONS = {
    "lits": (2, 0),
    "medpy": (1, 0),
    "chaos": (1, 1),
}


def check_definition(definition: str) -> tuple[int, int]:
    """Return (connectivity, border_value) of a surface definition; ValueError for an unknown name."""
    try:
        return SURFACE_DEFINITIONS[definition]
    except KeyError:
        raise ValueError(
            f"unknown surface definition {definition!r}; expected one of {sorted(SURFACE_DEFINITIONS)}"
        ) from None


def bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding every True voxel of `mask`, grown by `margin` voxels on
    each side and clipped to the array; None when `mask` is empty."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == 0:
        raise ValueError("mask must have at least one axis")
    # One full pass collapses the last axis; the remaining projections are small.
    head = mask.any(axis=-1) if mask.ndim > 1 else mask
    if not head.any():
        return None
    slices = []
    for axis in range(mask.ndim):
        if axis == mask.ndim - 1:
            hits = mask.any(axis=tuple(range(mask.ndim - 1))) if mask.ndim > 1 else mask
        else:
            hits = head.any(axis=tuple(a for a in range(head.ndim) if a != axis))
        idx = np.flatnonzero(hits)
        slices.append(slice(max(int(idx[0]) - margin, 0), min(int(idx[-1]) + 1 + margin, mask.shape[axis])))
    return tuple(slices)


def union_box(a: np.ndarray, b: np.ndarray, margin: int = 1) -> tuple[slice, ...] | None:
    """Bounding box (with `margin`) of the union of two masks of the same shape; None if both are empty."""
    boxes = [box for box in (bounding_box(a), bounding_box(b)) if box is not None]
    if not boxes:
        return None
    shape = np.shape(a)
    return tuple(
        slice(max(min(box[i].start for box in boxes) - margin, 0), min(max(box[i].stop for box in boxes) + margin, shape[i]))
        for i in range(len(shape))
    )


def surface_mask(mask: np.ndarray, definition: str = "lits") -> np.ndarray:
    """Boolean array of the surface voxels of `mask` under `definition` (see the module docstring)."""
    connectivity, border_value = check_definition(definition)
    mask = np.asarray(mask, dtype=bool)
    structure = ndimage.generate_binary_structure(mask.ndim, connectivity)
    return mask ^ ndimage.binary_erosion(mask, structure=structure, border_value=border_value)


def surface_distances(pred: np.ndarray, truth: np.ndarray, spacing, definition: str = "lits"):
    """Directed nearest-surface distances in mm between two non-empty masks of the same shape.

    Returns (d_pred, d_truth): d_pred[i] is the distance from the i-th surface voxel of `pred` (in
    C order) to the nearest surface voxel of `truth`; d_truth the other way round. Surface voxels
    shared by both masks have distance 0 and are not searched.
    """
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"pred shape {pred.shape} differs from truth shape {truth.shape}")
    spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if spacing.size != pred.ndim:
        raise ValueError(f"spacing {spacing.tolist()} does not have one value per axis of shape {pred.shape}")
    box = union_box(pred, truth, margin=1)
    if box is None or not pred[box].any() or not truth[box].any():
        raise ValueError("surface distances need two non-empty masks")
    sp = surface_mask(pred[box], definition)
    st = surface_mask(truth[box], definition)
    return _directed(sp, st, spacing), _directed(st, sp, spacing)


def _directed(source: np.ndarray, target: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Distances from every True voxel of `source` to the nearest True voxel of `target` (C order)."""
    shared = (source & target)[source]
    out = np.zeros(shared.shape, dtype=np.float64)
    todo = ~shared
    if todo.any():
        tree = cKDTree(np.argwhere(target) * spacing, balanced_tree=False, compact_nodes=False)
        points = np.argwhere(source & ~target) * spacing
        out[todo], _ = tree.query(points, k=1)
    return out
