"""The LiTS scorer's lesion matching, step by step as the scorer does it (`--protocol lits`).

The official scorer (PatrickChrist/lits-challenge-scoring, ``program/helpers/calc_metric.py``,
``detect_lesions``) labels the lesions of prediction and truth (label 2) as 3D connected
components with face connectivity (``scipy.ndimage.label``'s default) and then:

1. keeps the predicted lesions that overlap a truth lesion, and counts their overlap with every
   truth lesion (rows: predicted lesions, columns: truth lesions, both in label order);
2. for each predicted lesion in label order: the truth lesions it overlaps *and* overlaps more
   than any other predicted lesion (``argmax`` of the column, the lowest label on a tie) are
   merged into one truth lesion carrying the lowest of their labels; each of them records the
   size of that merge (1 when not merged);
3. every predicted lesion is matched to the (merged) truth lesion it overlaps most; the predicted
   lesions matched to one truth lesion are merged, and their voxels are given that truth lesion's
   label in the "detected" mask;
4. a matched pair is undetected when intersection / union <= `min_overlap`: its voxels are
   cleared from the detected mask and the number of detected lesions (which starts at the number
   of matched pairs) drops by the recorded merge size of its truth lesion.

What the scorer computes in step 4, and this module therefore computes too:

- the union is counted as |detected mask == *predicted* label| + |truth == truth label| minus the
  overlap, i.e. the detected voxels are looked up under the predicted lesion's label although
  they carry the truth lesion's label. When both labels are equal (one lesion each, or lesions in
  the same raster order) this is the true union; otherwise it counts another matched prediction,
  or none, and the IoU it tests is not the pair's. Clearing in step 4 happens in pair order, so
  an earlier undetected pair changes later unions;
- a detected pair counts one lesion even when its truth lesion merged several; an undetected one
  subtracts all of them, so a case's count can go below the number of detected pairs, even below
  0 (and a case with a count <= 0 has no lesion scores at all, see `liverseg.evaluation.lits_scorer`);
- the detected mask is uint8, so a truth label above 255 wraps around (mod 256), as in the scorer.

Because labels follow the raster (C) order of the array, the result can depend on the array's
layout: pass the arrays as stored in the files (`liverseg.evaluation.cases` does). A truth without
lesions detects nothing (the scorer's own early return there has a stale 5-value form that its
caller cannot unpack; this is the outcome it means: 0 detected, every predicted lesion a false
positive). Written from the scorer's source; no scorer code is used.
"""
from __future__ import annotations

import numpy as np

LESION_LABEL = 2


def _overlap_counts(pred_ids: np.ndarray, truth_ids: np.ndarray, p_list: np.ndarray, g_list: np.ndarray) -> np.ndarray:
    """int64 matrix (len(p_list), len(g_list)): voxels of predicted label p_list[i] inside truth label g_list[j]."""
    both = (pred_ids > 0) & (truth_ids > 0)
    rows = np.searchsorted(p_list, pred_ids[both])
    cols = np.searchsorted(g_list, truth_ids[both])
    flat = np.bincount(rows * len(g_list) + cols, minlength=len(p_list) * len(g_list))
    return flat.reshape(len(p_list), len(g_list)).astype(np.int64)


def match_lesions(pred_ids, truth_ids, min_overlap: float) -> tuple[np.ndarray, np.ndarray, int]:
    """The scorer's ``detect_lesions`` on two connected-component label arrays of one shape.

    Returns (detected, merged_truth, num_detected): `detected` (uint8) holds every detected
    predicted lesion under the label of the truth lesion it was matched to, `merged_truth` the
    truth labels after step 2's merges, `num_detected` the scorer's count (see the module
    docstring; it can be negative). `min_overlap` 0.5 is the scorer's detection (IoU > 0.5),
    0 its "greater than zero" detection (any overlap).
    """
    pred_ids = np.asarray(pred_ids)
    truth_ids = np.asarray(truth_ids)
    if pred_ids.shape != truth_ids.shape:
        raise ValueError(f"pred shape {pred_ids.shape} differs from truth shape {truth_ids.shape}")
    detected = np.zeros(pred_ids.shape, dtype=np.uint8)
    merged = truth_ids.copy()
    if not truth_ids.any():
        return detected, merged, 0
    p_list = np.unique(pred_ids[truth_ids > 0])
    p_list = p_list[p_list != 0]
    g_list = np.unique(truth_ids)
    g_list = g_list[g_list != 0]
    inter = _overlap_counts(pred_ids, truth_ids, p_list, g_list)

    # step 2: merge the truth lesions a predicted lesion overlaps most (columns)
    merge_size = {int(g): 1 for g in g_list}
    for i in range(len(p_list)):
        cols = [int(c) for c in np.flatnonzero(inter[i]) if int(np.argmax(inter[:, c])) == i]
        for c in cols:
            merge_size[int(g_list[c])] = len(cols)
        if len(cols) > 1:
            for c in cols[1:]:
                merged[merged == g_list[c]] = g_list[cols[0]]
            inter[:, cols[0]] = inter[:, cols].sum(axis=1)
            inter = np.delete(inter, cols[1:], axis=1)
            g_list = np.delete(g_list, cols[1:])

    # step 3: each predicted lesion keeps only its largest overlap; merge the rows of one column
    if len(p_list):
        best = np.argmax(inter, axis=1)
        best_value = inter[np.arange(len(p_list)), best]
        inter[...] = 0
        inter[np.arange(len(p_list)), best] = best_value
    for j in range(len(g_list)):
        rows = np.flatnonzero(inter[:, j])
        members = p_list[rows]
        if len(rows) > 1:
            inter[rows[0]] = inter[rows].sum(axis=0)
            inter = np.delete(inter, rows[1:], axis=0)
            p_list = np.delete(p_list, rows[1:])
        value = np.asarray(g_list[j]).astype(np.uint8)  # the scorer's uint8 mask: wraps above 255
        for p in members:
            detected[pred_ids == p] = value

    # step 4: clear the pairs at or below min_overlap (the scorer's union, see the module docstring)
    num_detected = len(p_list)
    for i, p in enumerate(p_list):
        for j, g in enumerate(g_list):
            overlap = int(inter[i, j])
            if overlap == 0:
                continue
            union = int(np.count_nonzero((detected == p) | (merged == g)))
            if float(overlap) / union <= min_overlap:
                detected[detected == g] = 0
                num_detected -= merge_size[int(g)]
    return detected, merged, num_detected


__all__ = ["LESION_LABEL", "match_lesions"]
