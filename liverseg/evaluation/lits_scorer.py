"""The official LiTS scorer's figures (`--protocol lits`): its per-case columns and its summary.

The LiTS challenge scorer (PatrickChrist/lits-challenge-scoring, ``program/evaluate.py`` with
``program/helpers/{calc_metric,surface}.py``) is the program behind the LiTS numbers papers
report. `lits_case` computes, for one case, every value the scorer derives from it, as per-case
columns named ``<name>_lits``; `lits_summary` turns rows of them into the scorer's 24 summary
figures; `scores_txt` writes them as the scorer's ``scores.txt``. Written from the scorer's
source; no scorer code is used and nothing here imports MedPy.

Where the scorer differs from the project's own conventions (`liverseg.evaluation.volume_metrics`):

- liver: the prediction's liver is label >= 1 (liver and tumour), but only a prediction holding
  label 1 counts as having a liver (``liver_predicted_lits``). Without label 1 - even with
  tumour voxels - the case gets Dice = Jaccard = 0, VOE = 1 and RVD = ASSD = RMSD = MSD = 9001,
  and its prediction adds nothing to the global Dice (only its truth voxels count);
- RVD = ``medpy.metric.ravd(reference, prediction)`` = (|G| - |P|) / |P| (the project:
  (|P| - |G|) / |G|), for the liver and for every lesion;
- a prediction with label 1 against a truth without liver, and a lesion with an empty side: the
  same penalties (0, 0, 1, 9001, 9001, 9001, 9001);
- ASSD = (sum of both directed nearest-surface distances) / (|S(P)| + |S(G)|), RMSD the root of the
  same mean of squares, MSD the largest distance, in mm from the truth file's voxel spacing, on
  the 18-neighbourhood surfaces (`liverseg.evaluation.surface`, definition ``"lits"``), each pair
  inside the bounding box of its two masks, as the scorer crops them;
- lesions: 3D connected components of label 2 (face connectivity), matched and merged by the
  scorer's rule, detection counts included (`liverseg.evaluation.lits_matching`, with the
  scorer's quirks). The tumour segmentation figures Dice, Jaccard, VOE, RVD, ASSD, RMSD, MSD are
  computed per *detected* lesion (IoU > 0.5) and averaged over the detected lesions of all
  cases; a case whose detection count is <= 0 contributes no lesion; with no case detecting
  anything they take the penalty values;
- precision = TP / (TP + FP), recall = TP / (TP + FN), 0 when the denominator is 0 (the
  project: NaN), pooled over cases, at IoU > 0.5 (``lesion_precision``) and > 0
  (``..._greater_zero``);
- tumour burden: burden = |label 2| / |label >= 1|; a prediction without label 1 has burden
  9001; the error is *signed*, burden(truth) - burden(prediction); RMSE over cases and "max
  error" = the largest signed error (the project: the largest absolute error).

Per-case Dice of the tumour (both empty = 1) and the global tumour Dice are the same in both
protocols; the summary reads them from the project's columns.

Cases the scorer cannot score (it stops with an exception), and what is done here instead:

- a truth without liver: its tumour burden divides by zero; ``tumour_burden_error_lits`` is NaN
  (and so are the burden figures); ``liverseg evaluate --protocol lits`` refuses such a truth;
- no lesion voxels in any truth nor prediction: the global lesion Dice divides by zero; NaN here;
- a truth without lesions: the scorer's ``detect_lesions`` returns a tuple its caller cannot
  unpack; here it detects nothing, every predicted lesion being a false positive (what the
  scorer intends there).

Per-case columns (``lits_case``):

- ``liver_predicted_lits``: the prediction holds label 1;
- ``liver_<m>_lits`` for m in dice, jaccard, voe, rvd, assd, rmsd, msd; ``liver_pred_voxels_lits``,
  ``liver_intersection_voxels_lits`` (0 without label 1: the global Dice's terms);
- ``lesion_tp_<l>_lits``, ``lesion_fp_<l>_lits``, ``lesion_fn_<l>_lits`` for l in "50", "any": the
  scorer's TP (its detection count, which can be negative), FP = predicted lesions - TP,
  FN = truth lesions - TP;
- ``tumour_lesions_scored_lits``: detected lesions scored in this case; ``tumour_<m>_lits``: their
  mean for each m above (NaN when none);
- ``tumour_burden_pred_lits`` (9001 without label 1), ``tumour_burden_error_lits``
  = burden(truth) - burden(pred).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from liverseg.errors import OptionError
from liverseg.evaluation.lits_matching import LESION_LABEL, match_lesions
from liverseg.evaluation.surface import surface_mask, union_box

LARGE = 9001  # the scorer's "maximum penalty" (calc_metric.LARGE)
SEGMENTATION_METRICS = ("dice", "jaccard", "voe", "rvd", "assd", "rmsd", "msd")
PENALTY = {"dice": 0.0, "jaccard": 0.0, "voe": 1.0, "rvd": float(LARGE), "assd": float(LARGE),
           "rmsd": float(LARGE), "msd": float(LARGE)}
DETECTION = {"any": 0.0, "50": 0.5}  # key suffix -> the scorer's min_overlap, in the scorer's order

# the scorer's scores.txt lines, in its order -> the key of `lits_summary` that holds the value
SCORES_TXT = {
    "lesion_precision": "lesion_precision_50",
    "lesion_recall": "lesion_recall_50",
    "lesion_precision_greater_zero": "lesion_precision_any",
    "lesion_recall_greater_zero": "lesion_recall_any",
    **{f"lesion_{m}": f"tumour_{m}" for m in SEGMENTATION_METRICS},
    "lesion_dice_per_case": "tumour_dice_per_case",
    "lesion_dice_global": "tumour_dice_global",
    **{f"liver_{m}": f"liver_{m}" for m in SEGMENTATION_METRICS},
    "liver_dice_per_case": "liver_dice_per_case",
    "liver_dice_global": "liver_dice_global",
    "RMSE_Tumorburden": "tumour_burden_rmse",
    "MAXERROR_Tumorburden": "tumour_burden_max",
}


def _nearest(tree_points: np.ndarray, query_points: np.ndarray) -> np.ndarray:
    return cKDTree(tree_points).query(query_points)[0]


def pair_scores(pred, truth, spacing) -> dict:
    """The scorer's ``compute_segmentation_scores`` for one object: two bool masks of one shape.

    Both non-empty: dice = 2|P∩G| / (|P| + |G|), jaccard = dice / (2 - dice), voe = 1 - jaccard,
    rvd = (|G| - |P|) / |P|, and the surface distances of the module docstring, on the masks
    cropped to the bounding box of P∪G (as the scorer does; coordinates are voxel index in that
    box x spacing). One of them empty: `PENALTY`.
    """
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    box = union_box(pred, truth, margin=0)
    if box is None:
        return dict(PENALTY)
    p, g = pred[box], truth[box]
    n_p, n_g = int(np.count_nonzero(p)), int(np.count_nonzero(g))
    if n_p == 0 or n_g == 0:
        return dict(PENALTY)
    dice = 2.0 * int(np.count_nonzero(p & g)) / float(n_p + n_g)
    jaccard = dice / (2.0 - dice)
    spacing = np.asarray(spacing, dtype=np.float64)
    points_p = np.argwhere(surface_mask(p, "lits")) * spacing
    points_g = np.argwhere(surface_mask(g, "lits")) * spacing
    d_g = _nearest(points_p, points_g)  # every truth surface point to the prediction's surface
    d_p = _nearest(points_g, points_p)
    n = len(points_p) + len(points_g)
    return {
        "dice": dice,
        "jaccard": jaccard,
        "voe": 1.0 - jaccard,
        "rvd": (n_g - n_p) / float(n_p),
        "assd": 1.0 / n * (d_g.sum() + d_p.sum()),
        "rmsd": math.sqrt(1.0 / n) * math.sqrt((d_g * d_g).sum() + (d_p * d_p).sum()),
        "msd": float(max(d_g.max(), d_p.max())),
    }


def _check_pair(pred, truth, spacing):
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred shape {pred.shape} differs from truth shape {truth.shape}")
    spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if spacing.size != pred.ndim:
        raise ValueError(f"spacing {spacing.tolist()} does not have one value per axis of shape {pred.shape}")
    return pred, truth, spacing


def _liver(pred, truth, spacing) -> dict:
    predicted = bool(np.any(pred == 1))
    p, g = pred >= 1, truth >= 1
    scores = pair_scores(p, g, spacing) if predicted else dict(PENALTY)
    out = {"liver_predicted_lits": predicted, **{f"liver_{m}_lits": float(v) for m, v in scores.items()}}
    out["liver_pred_voxels_lits"] = int(np.count_nonzero(p)) if predicted else 0
    out["liver_intersection_voxels_lits"] = int(np.count_nonzero(p & g)) if predicted else 0
    return out


def _lesions(pred, truth, spacing) -> dict:
    out = {}
    box = union_box(pred == LESION_LABEL, truth == LESION_LABEL, margin=0)
    if box is None:
        for level in DETECTION:
            out.update({f"lesion_{k}_{level}_lits": 0 for k in ("tp", "fp", "fn")})
        return {**out, "tumour_lesions_scored_lits": 0, **{f"tumour_{m}_lits": math.nan for m in SEGMENTATION_METRICS}}
    # component labels follow the raster order, the same inside the box as in the whole array
    pred_ids, n_pred = ndimage.label(pred[box] == LESION_LABEL)
    truth_ids, n_truth = ndimage.label(truth[box] == LESION_LABEL)
    for level, min_overlap in DETECTION.items():
        detected, merged, n_detected = match_lesions(pred_ids, truth_ids, min_overlap)
        out[f"lesion_tp_{level}_lits"] = int(n_detected)
        out[f"lesion_fp_{level}_lits"] = int(n_pred - n_detected)
        out[f"lesion_fn_{level}_lits"] = int(n_truth - n_detected)
    # lesion scores from the IoU > 0.5 detection (the last one), only when its count is > 0
    scored = []
    if n_detected > 0:
        for label in np.unique(detected):
            if label == 0:
                continue
            scored.append(pair_scores(detected == label, merged == label, spacing))
    out["tumour_lesions_scored_lits"] = len(scored)
    for m in SEGMENTATION_METRICS:
        out[f"tumour_{m}_lits"] = float(np.mean([s[m] for s in scored])) if scored else math.nan
    return out


def _burden(labels, has_liver: bool) -> float:
    return int(np.count_nonzero(labels == LESION_LABEL)) / float(np.count_nonzero(labels >= 1)) if has_liver else math.nan


def lits_case(pred_labels, truth_labels, spacing) -> dict:
    """Every ``*_lits`` per-case column (module docstring) of a label volume (0 background, 1 liver,
    2 tumour) against its truth, `spacing` in mm per axis.

    Pass the arrays as the scorer reads them, i.e. as stored in the truth file (the lesion matching
    depends on the raster order of the connected components); `liverseg.evaluation.cases` does.
    """
    pred, truth, spacing = _check_pair(pred_labels, truth_labels, spacing)
    out = _liver(pred, truth, spacing)
    out.update(_lesions(pred, truth, spacing))
    burden_truth = _burden(truth, bool(np.any(truth >= 1)))
    burden_pred = _burden(pred, True) if out["liver_predicted_lits"] else float(LARGE)
    out["tumour_burden_pred_lits"] = burden_pred
    out["tumour_burden_error_lits"] = burden_truth - burden_pred
    return out


LITS_COLUMNS = (
    "liver_predicted_lits", *(f"liver_{m}_lits" for m in SEGMENTATION_METRICS), "liver_pred_voxels_lits",
    "liver_intersection_voxels_lits",
    *(f"lesion_{k}_{level}_lits" for level in DETECTION for k in ("tp", "fp", "fn")),
    "tumour_lesions_scored_lits", *(f"tumour_{m}_lits" for m in SEGMENTATION_METRICS),
    "tumour_burden_pred_lits", "tumour_burden_error_lits",
)
# the project's columns the LiTS summary reads (they are the same in both protocols)
SHARED_COLUMNS = ("liver_truth_voxels", "tumour_dice", "tumour_pred_voxels", "tumour_truth_voxels",
                  "tumour_intersection_voxels")


def _global_dice(intersection: int, total: int) -> float:
    return 2.0 * intersection / total if total else math.nan  # the scorer divides by zero here


def lits_summary(frame) -> dict:
    """The scorer's summary figures from per-case rows (a DataFrame holding `LITS_COLUMNS` and
    `SHARED_COLUMNS`; means taken in row order, which for bit-identical sums is the scorer's:
    truth file names sorted as strings).

    Keys: ``num_cases``; ``liver_<m>`` (mean over cases) for m in `SEGMENTATION_METRICS`,
    ``liver_dice_per_case`` (= liver_dice), ``liver_dice_global``; ``tumour_<m>`` (mean over the
    detected lesions of every case, weighted by ``tumour_lesions_scored_lits``; `PENALTY` when no
    case detects a lesion), ``tumour_lesions_scored``, ``tumour_dice_per_case``,
    ``tumour_dice_global``; ``lesion_tp/fp/fn_<l>``, ``lesion_precision_<l>``, ``lesion_recall_<l>``
    for l in "50", "any"; ``tumour_burden_rmse``, ``tumour_burden_max`` (largest signed error).
    OptionError when the rows lack a column (per-case rows written before these columns existed).
    """
    missing = [c for c in (*LITS_COLUMNS, *SHARED_COLUMNS) if c not in frame.columns]
    if missing:
        raise OptionError(f"the per-case rows lack the LiTS scorer's columns ({', '.join(missing[:4])}"
                          f"{', ...' if len(missing) > 4 else ''}): score the cases again to use --protocol lits")
    out: dict = {"num_cases": int(len(frame))}
    if len(frame) == 0:
        return out

    def column(key):
        return frame[key].to_numpy(dtype=np.float64)

    def total(key):
        return int(frame[key].astype(np.int64).sum())

    for m in SEGMENTATION_METRICS:
        out[f"liver_{m}"] = float(np.mean(column(f"liver_{m}_lits")))
    out["liver_dice_per_case"] = out["liver_dice"]
    out["liver_dice_global"] = _global_dice(total("liver_intersection_voxels_lits"),
                                            total("liver_pred_voxels_lits") + total("liver_truth_voxels"))

    counts = column("tumour_lesions_scored_lits")
    out["tumour_lesions_scored"] = int(counts.sum())
    if not (column("lesion_tp_50_lits") > 0).any():
        out.update({f"tumour_{m}": PENALTY[m] for m in SEGMENTATION_METRICS})
    else:
        rows = counts > 0
        for m in SEGMENTATION_METRICS:
            weighted = (column(f"tumour_{m}_lits")[rows] * counts[rows]).sum()
            out[f"tumour_{m}"] = float(weighted / counts.sum()) if counts.sum() else math.nan
    out["tumour_dice_per_case"] = float(np.mean(column("tumour_dice")))
    out["tumour_dice_global"] = _global_dice(total("tumour_intersection_voxels"),
                                             total("tumour_pred_voxels") + total("tumour_truth_voxels"))

    for level in ("50", "any"):
        tp, fp, fn = (total(f"lesion_{k}_{level}_lits") for k in ("tp", "fp", "fn"))
        out.update({f"lesion_tp_{level}": tp, f"lesion_fp_{level}": fp, f"lesion_fn_{level}": fn})
        out[f"lesion_precision_{level}"] = float(tp) / (tp + fp) if tp + fp else 0.0
        out[f"lesion_recall_{level}"] = float(tp) / (tp + fn) if tp + fn else 0.0
    errors = column("tumour_burden_error_lits")
    out["tumour_burden_rmse"] = float(np.sqrt(np.mean(np.square(errors))))
    out["tumour_burden_max"] = float(np.max(errors))
    return out


def scores_txt_values(summary: dict) -> dict:
    """{the scorer's scores.txt name: value} of a `lits_summary`, in the scorer's order."""
    return {name: summary[key] for name, key in SCORES_TXT.items()}


def scores_txt(summary: dict) -> str:
    """The text of the scorer's scores.txt for a `lits_summary`: ``name: value`` with 3 decimals."""
    return "".join(f"{name}: {float(value):.3f}\n" for name, value in scores_txt_values(summary).items())


__all__ = ["LARGE", "LITS_COLUMNS", "PENALTY", "SCORES_TXT", "SEGMENTATION_METRICS", "lits_case",
           "lits_summary", "pair_scores", "scores_txt", "scores_txt_values"]
