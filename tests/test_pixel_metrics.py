"""Gruber et al.'s pixel metrics: hand-worked values, Table 1's RI from accuracy and IoU, and
scikit-learn as the reference on random, structured and real masks."""
from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import adjusted_rand_score, rand_score, roc_auc_score, roc_curve

from liverseg.evaluation import (
    adjusted_rand_index,
    ari_from_accuracy_iou,
    binary_pixel_metrics,
    gruber_metrics,
    rand_index,
    restricted_auc,
    restricted_pixels,
    restricted_roc,
    youden_threshold,
)

# Kept pixels (0.01 < p < 0.99): 0.9+, 0.8+, 0.7-, 0.6+, 0.4-, 0.3-; 0.005 and 0.999 are dropped.
HAND_PROB = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.005, 0.999])
HAND_TRUTH = np.array([1, 1, 0, 1, 0, 0, 1, 0])


def disk(shape, centre, radius):
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def masked(prob, truth, low=0.01, high=0.99):
    prob, truth = np.ravel(prob), np.ravel(truth).astype(bool)
    keep = (prob > low) & (prob < high)
    return prob[keep], truth[keep]


# --- Rand indices by hand -----------------------------------------------------------------------

def test_binary_rand_indices_by_hand():
    # pred [1,1,0,0,0,1] vs truth [1,0,1,0,0,1]: cells (t0,p0)=2, (t0,p1)=1, (t1,p0)=1, (t1,p1)=2.
    # 15 pairs; same cell: C(2,2)+C(2,2) = 2; same truth class: 3+3 = 6; same pred class: 6.
    # RI = (15 - 6 - 6 + 2*2) / 15 = 7/15; ARI = (2 - 6*6/15) / ((6+6)/2 - 6*6/15) = -0.4/3.6 = -1/9.
    pred, truth = [1, 1, 0, 0, 0, 1], [1, 0, 1, 0, 0, 1]
    assert rand_index(pred, truth) == pytest.approx(7 / 15)
    assert adjusted_rand_index(pred, truth) == pytest.approx(-1 / 9)
    got = binary_pixel_metrics(pred, truth)
    assert got["rand_index"] == pytest.approx(-1 / 9) and got["rand_index_classic"] == pytest.approx(7 / 15)
    assert got["pixel_accuracy"] == pytest.approx(4 / 6) and got["iou"] == pytest.approx(2 / 4)


def test_three_class_rand_indices_by_hand():
    # truth [0,0,1,1], pred [0,0,1,2] (one truth class split): 6 pairs; same cell 1 ({0,1});
    # same truth 2 ({0,1}, {2,3}); same pred 1. tp 1, fp 0, fn 1, tn 6-2-1+1 = 4.
    # RI = (1+4)/6 = 5/6; ARI = (1 - 2*1/6) / ((2+1)/2 - 2*1/6) = (2/3) / (7/6) = 4/7.
    assert rand_index([0, 0, 1, 2], [0, 0, 1, 1]) == pytest.approx(5 / 6)
    assert adjusted_rand_index([0, 0, 1, 2], [0, 0, 1, 1]) == pytest.approx(4 / 7)
    # the ARI does not depend on the class names, only on the partition
    assert adjusted_rand_index([7, 7, 3, 5], [1, 1, 9, 9]) == pytest.approx(4 / 7)


