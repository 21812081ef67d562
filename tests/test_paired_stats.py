"""Paired statistics of a method comparison (`liverseg.evaluation.paired_stats`), recomputed with SciPy
directly from a synthetic per-case table; Holm against a hand example; pairing that matters."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from liverseg.evaluation.paired_stats import (
    bootstrap_mean,
    cases_needed,
    compare_statistics,
    holm,
    paired_difference,
    rank_stability,
    unpaired_difference_ci,
)

N = 400  # resamples in the tests (the report uses 9999): the same call, faster


def table(seed: int = 0, n: int = 12) -> pd.DataFrame:
    """Three methods on n cases with a shared case effect (hard cases are hard for all): B is about 0.03
    better than A, C equals A up to noise; one case without tumour where A and B predict none (Dice 1)."""
    rng = np.random.default_rng(seed)
    case_effect = rng.uniform(0.55, 0.9, n)
    rows = []
    for method, offset in (("A", 0.0), ("B", 0.03), ("C", 0.0)):
        noise = rng.normal(0, 0.01, n)
        for i in range(n):
            tumour = 1.0 if i == 0 and method != "C" else float(np.clip(case_effect[i] - 0.3 + offset + noise[i], 0, 1))
            rows.append({"method": method, "case": f"c{i:02d}", "liver_dice": case_effect[i] + offset + noise[i],
                         "tumour_dice": tumour,
                         "liver_assd": math.inf if (method, i) == ("C", 3) else 5.0 - 3 * case_effect[i] - 10 * offset + noise[i],
                         "lesion_recall_50": math.nan if i == 0 else float(i % 3 == 0)})
    return pd.DataFrame(rows)


def column(t, method, name):
    return t[t.method == method].sort_values("case")[name].to_numpy(dtype=float)


@pytest.fixture(scope="module")
def result():
    return compare_statistics(table(), seed=3, n_resamples=N, rank_resamples=500)


def test_means_and_intervals_are_scipys_bootstrap(result):
    t = table()
    for method in ("A", "B", "C"):
        x = column(t, method, "liver_dice")
        ref = stats.bootstrap((x,), np.mean, n_resamples=N, method="BCa", rng=np.random.default_rng(3))
        got = result["metrics"]["liver_dice"]["per_method"][method]
        assert got["n"] == 12 and got["mean"] == pytest.approx(x.mean())
        assert (got["ci_low"], got["ci_high"]) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
        assert got["ci_method"] == "BCa"


def test_paired_differences_and_wilcoxon_are_scipys(result):
    t = table()
    pairs = {(r["a"], r["b"]): r for r in result["metrics"]["liver_dice"]["pairs"]}
    assert set(pairs) == {("A", "B"), ("A", "C"), ("B", "C")}
    for (a, b), row in pairs.items():
        xa, xb = column(t, a, "liver_dice"), column(t, b, "liver_dice")
        ref = stats.bootstrap((xa, xb), lambda u, v, axis: u.mean(axis) - v.mean(axis), paired=True, vectorized=True,
                              n_resamples=N, method="BCa", rng=np.random.default_rng(3))
        assert row["mean_difference"] == pytest.approx(np.mean(xa - xb))
        assert row["sd_difference"] == pytest.approx(np.std(xa - xb, ddof=1))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
        assert row["p"] == pytest.approx(stats.wilcoxon(xa, xb).pvalue)
    p = [pairs[k]["p"] for k in (("A", "B"), ("A", "C"), ("B", "C"))]
    assert [pairs[k]["p_holm"] for k in (("A", "B"), ("A", "C"), ("B", "C"))] == pytest.approx(holm(p))
    assert pairs[("A", "B")]["significant"] and pairs[("A", "B")]["better"] == "B"
    assert not pairs[("A", "C")]["significant"]


def test_non_finite_values_leave_the_case_out_of_that_metric_only(result):
    assd = result["metrics"]["liver_assd"]
    assert assd["per_method"]["C"]["n"] == 11 and assd["per_method"]["A"]["n"] == 12  # C's infinite case
    pairs = {(r["a"], r["b"]): r for r in assd["pairs"]}
    assert pairs[("A", "C")]["n"] == 11 and pairs[("A", "B")]["n"] == 12
    assert assd["ranks"]["n"] == 11
    assert not assd["higher_is_better"] and pairs[("A", "B")]["better"] == "B"  # lower ASSD is better
    recall = result["metrics"]["lesion_recall_50"]  # case 0 has no truth lesion: NaN, left out
    assert recall["per_method"]["A"]["n"] == 11
    assert "tumour_assd" not in result["metrics"]  # no such column in the table


def test_the_lits_empty_case_counts_as_dice_one():
    t = table()
    assert column(t, "A", "tumour_dice")[0] == 1.0
    got = compare_statistics(t, seed=0, n_resamples=N, rank_resamples=50)["metrics"]["tumour_dice"]
    assert got["per_method"]["A"]["mean"] == pytest.approx(column(t, "A", "tumour_dice").mean())


def test_pairing_follows_the_case_id_not_the_row_order(result):
    t = table().sample(frac=1.0, random_state=5).sort_values("method", kind="stable")  # cases shuffled
    assert list(t[t.method == "A"].case) != sorted(t[t.method == "A"].case)
    again = compare_statistics(t, seed=3, n_resamples=N, rank_resamples=500)
    for m in ("A", "B", "C"):
        assert again["metrics"]["liver_dice"]["per_method"][m] == result["metrics"]["liver_dice"]["per_method"][m]
    for key in ("mean_difference", "ci_low", "ci_high", "p"):
        assert [r[key] for r in again["metrics"]["liver_dice"]["pairs"]] == pytest.approx(
            [r[key] for r in result["metrics"]["liver_dice"]["pairs"]])


def test_paired_interval_is_narrower_than_unpaired_on_correlated_data():
    """Fails when the pairing is broken: the case effect (sd 0.1) dominates the method difference (0.03)."""
    t = table()
    a, b = column(t, "A", "liver_dice"), column(t, "B", "liver_dice")
    paired = paired_difference(a, b, seed=0, n_resamples=N)
    unpaired = unpaired_difference_ci(a, b, seed=0, n_resamples=N)
    assert paired["ci_high"] - paired["ci_low"] < 0.25 * (unpaired["ci_high"] - unpaired["ci_low"])
    assert paired["ci_high"] < 0 < unpaired["ci_high"]  # only the paired interval resolves B > A
    assert paired["p"] < 0.01 < stats.mannwhitneyu(a, b).pvalue


def test_holm_against_a_hand_example():
    # p sorted 0.01, 0.02, 0.03, 0.04 (m = 4): 4 * 0.01 = 0.04, 3 * 0.02 = 0.06, 2 * 0.03 = 0.06, 1 * 0.04 -> 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.001, float("nan")])[:2] == pytest.approx([0.5, 0.002])  # NaN is not one of the m tests
    assert math.isnan(holm([0.5, 0.001, float("nan")])[2])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_degenerate_inputs_give_a_stated_result():
    same = paired_difference([0.8, 0.7, 0.9], [0.8, 0.7, 0.9])  # wilcoxon cannot rank only zeros
    assert same["p"] == 1.0 and same["mean_difference"] == 0 and "zero" in same["note"]
    assert (same["ci_low"], same["ci_high"]) == (0.0, 0.0)
    one = paired_difference([0.8], [0.7])
    assert math.isnan(one["p"]) and math.isnan(one["ci_low"]) and "1 paired case" in one["note"]
    assert math.isnan(paired_difference([], [])["mean_difference"])
    flat = bootstrap_mean([0.5, 0.5, 0.5])
    assert (flat["ci_low"], flat["ci_high"]) == (0.5, 0.5) and flat["note"] == "all values equal"
    assert "no interval" in bootstrap_mean([0.5, math.inf])["note"]
    assert "no ranking" in rank_stability(pd.DataFrame({"A": [0.1], "B": [0.2]}), True)["note"]
    t = pd.DataFrame({"method": ["A", "B"], "case": ["x", "x"], "liver_dice": [0.9, 0.8]})
    out = compare_statistics(t, n_resamples=N)
    assert math.isnan(out["metrics"]["liver_dice"]["pairs"][0]["p_holm"])
    assert not out["metrics"]["liver_dice"]["pairs"][0]["significant"]


def test_cases_needed_by_the_normal_approximation():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)  # 2.8016
    assert cases_needed(0.01, 0.05) == math.ceil((z * 0.05 / 0.01) ** 2) == 197
    assert cases_needed(-0.01, 0.05) == 197  # the sign of the difference does not matter
    assert math.isnan(cases_needed(0.0, 0.05)) and cases_needed(0.1, 0.0) == 2.0


def test_rank_stability_counts_ranks_over_resamples():
    wide = pd.DataFrame({"good": np.linspace(0.8, 0.9, 10), "bad": np.linspace(0.1, 0.2, 10),
                         "mid": np.linspace(0.4, 0.5, 10)})
    out = rank_stability(wide, higher_is_better=True, seed=0, n_resamples=200)
    assert out["observed"] == {"good": 1, "bad": 3, "mid": 2}
    assert out["frequency"]["good"] == [1.0, 0.0, 0.0] and out["same_order"] == 1.0
    assert rank_stability(wide, higher_is_better=False, seed=0, n_resamples=50)["observed"]["bad"] == 1
    for freq in rank_stability(table().pivot(index="case", columns="method", values="liver_dice"), True,
                               n_resamples=300)["frequency"].values():
        assert sum(freq) == pytest.approx(1.0)


def test_the_reading_aid_names_the_direction_of_every_interval_it_quotes():
    from liverseg.compare.report import reading_aid

    pair = {"a": "bi", "b": "gong", "n": 10, "mean_difference": -0.06, "ci_low": -0.07, "ci_high": -0.05,
            "sd_difference": 0.01, "p": 0.002, "p_holm": 0.03, "significant": True, "better": "gong",
            "cases_needed": 3.0, "note": ""}
    statistics = {"alpha": 0.05, "power": 0.8, "rank_resamples": 10, "metrics": {"liver_dice": {
        "label": "liver Dice per case", "per_method": {"bi": {}, "gong": {}}, "pairs": [pair], "ranks": {},
        "absent": []}}}
    text = "\n".join(reading_aid(statistics))
    # gong is the better one; the interval quoted is that of bi - gong, named so, with its negative bounds
    assert "gong better than bi by 0.06 (95 % CI of bi - gong [-0.07, -0.05]" in text
