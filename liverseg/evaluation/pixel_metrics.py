"""Pixel-wise metrics of Gruber et al. (joint / sequential U-Nets, section 3.2), in NumPy / SciPy.

- pixel accuracy and IoU = TP / (TP + FP + FN) (eq. 3.1) of a binary prediction;
- Rand index: Table 1's "RI" is the *adjusted* Rand index (Hubert & Arabie 1985) of the 2x2
  pixel contingency table (`adjusted_rand_index`), not the classic pair-counting Rand index
  (`rand_index`), which is about 0.999 at the paper's pixel accuracy of 0.9995
  (papers/NOTES.md, "Gruber"). `ari_from_accuracy_iou` recomputes the paper's values from its
  accuracy and IoU. Results carry the ARI as ``rand_index`` and the classic RI beside it as
  ``rand_index_classic``;
- restricted ROC (3.2.1): an ordinary ROC / AUC over the pixels with 0.01 < p < 0.99 only (not
  scikit-learn's partial AUC with ``max_fpr``), and the threshold maximising Youden's J on it.

Degenerate cases follow scikit-learn's ``rand_score``, ``adjusted_rand_score`` and ``roc_curve``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

AUC_RANGE = (0.01, 0.99)  # Gruber 3.2.1: pixels whose probability lies between 0.01 and 0.99


def _pairs(n):
    """C(n, 2): exact for Python ints, float64 for float counts."""
    return n * (n - 1) // 2 if isinstance(n, int) else n * (n - 1) / 2.0


def _flat_pair(a, b, names=("pred", "truth")) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} shape {a.shape} differs from {names[1]} shape {b.shape}")
    return a.ravel(), b.ravel()


def _contingency(pred, truth) -> list[list[int]]:
    """Pixel counts n_ab with truth class a (rows) and predicted class b (columns)."""
    pred, truth = _flat_pair(pred, truth)
    if pred.size == 0:
        return [[0]]
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    shape = (int(t.max()) + 1, int(p.max()) + 1)
    return np.bincount(t.ravel() * shape[1] + p.ravel(), minlength=shape[0] * shape[1]).reshape(shape).tolist()


def _pair_confusion(table) -> tuple:
    """(tp, fp, fn, tn) over unordered pixel pairs: same class in both labelings, only in the
    prediction, only in the truth, in neither."""
    same_both = sum(_pairs(x) for row in table for x in row)
    same_truth = sum(_pairs(sum(row)) for row in table)
    same_pred = sum(_pairs(sum(col)) for col in zip(*table))
    total = _pairs(sum(map(sum, table)))
    return same_both, same_pred - same_both, same_truth - same_both, total - same_truth - same_pred + same_both


def _rand_from_table(table) -> float:
    tp, fp, fn, tn = _pair_confusion(table)
    return 1.0 if fp == 0 and fn == 0 else (tp + tn) / (tp + fp + fn + tn)


def _ari_from_table(table) -> float:
    """Hubert & Arabie's ARI, (index - expected) / (max - expected), in scikit-learn's form
    2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)); 1 when no pair disagrees."""
    tp, fp, fn, tn = _pair_confusion(table)
    if fp == 0 and fn == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def rand_index(pred, truth) -> float:
    """Classic Rand index of two labelings of the same pixels (Gruber 3.2.2, after Jain et al.
    2010): the fraction of unordered pixel pairs on which both agree (same class in both, or
    different classes in both); 1 for fewer than two pixels. Exact integer arithmetic up to the
    final division."""
    return _rand_from_table(_contingency(pred, truth))


def adjusted_rand_index(pred, truth) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) of two labelings with any number of classes,
    from the pixel contingency table in exact integers; 1 when no pair disagrees (e.g. both
    labelings constant), 0 when one is constant and the other not. Table 1's "RI"."""
    return _ari_from_table(_contingency(pred, truth))


def ari_from_accuracy_iou(accuracy: float, iou: float, n_pixels: int = 512 * 512) -> float:
    """ARI of the 2x2 pixel table of one image with the given pixel accuracy and foreground IoU,
    assuming FP = FN: errors E = (1 - accuracy) N, FP = FN = E / 2, TP = IoU E / (1 - IoU),
    TN = N - TP - E (float counts). Gives 0.8076 for Table 1's one-step tumour row (paper 0.8075)."""
    if not (0.0 <= accuracy <= 1.0 and 0.0 <= iou <= 1.0 and n_pixels > 0):
        raise ValueError(f"need 0 <= accuracy, iou <= 1 and n_pixels > 0, got {accuracy}, {iou}, {n_pixels}")
    errors = (1.0 - accuracy) * n_pixels
    if errors == 0:
        return 1.0
    if iou == 1.0:
        raise ValueError(f"IoU 1 leaves no room for the {errors:g} wrong pixels of accuracy {accuracy}")
    tp = iou * errors / (1.0 - iou)
    tn = n_pixels - tp - errors
    if tn < 0:
        raise ValueError(f"accuracy {accuracy} and IoU {iou} need more than {n_pixels} pixels")
    return _ari_from_table([[float(tn), errors / 2.0], [errors / 2.0, float(tp)]])


