"""LiTS lesion detection (connected components matched by IoU) and tumour-burden error."""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from liverseg.evaluation.surface import union_box

# Detection levels reported: key suffix -> a truth lesion counts as detected when IoU > value.
DETECTION_THRESHOLDS = {"50": 0.5, "any": 0.0}


def _groups(inter: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """Match predicted components (rows) to truth components (columns) from their overlap counts.

    The LiTS scorer's merge rule: every overlapped truth lesion joins the predicted lesion that
    overlaps it most; the truth lesions joined to one prediction form a merged truth group; every
    overlapping predicted lesion then goes to the group it overlaps most, and the predictions of
    one group are merged. Ties go to the lowest label. Returns [(pred indices, truth indices)]
    for every group that received at least one prediction.
    """
    n_pred, n_truth = inter.shape
    owner = {j: int(np.argmax(inter[:, j])) for j in range(n_truth) if inter[:, j].any()}
    group_of_owner: dict[int, list[int]] = {}
    for j, i in owner.items():
        group_of_owner.setdefault(i, []).append(j)
    truth_groups = sorted(group_of_owner.values(), key=min)
    preds: list[list[int]] = [[] for _ in truth_groups]
    for i in range(n_pred):
        if not inter[i].any():
            continue
        overlaps = [inter[i, cols].sum() for cols in truth_groups]
        preds[int(np.argmax(overlaps))].append(i)
    return [(p, g) for p, g in zip(preds, truth_groups) if p]


def lesion_detection(pred_tumour, truth_tumour, spacing) -> dict:
    """Lesion-wise detection scores of a binary tumour prediction against the truth.

    Lesions are the 3D connected components with face connectivity (6-neighbourhood in 3D),
    as ``scipy.ndimage.label``'s default used by the LiTS scorer. Predicted and truth lesions
    are matched and merged with the scorer's rule (see `_groups`); a matched group is detected
    at level "50" when the IoU of its merged prediction and merged truth is > 0.5, and at level
    "any" when they overlap at all.

    Keys: ``num_truth``, ``num_pred`` (lesion counts), ``truth_ml``, ``pred_ml`` (tumour volume
    in millilitres from `spacing` in mm), and for each level l in ("50", "any"):
    ``tp_<l>`` truth lesions in detected groups, ``fn_<l>`` = num_truth - tp,
    ``fp_<l>`` predicted lesions outside detected groups, ``precision_<l>`` = tp / (tp + fp),
    ``recall_<l>`` = tp / num_truth (NaN when the denominator is 0).

    The scorer's own detection (``--protocol lits``: `liverseg.evaluation.lits_matching`) uses the
    same merge rule but departs from it in three places kept out of this one: its IoU test counts
    the union under the predicted lesion's label, which is the true union only when that equals
    the truth lesion's label; a detected merged truth group counts there as one lesion (here: as
    its number of truth lesions) and a missed one subtracts all of them (here: none); and its
    detected-lesion mask is uint8 (labels above 255 wrap).
    """
    pred = np.asarray(pred_tumour).astype(bool, copy=False)
    truth = np.asarray(truth_tumour).astype(bool, copy=False)
    if pred.shape != truth.shape:
        raise ValueError(f"pred shape {pred.shape} differs from truth shape {truth.shape}")
    voxel_ml = float(np.prod(np.asarray(spacing, dtype=np.float64))) / 1000.0
    box = union_box(pred, truth, margin=0)
    if box is not None:
        pred, truth = pred[box], truth[box]
    pred_ids, n_pred = ndimage.label(pred)
    truth_ids, n_truth = ndimage.label(truth)
    out = dict(
        num_truth=int(n_truth),
        num_pred=int(n_pred),
        truth_ml=int(np.count_nonzero(truth)) * voxel_ml,
        pred_ml=int(np.count_nonzero(pred)) * voxel_ml,
    )
    both = (pred_ids > 0) & (truth_ids > 0)
    pairs = (pred_ids[both].astype(np.int64) - 1) * n_truth + (truth_ids[both] - 1)
    inter = np.bincount(pairs, minlength=n_pred * n_truth).reshape(n_pred, n_truth)
    pred_size = np.bincount(pred_ids.ravel(), minlength=n_pred + 1)[1:]
    truth_size = np.bincount(truth_ids.ravel(), minlength=n_truth + 1)[1:]
    ious = []
    for p, g in _groups(inter):
        overlap = int(inter[np.ix_(p, g)].sum())
        union = int(pred_size[p].sum() + truth_size[g].sum()) - overlap
        ious.append((overlap / union, len(p), len(g)))
    for level, threshold in DETECTION_THRESHOLDS.items():
        detected = [(n_p, n_g) for iou, n_p, n_g in ious if iou > threshold]
        tp = sum(n_g for _, n_g in detected)
        fp = n_pred - sum(n_p for n_p, _ in detected)
        out[f"tp_{level}"] = tp
        out[f"fp_{level}"] = fp
        out[f"fn_{level}"] = n_truth - tp
        out[f"precision_{level}"] = tp / (tp + fp) if tp + fp else math.nan
        out[f"recall_{level}"] = tp / n_truth if n_truth else math.nan
    return out


def burden(labels) -> float:
    """Tumour burden of a label volume: voxels labelled 2 / voxels labelled >= 1 (0 without liver)."""
    labels = np.asarray(labels)
    liver = int(np.count_nonzero(labels >= 1))
    return int(np.count_nonzero(labels == 2)) / liver if liver else 0.0


def tumour_burden(pred_labels, truth_labels) -> dict:
    """LiTS tumour burden (tumour / liver volume ratio) of prediction and truth and the absolute
    error |burden(pred) - burden(truth)|.

    The LiTS scorer gives a prediction without label 1 a burden of 9001 and keeps the sign,
    burden(truth) - burden(pred), so its "max error" is the largest signed error (per-case
    columns ``tumour_burden_pred_lits``, ``tumour_burden_error_lits``:
    `liverseg.evaluation.lits_scorer`); here a volume without liver has burden 0, so the error
    stays in [0, 1], and `aggregate` reports the largest absolute error.
    """
    b_pred, b_truth = burden(pred_labels), burden(truth_labels)
    return dict(
        tumour_burden_truth=b_truth,
        tumour_burden_pred=b_pred,
        tumour_burden_error=abs(b_pred - b_truth),
    )
