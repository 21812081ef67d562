"""`--protocol lits`: the official LiTS scorer's figures, worked out by hand where they differ from
the project's conventions (RVD order, 9001 penalties, a prediction with tumour but no label 1,
the signed tumour-burden max, lesion figures over detected lesions only, the scorer's lesion
matching with its quirks, empty references, precision / recall without lesions).

Lesion cases are lines of voxels along axis 1 of a (3, N, 3) volume (x = 1, z = 1) inside a liver
that fills the rest: every lesion voxel is a surface voxel, components are runs, and their labels
follow the run order, so matching, IoU and surface distances can be counted on one's fingers.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from liverseg.errors import OptionError
from liverseg.evaluation import aggregate, evaluate_case, lits_case, lits_summary, scores_txt
from liverseg.evaluation.lits_matching import match_lesions
from liverseg.evaluation.lits_scorer import LARGE, LITS_COLUMNS, PENALTY, SCORES_TXT, pair_scores

LINE_SPACING = (0.7, 0.8, 2.0)  # mm; distances along a line are multiples of 0.8


def line_case(n: int, truth_runs, pred_runs):
    """(pred, truth) label volumes of shape (3, n, 3): liver everywhere, tumour on the runs [lo, hi) of the line."""
    truth = np.ones((3, n, 3), np.uint8)
    pred = truth.copy()
    for labels, runs in ((truth, truth_runs), (pred, pred_runs)):
        for lo, hi in runs:
            labels[1, lo:hi, 1] = 2
    return pred, truth


def row(pred, truth, spacing):
    """A per-case row with the columns of both protocols."""
    return {**evaluate_case(pred, truth, spacing), **lits_case(pred, truth, spacing)}


def block(shape, lo, hi, value, base=None):
    out = np.zeros(shape, np.uint8) if base is None else base.copy()
    out[tuple(slice(a, b) for a, b in zip(lo, hi))] = value
    return out


# --- liver: RVD order, penalties, "no liver" -------------------------------------------------------

def test_rvd_takes_the_scorers_argument_order():
    # truth liver 2 x 3 x 5 = 30 voxels, prediction 2 x 1 x 5 = 10 of them
    truth = block((4, 5, 6), (0, 0, 0), (2, 3, 5), 1)
    pred = block((4, 5, 6), (0, 0, 0), (2, 1, 5), 1)
    got = row(pred, truth, (1.0, 1.0, 1.0))
    assert got["liver_rvd"] == pytest.approx((10 - 30) / 30)  # project: (|P| - |G|) / |G|
    assert got["liver_rvd_lits"] == pytest.approx((30 - 10) / 10)  # scorer: (|G| - |P|) / |P| = 2
    assert got["liver_dice_lits"] == pytest.approx(2 * 10 / 40)
    assert got["liver_jaccard_lits"] == pytest.approx(0.5 / 1.5)
    medpy = pytest.importorskip("medpy.metric.binary")  # the scorer's call, as a test-only reference
    assert got["liver_rvd_lits"] == pytest.approx(medpy.ravd(truth >= 1, pred >= 1))


def test_tumour_without_liver_label_is_no_liver_for_the_scorer():
    # truth: liver 4^3 = 64 voxels with a 2^3 tumour (burden 8 / 64); prediction: the tumour only, no label 1
    truth = block((6, 6, 6), (1, 1, 1), (3, 3, 3), 2, base=block((6, 6, 6), (0, 0, 0), (4, 4, 4), 1))
    pred = np.where(truth == 2, 2, 0).astype(np.uint8)
    got = row(pred, truth, (1.0, 1.0, 1.0))
    # the project scores label >= 1 as liver: Dice 2 * 8 / (8 + 64), burden 8 / 8 = 1
    assert got["liver_dice"] == pytest.approx(16 / 72)
    assert got["liver_rvd"] == pytest.approx((8 - 64) / 64)
    assert got["tumour_burden_error"] == pytest.approx(1.0 - 0.125)
    # the scorer: no label 1, no liver; penalties, burden 9001, signed error
    assert got["liver_predicted_lits"] is False
    assert {m: got[f"liver_{m}_lits"] for m in PENALTY} == PENALTY
    assert PENALTY == {"dice": 0.0, "jaccard": 0.0, "voe": 1.0, "rvd": 9001.0, "assd": 9001.0, "rmsd": 9001.0,
                       "msd": 9001.0}
    assert (got["liver_pred_voxels_lits"], got["liver_intersection_voxels_lits"]) == (0, 0)
    assert got["tumour_burden_pred_lits"] == LARGE
    assert got["tumour_burden_error_lits"] == pytest.approx(0.125 - 9001)
    # its tumour is still a perfectly detected lesion
    assert (got["lesion_tp_50_lits"], got["tumour_lesions_scored_lits"], got["tumour_dice_lits"]) == (1, 1, 1.0)
    lits, ours = aggregate([got], protocol="lits"), aggregate([got])
    assert lits["liver_dice_global"] == 0.0  # only the 64 truth voxels count
    assert ours["liver_dice_global"] == pytest.approx(16 / 72)
    assert lits["liver_assd"] == 9001.0 and lits["tumour_burden_rmse"] == pytest.approx(9001 - 0.125)
    assert lits["tumour_burden_max"] == pytest.approx(0.125 - 9001)


def test_empty_prediction_and_liver_against_empty_truth():
    truth = block((5, 5, 5), (0, 0, 0), (3, 3, 3), 1)
    empty = np.zeros_like(truth)
    got = lits_case(empty, truth, (1, 1, 1))
    assert got["liver_predicted_lits"] is False and got["liver_msd_lits"] == 9001.0
    # label 1 predicted, truth without liver: the scorer's penalty for "one mask empty"; its burden divides by 0
    got = lits_case(truth, empty, (1, 1, 1))
    assert got["liver_predicted_lits"] is True
    assert {m: got[f"liver_{m}_lits"] for m in PENALTY} == PENALTY
    assert got["liver_pred_voxels_lits"] == 27 and math.isnan(got["tumour_burden_error_lits"])


def test_liver_surface_distances_pool_both_surfaces():
    # truth liver 4^3, prediction shifted by one voxel along x (0.8 mm): 18-neighbourhood surfaces
    truth = block((7, 6, 6), (1, 1, 1), (5, 5, 5), 1)
    pred = block((7, 6, 6), (2, 1, 1), (6, 5, 5), 1)
    got = lits_case(pred, truth, (0.8, 1.0, 2.0))
    # a surface voxel of one mask is 0 mm from the other's surface when it lies on it, else 0.8 mm (one
    # step along x reaches it; every other axis step is >= 1 mm): ASSD = 0.8 x (share of voxels off)
    p_surface = pred.astype(bool) & ~_eroded(pred)
    g_surface = truth.astype(bool) & ~_eroded(truth)
    off = int((p_surface & ~g_surface).sum()) + int((g_surface & ~p_surface).sum())
    n = int(p_surface.sum() + g_surface.sum())
    assert got["liver_assd_lits"] == pytest.approx(0.8 * off / n)
    assert got["liver_rmsd_lits"] == pytest.approx(0.8 * math.sqrt(off / n))
    assert got["liver_msd_lits"] == pytest.approx(0.8)
    assert got["liver_assd_lits"] == pytest.approx(evaluate_case(pred, truth, (0.8, 1.0, 2.0))["liver_assd"])


def _eroded(mask):
    from scipy import ndimage

    return ndimage.binary_erosion(mask.astype(bool), ndimage.generate_binary_structure(3, 2))


# --- tumour burden ----------------------------------------------------------------------------------

def _burden_case(truth_tumour: int, pred_tumour: int):
    """100 liver voxels (10 x 10 x 1) with the first k labelled tumour, in truth and prediction."""
    truth = np.ones((10, 10, 1), np.uint8)
    pred = truth.copy()
    truth.reshape(-1)[:truth_tumour] = 2
    pred.reshape(-1)[:pred_tumour] = 2
    return pred, truth


def test_burden_max_is_the_largest_signed_error():
    a = row(*_burden_case(10, 40), (1, 1, 1))  # burden 0.1 vs 0.4: signed -0.3
    b = row(*_burden_case(20, 10), (1, 1, 1))  # 0.2 vs 0.1: signed +0.1
    assert a["tumour_burden_error_lits"] == pytest.approx(-0.3)
    assert b["tumour_burden_error_lits"] == pytest.approx(0.1)
    lits, ours = aggregate([a, b], protocol="lits"), aggregate([a, b])
    assert lits["tumour_burden_max"] == pytest.approx(0.1)  # scorer: max of burden(truth) - burden(pred)
    assert ours["tumour_burden_max"] == pytest.approx(0.3)  # project: the largest absolute error
    assert lits["tumour_burden_rmse"] == pytest.approx(math.sqrt((0.09 + 0.01) / 2))
    assert ours["tumour_burden_rmse"] == pytest.approx(lits["tumour_burden_rmse"])


# --- lesions ----------------------------------------------------------------------------------------

def test_lesion_figures_only_over_detected_lesions():
    # case C: two truth lesions (4 voxels each), the first predicted exactly, the second missed
    c = row(*line_case(20, [(0, 4), (10, 14)], [(0, 4)]), LINE_SPACING)
    assert (c["lesion_tp_50_lits"], c["lesion_fn_50_lits"], c["tumour_lesions_scored_lits"]) == (1, 1, 1)
    assert c["tumour_dice_lits"] == 1.0 and c["tumour_assd_lits"] == 0.0 and c["tumour_rvd_lits"] == 0.0
    assert c["tumour_dice"] == pytest.approx(2 * 4 / (4 + 8))  # both protocols' per-case tumour Dice
    # case D: one predicted lesion y 11..16 over the second truth lesion y 10..13 (see the matching test)
    d = row(*line_case(20, [(0, 4), (10, 14)], [(11, 17)]), LINE_SPACING)
    assert d["tumour_lesions_scored_lits"] == 1
    assert d["tumour_dice_lits"] == pytest.approx(2 * 3 / (6 + 4))
    assert d["tumour_rvd_lits"] == pytest.approx((4 - 6) / 6)
    # distances from P's voxels y11..16 to G: 0 0 0 1 1 ... : 0, 0, 0, 1, 2, 3 steps; from G's y10..13: 1, 0, 0, 0
    assert d["tumour_assd_lits"] == pytest.approx(0.8 * 7 / 10)
    assert d["tumour_rmsd_lits"] == pytest.approx(0.8 * math.sqrt(15 / 10))
    assert d["tumour_msd_lits"] == pytest.approx(0.8 * 3)
    lits = aggregate([c, d], protocol="lits")
    assert lits["tumour_lesions_scored"] == 2
    assert lits["tumour_dice"] == pytest.approx((1.0 + 0.6) / 2)  # over lesions, not cases
    assert lits["tumour_jaccard"] == pytest.approx((1.0 + 0.6 / 1.4) / 2)
    assert lits["tumour_msd"] == pytest.approx(2.4 / 2)
    assert lits["tumour_dice_per_case"] == pytest.approx((2 / 3 + 2 * 3 / (6 + 8)) / 2)
    assert lits["tumour_dice_global"] == pytest.approx(2 * (4 + 3) / ((4 + 6) + 16))
    # the weights are lesions: three detected lesions in one case and one in another
    e = row(*line_case(20, [(0, 2), (4, 6), (8, 10)], [(0, 2), (4, 6), (8, 10)]), LINE_SPACING)
    assert aggregate([e, d], protocol="lits")["tumour_dice"] == pytest.approx((3 * 1.0 + 0.6) / 4)


def test_no_detected_lesion_anywhere_gives_the_penalties():
    missed = row(*line_case(20, [(0, 4)], [(10, 14)]), LINE_SPACING)
    assert missed["lesion_tp_50_lits"] == 0 and missed["tumour_lesions_scored_lits"] == 0
    assert math.isnan(missed["tumour_dice_lits"])
    lits = aggregate([missed], protocol="lits")
    assert {m: lits[f"tumour_{m}"] for m in PENALTY} == PENALTY
    assert (lits["lesion_precision_50"], lits["lesion_recall_50"]) == (0.0, 0.0)  # 0 / (0 + 1)


def test_truth_without_lesions_and_no_lesions_at_all():
    # truth without tumour, prediction with two lesions: nothing detected, both false positives
    fp = row(*line_case(20, [], [(0, 3), (6, 9)]), LINE_SPACING)
    assert [fp[f"lesion_{k}_50_lits"] for k in ("tp", "fp", "fn")] == [0, 2, 0]
    assert [fp[f"lesion_{k}_any_lits"] for k in ("tp", "fp", "fn")] == [0, 2, 0]
    assert fp["tumour_dice"] == 0.0
    # no lesion in truth or prediction: per-case lesion Dice 1 in both protocols
    none = row(*line_case(20, [], []), LINE_SPACING)
    assert none["tumour_dice"] == 1.0 and none["lesion_fp_50_lits"] == 0
    lits, ours = aggregate([none], protocol="lits"), aggregate([none])
    assert lits["tumour_dice_per_case"] == 1.0
    assert math.isnan(lits["tumour_dice_global"]) and ours["tumour_dice_global"] == 1.0  # scorer: 0 / 0
    assert lits["lesion_precision_50"] == 0.0 and lits["lesion_recall_any"] == 0.0
    assert math.isnan(ours["lesion_precision_50"])
    both = aggregate([fp, none], protocol="lits")
    assert both["lesion_precision_50"] == 0.0 and both["tumour_dice_per_case"] == pytest.approx(0.5)


def test_the_scorers_union_uses_the_predicted_label():
    # truth lesions 1 (y 0..3) and 2 (y 10..13); the only predicted lesion (label 1) is y 11..16:
    # 3 voxels inside truth lesion 2, true IoU 3 / 7. The scorer counts the union as
    # |detected == 1| + |truth == 2| - overlap, and the detected voxels carry label 2: union 4, IoU 3 / 4.
    pred, truth = line_case(20, [(0, 4), (10, 14)], [(11, 17)])
    got = row(pred, truth, LINE_SPACING)
    assert [got[f"lesion_{k}_50_lits"] for k in ("tp", "fp", "fn")] == [1, 0, 1]
    assert [got[f"lesion_{k}_50"] for k in ("tp", "fp", "fn")] == [0, 1, 2]  # the project: IoU 3/7, missed
    # the same case stored the other way along y: labels 1 and 1 meet, the union is true and it is missed
    flipped = lits_case(pred[:, ::-1], truth[:, ::-1], LINE_SPACING)
    assert [flipped[f"lesion_{k}_50_lits"] for k in ("tp", "fp", "fn")] == [0, 1, 2]


def test_a_merged_truth_lesion_missed_counts_all_its_lesions():
    # one predicted lesion y 0..11 spans truth lesions y 0..1 and y 3..4: they merge (merge size 2);
    # IoU 4 / 12 misses at 0.5: the count starts at 1 matched pair and drops by 2, to -1
    got = row(*line_case(20, [(0, 2), (3, 5)], [(0, 12)]), LINE_SPACING)
    assert [got[f"lesion_{k}_50_lits"] for k in ("tp", "fp", "fn")] == [-1, 2, 3]
    assert [got[f"lesion_{k}_any_lits"] for k in ("tp", "fp", "fn")] == [1, 0, 1]
    assert [got[f"lesion_{k}_50"] for k in ("tp", "fp", "fn")] == [0, 1, 2]
    assert [got[f"lesion_{k}_any"] for k in ("tp", "fp", "fn")] == [2, 0, 0]
    assert got["tumour_lesions_scored_lits"] == 0  # a count <= 0 scores no lesion
    lits = aggregate([got], protocol="lits")
    assert lits["lesion_precision_50"] == pytest.approx(-1 / (-1 + 2))
    assert lits["lesion_recall_50"] == pytest.approx(-1 / (-1 + 3))
    assert lits["lesion_precision_any"] == 1.0 and lits["lesion_recall_any"] == 0.5


def test_detected_mask_wraps_above_255_like_the_scorers_uint8():
    # 300 one-voxel truth lesions, predicted exactly. Truth label k > 255 is written as k - 256 into
    # the detected mask: for k <= 44, |detected == k| counts lesion k and lesion k + 256, IoU 1 / 2, so
    # the scorer misses 44 lesions (clearing 44 more voxels with them) and scores the 211 left (45..255).
    runs = [(2 * k, 2 * k + 1) for k in range(300)]
    got = lits_case(*line_case(600, runs, runs), LINE_SPACING)
    assert [got[f"lesion_{k}_50_lits"] for k in ("tp", "fp", "fn")] == [256, 44, 44]
    assert got["lesion_tp_any_lits"] == 300
    assert got["tumour_lesions_scored_lits"] == 211 and got["tumour_dice_lits"] == 1.0


def test_match_lesions_returns_detected_and_merged_masks():
    from scipy import ndimage

    pred, truth = line_case(20, [(0, 2), (3, 5), (10, 14)], [(0, 5), (10, 12), (13, 14)])
    p_ids, _ = ndimage.label(pred == 2)
    g_ids, _ = ndimage.label(truth == 2)
    detected, merged, count = match_lesions(p_ids, g_ids, 0.5)
    # truth 1 and 2 merge under label 1 (both overlapped most by prediction 1); predictions 2 and 3
    # merge under truth label 3; both pairs have IoU 4/5 and 3/4 > 0.5
    assert count == 2
    assert np.array_equal(merged[1, :, 1][:5], [1, 1, 0, 1, 1])
    assert detected[1, :, 1].tolist()[:14] == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 3, 3, 0, 3]
    with pytest.raises(ValueError, match="differs"):
        match_lesions(p_ids[:, :-1], g_ids, 0.5)


def test_pair_scores_penalty_and_jaccard_from_dice():
    p = np.zeros((4, 4, 4), bool)
    g = p.copy()
    g[1:3, 1:3, 1:3] = True
    assert pair_scores(p, g, (1, 1, 1)) == PENALTY
    p[1:3, 1:3, 1:2] = True
    got = pair_scores(p, g, (1, 1, 1))
    assert got["dice"] == pytest.approx(2 * 4 / 12) and got["jaccard"] == pytest.approx(4 / 8)
    assert got["rvd"] == pytest.approx((8 - 4) / 4) and got["msd"] == pytest.approx(1.0)


# --- summary, names, missing columns ----------------------------------------------------------------

def test_summary_names_and_scores_txt():
    rows = [row(*line_case(20, [(0, 4), (10, 14)], [(0, 4)]), LINE_SPACING),
            row(*_burden_case(10, 40), (1, 1, 1))]
    summary = aggregate(rows, protocol="lits")
    assert len(SCORES_TXT) == 24 and set(SCORES_TXT.values()) <= set(summary)
    text = scores_txt(summary)
    lines = text.splitlines()
    assert lines[0].startswith("lesion_precision: ") and lines[-1].startswith("MAXERROR_Tumorburden: ")
    assert [line.split(":")[0] for line in lines] == list(SCORES_TXT)
    assert f"liver_dice_per_case: {summary['liver_dice_per_case']:.3f}" in lines
    assert summary["liver_dice"] == summary["liver_dice_per_case"] == 1.0
    assert set(LITS_COLUMNS) <= set(rows[0])


def test_lits_summary_refuses_rows_without_its_columns():
    rows = [evaluate_case(*line_case(10, [(0, 2)], [(0, 2)]), LINE_SPACING)]
    with pytest.raises(OptionError, match="lack the LiTS scorer's columns"):
        aggregate(rows, protocol="lits")
    with pytest.raises(OptionError, match="unknown protocol"):
        aggregate(rows, protocol="medpy")
    assert lits_summary(pd.DataFrame(columns=[*LITS_COLUMNS, "liver_truth_voxels", "tumour_dice", "tumour_pred_voxels",
                                              "tumour_truth_voxels", "tumour_intersection_voxels"])) == {"num_cases": 0}
