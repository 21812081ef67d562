"""Pixel-wise metrics of Gruber et al. (joint / sequential U-Nets, section 3.2): pixel accuracy,
IoU, Rand index and the ROC AUC restricted to uncertain pixels."""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

AUC_RANGE = (0.01, 0.99)  # Gruber 3.2.1: pixels whose probability lies between 0.01 and 0.99


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def rand_index(pred, truth) -> float:
    """Rand index of two labelings of the same pixels (Gruber 3.2.2, after Jain et al. 2010):
    the fraction of unordered pixel pairs on which both agree, i.e. the pair is in one class in
    both or in different classes in both. 1 for fewer than two pixels.

    From the contingency table n_ab (pixels with truth class a and predicted class b), row sums
    r_a and column sums c_b over N pixels: agreeing pairs = C(N,2) - sum C(r_a,2) - sum C(c_b,2)
    + 2 sum C(n_ab,2). Exact integer arithmetic up to the final division.
    """
    pred = np.asarray(pred).ravel()
    truth = np.asarray(truth).ravel()
    if pred.shape != truth.shape:
        raise ValueError(f"pred has {pred.size} pixels, truth has {truth.size}")
    n = pred.size
    if n < 2:
        return 1.0
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    table = np.bincount(t.ravel() * (p.max() + 1) + p.ravel()).tolist()
    rows = np.bincount(t.ravel()).tolist()
    cols = np.bincount(p.ravel()).tolist()
    agree = _pairs(n) - sum(map(_pairs, rows)) - sum(map(_pairs, cols)) + 2 * sum(map(_pairs, table))
    return agree / _pairs(n)


def restricted_auc(prob, truth, low: float = AUC_RANGE[0], high: float = AUC_RANGE[1]) -> tuple[float, int]:
    """ROC AUC of `prob` as a score for `truth`, over the pixels with low < prob < high only.

    Returns (auc, number of pixels used). AUC is the Mann-Whitney statistic: the probability
    that a random positive pixel scores above a random negative one, ties counting one half;
    NaN when the selected pixels are all positive or all negative.
    """
    prob = np.asarray(prob, dtype=np.float64).ravel()
    truth = np.asarray(truth).astype(bool).ravel()
    keep = (prob > low) & (prob < high)
    scores, labels = prob[keep], truth[keep]
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return math.nan, int(labels.size)
    ranks = rankdata(scores)  # average ranks for ties
    auc = (ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return float(auc), int(labels.size)


def gruber_metrics(prob, truth, threshold: float = 0.5) -> dict:
    """Gruber et al.'s Table 1 metrics of one class: a probability map against a binary truth.

    The prediction is ``prob >= threshold``. Keys:

    - ``pixel_accuracy``: share of pixels where prediction and truth agree;
    - ``iou`` = TP / (TP + FP + FN) (eq. 3.1); 1 when both are empty;
    - ``rand_index``: see `rand_index` (the classic Rand index over all pixel pairs; with a
      small object in a large image it is close to the pixel accuracy, so the paper's values
      near 0.8 at 0.9995 accuracy point to a different, unstated variant);
    - ``rauc``: ROC AUC over pixels with 0.01 < prob < 0.99 (section 3.2.1);
      ``rauc_pixels``: how many pixels that is.
    """
    prob = np.asarray(prob, dtype=np.float64)
    truth = np.asarray(truth).astype(bool)
    if prob.shape != truth.shape:
        raise ValueError(f"prob shape {prob.shape} differs from truth shape {truth.shape}")
    pred = prob >= threshold
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred & ~truth))
    fn = int(np.count_nonzero(~pred & truth))
    auc, used = restricted_auc(prob, truth)
    return dict(
        pixel_accuracy=float(np.mean(pred == truth)) if truth.size else math.nan,
        iou=tp / (tp + fp + fn) if tp + fp + fn else 1.0,
        rand_index=rand_index(pred, truth),
        rauc=auc,
        rauc_pixels=used,
    )