def _kept(prob, truth, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    prob, truth = _flat_pair(prob, truth, ("prob", "truth"))
    prob = prob.astype(np.float64)
    keep = (prob > low) & (prob < high)
    return prob[keep], truth.astype(bool)[keep]


def restricted_pixels(prob, low: float = AUC_RANGE[0], high: float = AUC_RANGE[1]) -> int:
    """Number of pixels with low < prob < high: those the restricted ROC uses."""
    prob = np.asarray(prob, dtype=np.float64)
    return int(np.count_nonzero((prob > low) & (prob < high)))


def restricted_auc(prob, truth, low: float = AUC_RANGE[0], high: float = AUC_RANGE[1]) -> float:
    """ROC AUC of `prob` as a score for `truth` over the pixels with low < prob < high only
    (Gruber 3.2.1): the Mann-Whitney probability that a random positive pixel scores above a
    random negative one, ties counting one half. NaN when those pixels are all of one class."""
    scores, labels = _kept(prob, truth, low, high)
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _roc_counts(prob, truth, low: float, high: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positives, true positives, thresholds) of `prob >= threshold` on the kept pixels;
    thresholds are +inf then the distinct kept probabilities, decreasing."""
    scores, labels = _kept(prob, truth, low, high)
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1] if scores.size else np.zeros(0, int)
    tps = np.cumsum(labels, dtype=np.int64)[last]
    fps = last + 1 - tps
    return np.r_[0, fps], np.r_[0, tps], np.r_[np.inf, scores[last]]


def restricted_roc(prob, truth, low: float = AUC_RANGE[0], high: float = AUC_RANGE[1]):
    """ROC curve (fpr, tpr, thresholds) over the pixels with low < prob < high, as
    ``sklearn.metrics.roc_curve(..., drop_intermediate=False)`` on those pixels: point i is
    ``prob >= thresholds[i]``, the first threshold is +inf (no pixel positive). A rate is NaN
    when the kept pixels hold no positive (tpr) or no negative (fpr)."""
    fps, tps, thresholds = _roc_counts(prob, truth, low, high)
    fpr = fps / fps[-1] if fps[-1] else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] else np.full(tps.shape, np.nan)
    return fpr, tpr, thresholds


def youden_threshold(prob, truth, low: float = AUC_RANGE[0], high: float = AUC_RANGE[1]) -> float:
    """Threshold t maximising Youden's J = tpr - fpr on the restricted ROC, for ``prob >= t``.

    Ties go to the highest threshold (J compared in exact integers). 0.5 when the ROC is
    undefined (kept pixels none or all of one class). When no kept probability beats J = 0 (the
    +inf point, every kept pixel negative), `high` is returned: it does the same to the kept pixels.
    """
    fps, tps, thresholds = _roc_counts(prob, truth, low, high)
    if fps[-1] == 0 or tps[-1] == 0:
        return 0.5
    best = int(np.argmax(tps * fps[-1] - fps * tps[-1]))
    return float(high) if best == 0 else float(thresholds[best])


def binary_pixel_metrics(pred, truth) -> dict:
    """Gruber's Table 1 metrics of one class from a binary prediction (nonzero = foreground).

    Keys: ``pixel_accuracy`` (NaN without pixels); ``iou`` = TP / (TP + FP + FN), 1 when both
    masks are empty; ``rand_index``: the adjusted Rand index of the 2x2 table (the paper's RI);
    ``rand_index_classic``: the classic Rand index.
    """
    pred, truth = _flat_pair(np.asarray(pred).astype(bool), np.asarray(truth).astype(bool))
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred & ~truth))
    fn = int(np.count_nonzero(~pred & truth))
    tn = int(pred.size) - tp - fp - fn
    table = [[tn, fp], [fn, tp]]
    return dict(
        pixel_accuracy=(tp + tn) / pred.size if pred.size else math.nan,
        iou=tp / (tp + fp + fn) if tp + fp + fn else 1.0,
        rand_index=_ari_from_table(table),
        rand_index_classic=_rand_from_table(table),
    )


def gruber_metrics(prob, truth, threshold: float = 0.5) -> dict:
    """Gruber et al.'s Table 1 metrics of one class: a probability map against a binary truth.

    The prediction is ``prob >= threshold``; keys of `binary_pixel_metrics` plus ``rauc`` (ROC AUC
    over the pixels with 0.01 < prob < 0.99, section 3.2.1) and ``rauc_pixels`` (how many).
    """
    prob, truth = np.asarray(prob, dtype=np.float64), np.asarray(truth).astype(bool)
    if prob.shape != truth.shape:
        raise ValueError(f"prob shape {prob.shape} differs from truth shape {truth.shape}")
    return {
        **binary_pixel_metrics(prob >= threshold, truth),
        "rauc": restricted_auc(prob, truth),
        "rauc_pixels": restricted_pixels(prob),
    }