@pytest.mark.parametrize(
    "pred, truth, ari, ri",
    [
        ([0, 0, 0], [1, 1, 1], 1.0, 1.0),  # both constant: sklearn's 1.0
        ([0, 0, 0, 0], [0, 0, 1, 1], 0.0, 2 / 6),  # pred constant: ARI 0; RI = same-pairs 2 of 6
        ([1], [0], 1.0, 1.0),  # fewer than two pixels
        ([], [], 1.0, 1.0),
    ],
)
def test_degenerate_labelings_follow_sklearn(pred, truth, ari, ri):
    assert adjusted_rand_index(pred, truth) == ari
    assert rand_index(pred, truth) == pytest.approx(ri)
    if len(pred):
        assert adjusted_rand_score(truth, pred) == ari and rand_score(truth, pred) == pytest.approx(ri)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shape"):
        adjusted_rand_index(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        binary_pixel_metrics(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        restricted_roc(np.zeros(4), np.zeros(5))


def test_empty_masks_have_iou_one():
    got = binary_pixel_metrics(np.zeros((4, 4)), np.zeros((4, 4)))
    assert got == {"pixel_accuracy": 1.0, "iou": 1.0, "rand_index": 1.0, "rand_index_classic": 1.0}


# --- Table 1's RI is the ARI of the 2x2 table ----------------------------------------------------

@pytest.mark.parametrize(
    "accuracy, iou, ours, paper",
    [
        (0.9995, 0.6782, 0.8076, 0.8075),  # one-step, tumour
        (0.9996, 0.77108, 0.8702, 0.8706),  # sequential, tumour, alpha 0.02
        (0.9935, 0.8898, 0.9314, 0.9316),  # one-step, liver
    ],
)
def test_paper_rand_index_is_the_ari_of_the_pixel_table(accuracy, iou, ours, paper):
    got = ari_from_accuracy_iou(accuracy, iou)
    assert got == pytest.approx(ours, abs=1e-3)
    assert got == pytest.approx(paper, abs=1e-3)


def test_ari_from_accuracy_iou_matches_sklearn_on_an_integer_table():
    # 512x512 slice, TP 276, FP = FN = 66 (about Table 1's one-step tumour row)
    truth = np.zeros(512 * 512, bool)
    pred = np.zeros(512 * 512, bool)
    truth[:342] = True
    pred[66:408] = True
    accuracy, iou = 1 - 132 / truth.size, 276 / 408
    expected = adjusted_rand_score(truth, pred)
    assert ari_from_accuracy_iou(accuracy, iou) == pytest.approx(expected, abs=1e-9)
    assert adjusted_rand_index(pred, truth) == pytest.approx(expected, abs=1e-12)
    # the classic index cannot be Table 1's RI: it is close to the pixel accuracy here
    assert rand_index(pred, truth) == pytest.approx(rand_score(truth, pred), abs=1e-12)
    assert rand_index(pred, truth) > 0.998 and expected < 0.81


def test_ari_from_accuracy_iou_edges():
    assert ari_from_accuracy_iou(1.0, 0.5) == 1.0
    with pytest.raises(ValueError, match="IoU 1"):
        ari_from_accuracy_iou(0.99, 1.0)
    with pytest.raises(ValueError):
        ari_from_accuracy_iou(1.5, 0.5)


# --- against scikit-learn ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_random_labelings_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 40, size=2))
    truth = rng.integers(0, rng.integers(1, 5), size=shape)
    pred = np.where(rng.random(shape) < 0.7, truth, rng.integers(0, 4, size=shape))
    assert adjusted_rand_index(pred, truth) == pytest.approx(adjusted_rand_score(truth.ravel(), pred.ravel()), abs=1e-12)
    assert rand_index(pred, truth) == pytest.approx(rand_score(truth.ravel(), pred.ravel()), abs=1e-12)


@pytest.mark.parametrize("shift, radius", [(0, 20), (3, 20), (10, 15), (60, 10)])
def test_shifted_disks_match_sklearn(shift, radius):
    truth = disk((128, 128), (64, 64), 20)
    pred = disk((128, 128), (64, 64 + shift), radius)
    got = binary_pixel_metrics(pred, truth)
    assert got["rand_index"] == pytest.approx(adjusted_rand_score(truth.ravel(), pred.ravel()), abs=1e-12)
    assert got["rand_index_classic"] == pytest.approx(rand_score(truth.ravel(), pred.ravel()), abs=1e-12)
    inter, union = np.count_nonzero(pred & truth), np.count_nonzero(pred | truth)
    assert got["iou"] == pytest.approx(inter / union)
    assert got["pixel_accuracy"] == pytest.approx(np.mean(pred == truth))


# --- restricted ROC / AUC ------------------------------------------------------------------------

def test_restricted_auc_by_hand():
    # positives 0.9, 0.8, 0.6; negatives 0.7, 0.4, 0.3: pairs ordered correctly 3 + 3 + 2 = 8 of 9
    assert restricted_auc(HAND_PROB, HAND_TRUTH) == pytest.approx(8 / 9)
    assert restricted_pixels(HAND_PROB) == 6
    assert restricted_pixels(HAND_PROB, low=0.5, high=1.0) == 5
    assert math.isnan(restricted_auc([0.5, 0.6, 0.001], [1, 1, 0]))
    assert math.isnan(restricted_auc([0.001, 0.999], [0, 1]))


@pytest.mark.parametrize("seed", range(5))
def test_restricted_auc_and_roc_match_sklearn_on_kept_pixels(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random((48, 48)) < 0.3
    prob = np.clip(0.35 * truth + rng.random(truth.shape) * 0.8 - 0.05, 0.0, 1.0)
    prob = np.round(prob, 2)  # ties, and pixels exactly on 0.01 / 0.99 (dropped)
    scores, labels = masked(prob, truth)
    assert restricted_pixels(prob) == scores.size < prob.size
    assert restricted_auc(prob, truth) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    fpr, tpr, thresholds = restricted_roc(prob, truth)
    ref = roc_curve(labels, scores, drop_intermediate=False)
    for ours, theirs in zip((fpr, tpr, thresholds), ref):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert np.all(np.diff(thresholds) < 0)


def test_restricted_roc_by_hand():
    fpr, tpr, thresholds = restricted_roc(HAND_PROB, HAND_TRUTH)
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3])
    np.testing.assert_allclose(tpr, np.array([0, 1, 2, 2, 3, 3, 3]) / 3)
    np.testing.assert_allclose(fpr, np.array([0, 0, 0, 1, 1, 2, 3]) / 3)


def test_restricted_roc_of_one_class_has_nan_rates():
    fpr, tpr, _ = restricted_roc([0.3, 0.6], [1, 1])
    assert np.all(np.isnan(fpr)) and np.array_equal(tpr, [0.0, 0.5, 1.0])


def test_youden_threshold_by_hand():
    # J = tpr - fpr at thresholds inf, .9, .8, .7, .6, .4, .3: 0, 1/3, 2/3, 1/3, 2/3, 1/3, 0.
    # The maximum 2/3 is reached at 0.8 and 0.6; the tie goes to the higher one.
    t = youden_threshold(HAND_PROB, HAND_TRUTH)
    assert t == 0.8
    # used as prob >= t: the kept 0.9, 0.8 and the dropped 0.999 are foreground
    np.testing.assert_array_equal(HAND_PROB >= t, [1, 1, 0, 0, 0, 0, 0, 1])


def test_youden_threshold_undefined_and_no_gain():
    assert youden_threshold([0.3, 0.6, 0.999], [1, 1, 0]) == 0.5  # kept pixels all positive
    assert youden_threshold([0.001, 0.999], [0, 1]) == 0.5  # nothing kept
    # a positive at 0.2 below a negative at 0.7: J is 0 at inf, -1 at 0.7, 0 at 0.2 -> the inf
    # point, returned as `high` (every kept pixel negative)
    assert youden_threshold([0.2, 0.7], [1, 0]) == 0.99
    assert youden_threshold([0.2, 0.7], [1, 0], high=0.9) == 0.9


@pytest.mark.parametrize("seed", range(4))
def test_youden_threshold_reaches_sklearns_best_j(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random(3000) < 0.2
    prob = np.clip(np.round(rng.normal(0.35 + 0.3 * truth, 0.2), 3), 0, 1)
    scores, labels = masked(prob, truth)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    j = tpr - fpr
    best = thresholds[np.flatnonzero(j >= j.max() - 1e-12)].max()
    t = youden_threshold(prob, truth)
    assert t == pytest.approx(best)
    pred = scores >= t
    assert pred[labels].mean() - pred[~labels].mean() == pytest.approx(j.max(), abs=1e-12)


def test_gruber_metrics_combines_binary_and_restricted():
    got = gruber_metrics(HAND_PROB, HAND_TRUTH, threshold=0.75)
    assert got == {
        **binary_pixel_metrics(HAND_PROB >= 0.75, HAND_TRUTH),
        "rauc": pytest.approx(8 / 9),
        "rauc_pixels": 6,
    }
    # prob >= 0.75: [1,1,0,0,0,0,0,1] vs truth [1,1,0,1,0,0,1,0]: tp 2, fp 1, fn 2 -> IoU 2/5
    assert got["iou"] == pytest.approx(2 / 5) and got["pixel_accuracy"] == pytest.approx(5 / 8)
    with pytest.raises(ValueError, match="shape"):
        gruber_metrics(np.zeros(3), np.zeros(4))


# --- a real LiTS label slice ---------------------------------------------------------------------

@pytest.mark.realdata
def test_real_slice_with_noisy_prediction_matches_sklearn(shared_data):
    path = sorted((shared_data / "lits_sample").glob("segmentation-*.nii.gz"))[0]
    labels = np.asarray(nib.load(path).dataobj)
    z = int(np.argmax((labels == 2).sum(axis=(0, 1))))
    truth = labels[..., z].astype(np.int64)
    assert (truth == 2).any() and (truth == 1).any()
    liver = ndimage.binary_dilation(truth >= 1, iterations=3)
    tumour = ndimage.binary_erosion(truth == 2, iterations=2)
    pred = np.where(tumour, 2, np.where(liver, 1, 0))
    assert (pred != truth).any()
    assert adjusted_rand_index(pred, truth) == pytest.approx(adjusted_rand_score(truth.ravel(), pred.ravel()), abs=1e-12)
    assert rand_index(pred, truth) == pytest.approx(rand_score(truth.ravel(), pred.ravel()), abs=1e-12)
    for cls, fg in (("liver", lambda a: a >= 1), ("tumour", lambda a: a == 2)):
        got = binary_pixel_metrics(fg(pred), fg(truth))
        ref = adjusted_rand_score(fg(truth).ravel(), fg(pred).ravel())
        assert got["rand_index"] == pytest.approx(ref, abs=1e-12), cls
        assert 0.0 < got["rand_index"] < got["rand_index_classic"] < 1.0, cls
    prob = ndimage.gaussian_filter((truth == 2).astype(float), 3.0)
    scores, kept = masked(prob, truth == 2)
    got = gruber_metrics(prob, truth == 2)
    assert got["rauc_pixels"] == scores.size > 0
    assert got["rauc"] == pytest.approx(roc_auc_score(kept, scores), abs=1e-12)
