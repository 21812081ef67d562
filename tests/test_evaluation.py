"""Per-case evaluation, aggregation, lesion detection, tumour burden and Gruber's metrics,
against values worked out by hand."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from liverseg.evaluation import (
    aggregate,
    evaluate_case,
    gruber_metrics,
    lesion_detection,
    rand_index,
    restricted_auc,
    restricted_pixels,
    tumour_burden,
    volume_metrics,
)


def test_lesion_detection_detected_missed_false_positive_and_weak_overlap():
    shape = (20, 20, 20)
    truth = np.zeros(shape, bool)
    pred = np.zeros(shape, bool)
    truth[2:6, 2:6, 2:6] = True  # 64 voxels, predicted as 48 of them: IoU 0.75
    pred[2:6, 2:6, 3:6] = True
    truth[10:13, 10:13, 10:13] = True  # missed
    pred[15:18, 2:4, 2:4] = True  # false positive (12 voxels)
    truth[2:6, 12:16, 12:16] = True  # 64 voxels; prediction of 48 overlapping 16: IoU 16/96
    pred[2:6, 12:16, 15:18] = True
    got = lesion_detection(pred, truth, spacing=(1.0, 1.0, 2.0))
    assert (got["num_truth"], got["num_pred"]) == (3, 3)
    assert (got["tp_50"], got["fp_50"], got["fn_50"]) == (1, 2, 2)
    assert got["precision_50"] == pytest.approx(1 / 3) and got["recall_50"] == pytest.approx(1 / 3)
    assert (got["tp_any"], got["fp_any"], got["fn_any"]) == (2, 1, 1)
    assert got["precision_any"] == pytest.approx(2 / 3) and got["recall_any"] == pytest.approx(2 / 3)
    assert got["truth_ml"] == pytest.approx((64 + 27 + 64) * 2 / 1000)
    assert got["pred_ml"] == pytest.approx((48 + 12 + 48) * 2 / 1000)


def test_lesion_detection_iou_exactly_half_is_not_detected():
    truth = np.zeros((6, 6, 6), bool)
    pred = np.zeros_like(truth)
    truth[1:5, 1:3, 1:3] = True  # 16 voxels
    pred[1:3, 1:3, 1:3] = True  # 8 inside: IoU 8/16 = 0.5, not > 0.5
    got = lesion_detection(pred, truth, (1, 1, 1))
    assert got["tp_50"] == 0 and got["fn_50"] == 1 and got["fp_50"] == 1
    assert got["tp_any"] == 1


def test_one_prediction_spanning_two_truth_lesions_merges_them():
    truth = np.zeros((5, 9, 5), bool)
    truth[2:4, 2:4, 2:4] = True
    truth[2:4, 5:7, 2:4] = True
    pred = np.zeros_like(truth)
    pred[2:4, 2:7, 2:4] = True  # 20 voxels covering both (16): IoU 0.8
    got = lesion_detection(pred, truth, (1, 1, 1))
    assert (got["num_truth"], got["num_pred"]) == (2, 1)
    assert (got["tp_50"], got["fp_50"], got["fn_50"]) == (2, 0, 0)


def test_two_predictions_of_one_truth_lesion_are_merged():
    truth = np.zeros((5, 10, 5), bool)
    truth[2:4, 2:8, 2:4] = True  # 24 voxels
    pred = np.zeros_like(truth)
    pred[2:4, 2:4, 2:4] = True
    pred[2:4, 5:8, 2:4] = True  # gap at y = 4: two components, 20 voxels together
    got = lesion_detection(pred, truth, (1, 1, 1))
    assert (got["num_truth"], got["num_pred"]) == (1, 2)
    assert (got["tp_50"], got["fp_50"], got["fn_50"]) == (1, 0, 0)
    assert got["precision_50"] == 1.0


def test_lesions_touching_by_an_edge_are_separate():
    pred = np.zeros((4, 4, 4), bool)
    pred[0, 0, 0] = pred[1, 1, 0] = True
    got = lesion_detection(pred, np.zeros_like(pred), (1, 1, 1))
    assert got["num_pred"] == 2 and got["fp_50"] == 2
    assert math.isnan(got["recall_50"]) and got["precision_50"] == 0.0


def test_no_lesions_at_all():
    empty = np.zeros((3, 3, 3), bool)
    got = lesion_detection(empty, empty, (1, 1, 1))
    assert got["num_truth"] == got["num_pred"] == got["tp_50"] == got["fp_50"] == 0
    assert math.isnan(got["precision_50"]) and math.isnan(got["recall_50"])


def test_tumour_burden_by_hand():
    truth = np.zeros(200, np.uint8)
    truth[:100] = 1
    truth[:10] = 2  # burden 10 / 100
    pred = np.zeros(200, np.uint8)
    pred[:80] = 1
    pred[:20] = 2  # burden 20 / 80
    got = tumour_burden(pred.reshape(10, 5, 4), truth.reshape(10, 5, 4))
    assert got["tumour_burden_truth"] == pytest.approx(0.1)
    assert got["tumour_burden_pred"] == pytest.approx(0.25)
    assert got["tumour_burden_error"] == pytest.approx(0.15)
    assert tumour_burden(np.zeros((2, 2, 2)), truth.reshape(10, 5, 4)[:2, :2, :2])["tumour_burden_pred"] == 0.0


def _labels(shape, liver, tumour=()):
    """Label volume with the given flat index ranges labelled liver (1) and tumour (2)."""
    flat = np.zeros(int(np.prod(shape)), np.uint8)
    for lo, hi in liver:
        flat[lo:hi] = 1
    for lo, hi in tumour:
        flat[lo:hi] = 2
    return flat.reshape(shape)


def two_cases():
    shape = (20, 10, 2)
    # case A: liver G = 100, P = 100, overlap 90 (Dice 0.9); no tumour anywhere.
    a = (_labels(shape, [(10, 110)]), _labels(shape, [(0, 100)]))
    # case B: liver G = 30 with 10 tumour voxels, P = 10 liver inside G, no tumour (Dice 0.5).
    b = (_labels(shape, [(200, 210)]), _labels(shape, [(200, 230)], [(220, 230)]))
    return [evaluate_case(p, g, (1.0, 1.0, 1.0)) for p, g in (a, b)]


def test_evaluate_case_liver_tumour_and_counts():
    case_a, case_b = two_cases()
    assert case_a["liver_dice"] == pytest.approx(0.9)
    assert (case_a["liver_pred_voxels"], case_a["liver_truth_voxels"], case_a["liver_intersection_voxels"]) == (100, 100, 90)
    assert case_a["tumour_dice"] == 1.0 and math.isnan(case_a["tumour_assd"])
    assert case_b["liver_dice"] == pytest.approx(0.5)
    assert case_b["liver_rvd"] == pytest.approx((10 - 30) / 30)
    assert case_b["tumour_dice"] == 0.0 and case_b["tumour_assd"] == math.inf
    assert (case_b["lesion_num_truth"], case_b["lesion_fn_50"]) == (1, 1)
    assert case_b["tumour_burden_error"] == pytest.approx(1 / 3)
    expected = {f"{s}_{m}" for s in ("liver", "tumour") for m in (
        "dice", "jaccard", "voe", "rvd", "assd", "rmsd", "msd", "hd95",
        "pred_voxels", "truth_voxels", "intersection_voxels")}
    assert expected <= set(case_a)


def test_evaluate_case_matches_the_masks_it_is_made_of():
    rng = np.random.default_rng(5)
    noise = ndimage.gaussian_filter(rng.random((16, 14, 10)), 1.5)
    truth = (noise > np.quantile(noise, 0.5)).astype(np.uint8) + (noise > np.quantile(noise, 0.9))
    pred = np.roll(truth, 1, axis=1)
    spacing = (0.8, 0.8, 2.5)
    got = evaluate_case(pred, truth, spacing)
    for name, p, g in (("liver", pred >= 1, truth >= 1), ("tumour", pred == 2, truth == 2)):
        for key, value in volume_metrics(p, g, spacing).items():
            assert got[f"{name}_{key}"] == pytest.approx(value, abs=1e-12)
    with pytest.raises(ValueError, match="differs"):
        evaluate_case(pred[:-1], truth, spacing)


def test_aggregate_per_case_versus_global_dice_by_hand():
    cases = two_cases()
    got = aggregate(cases)
    assert got["num_cases"] == 2
    assert got["liver_dice_per_case"] == pytest.approx((0.9 + 0.5) / 2)
    assert got["liver_dice_global"] == pytest.approx(2 * (90 + 10) / (200 + 40))
    assert got["tumour_dice_per_case"] == pytest.approx((1.0 + 0.0) / 2)
    assert got["tumour_dice_global"] == 0.0
    assert got["tumour_assd"] == math.inf  # NaN of case A left out, inf of case B kept
    assert got["liver_jaccard"] == pytest.approx((90 / 110 + 10 / 30) / 2)
    assert got["tumour_burden_rmse"] == pytest.approx(math.sqrt((0 + 1 / 9) / 2))
    assert got["tumour_burden_max"] == pytest.approx(1 / 3)
    assert (got["lesion_tp_50"], got["lesion_fn_50"], got["lesion_fp_50"]) == (0, 1, 0)
    assert got["lesion_recall_50"] == 0.0 and math.isnan(got["lesion_precision_50"])
    from_frame = aggregate(pd.DataFrame(cases))
    assert from_frame.keys() == got.keys()
    for key, value in got.items():
        assert from_frame[key] == pytest.approx(value, nan_ok=True)


def test_aggregate_all_empty_global_dice_is_one():
    empty = np.zeros((4, 4, 4), np.uint8)
    got = aggregate([evaluate_case(empty, empty, (1, 1, 1))])
    assert got["liver_dice_global"] == 1.0 and got["liver_dice_per_case"] == 1.0
    assert math.isnan(got["liver_assd"])


def test_gruber_metrics_by_hand():
    prob = np.array([[0.9, 0.6, 0.3], [0.2, 0.005, 0.995]])
    truth = np.array([[1, 0, 1], [0, 0, 1]])
    got = gruber_metrics(prob, truth)
    assert got["pixel_accuracy"] == pytest.approx(4 / 6)
    assert got["iou"] == pytest.approx(2 / 4)
    # pred [1,1,0,0,0,1] vs truth [1,0,1,0,0,1]: table [[2,1],[1,2]], 15 pairs, 2 within a cell,
    # 6 within a truth class, 6 within a predicted class: RI (15-6-6+2*2)/15, ARI (2-2.4)/(6-2.4)
    assert got["rand_index_classic"] == pytest.approx(7 / 15)
    assert got["rand_index"] == pytest.approx(-1 / 9)
    # kept pixels: positives 0.9, 0.3; negatives 0.6, 0.2 -> 3 of 4 pairs ordered correctly
    assert got["rauc"] == pytest.approx(0.75)
    assert got["rauc_pixels"] == 4
    assert gruber_metrics(prob, truth, threshold=0.95)["iou"] == pytest.approx(1 / 3)


def test_restricted_auc_ties_and_one_class():
    auc = restricted_auc([0.4, 0.4, 0.7, 0.001], [1, 0, 1, 1])
    assert restricted_pixels([0.4, 0.4, 0.7, 0.001]) == 3 and auc == pytest.approx((0.5 + 1.0) / 2)
    assert math.isnan(restricted_auc([0.5, 0.6], [1, 1]))


def brute_rand_index(a, b):
    a, b = np.ravel(a), np.ravel(b)
    pairs = list(itertools.combinations(range(a.size), 2))
    return sum((a[i] == a[j]) == (b[i] == b[j]) for i, j in pairs) / len(pairs)


@pytest.mark.parametrize("seed", range(3))
def test_rand_index_matches_pair_enumeration(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, size=(5, 6))
    b = rng.integers(0, 3, size=(5, 6))
    assert rand_index(b, a) == pytest.approx(brute_rand_index(b, a), abs=1e-12)


@pytest.mark.realdata
def test_real_case_perfect_and_with_a_lesion_removed(shared_data):
    from liverseg.io.volumes import read_volume

    vol = read_volume(shared_data / "lits_sample" / "segmentation-1.nii.gz", kind="label")
    truth = vol.array
    perfect = evaluate_case(truth, truth, vol.spacing)
    assert perfect["liver_dice"] == 1.0 and perfect["liver_assd"] == 0.0 and perfect["liver_msd"] == 0.0
    n = perfect["lesion_num_truth"]
    assert n >= 2 and perfect["lesion_tp_50"] == n and perfect["lesion_precision_50"] == 1.0
    assert perfect["tumour_burden_error"] == 0.0
    ids, count = ndimage.label(truth == 2)
    smallest = 1 + int(np.argmin(np.bincount(ids.ravel())[1:]))
    pred = truth.copy()
    pred[ids == smallest] = 1  # the lesion becomes liver
    got = evaluate_case(pred, truth, vol.spacing)
    assert (got["lesion_tp_50"], got["lesion_fn_50"], got["lesion_fp_50"]) == (n - 1, 1, 0)
    assert got["liver_dice"] == 1.0
    removed = int((ids == smallest).sum())
    tumour = int((truth == 2).sum())
    assert got["tumour_dice"] == pytest.approx(2 * (tumour - removed) / (2 * tumour - removed))
