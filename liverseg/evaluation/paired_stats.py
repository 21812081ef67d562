"""Paired statistics of several methods scored on the same cases: what a per-case table supports.

Pure functions on a per-case table (one row per (method, case), one column per metric); no model, no
file. `compare_statistics(table)` gives, as one JSON-able dict:

- per method and metric: the mean over cases (taken in sorted case order) with a 95 % bootstrap confidence interval
  (`bootstrap_mean`: ``scipy.stats.bootstrap((x,), np.mean, method="BCa", n_resamples=9999,
  rng=np.random.default_rng(seed))``, a fresh generator of the same seed for every interval);
- per pair of methods (A, B) and metric: the paired difference mean(A - B) over the cases both
  scored, with its interval from paired resampling (`paired_difference`: the same call on
  ``(a, b)`` with ``paired=True``: a resample draws whole cases, both methods' scores together),
  the paired SD, ``scipy.stats.wilcoxon(a, b)`` (two-sided, zero_method "wilcox", method "auto")
  and its p-value Holm-corrected across the pairs of that metric (`holm`);
- per metric: each method's rank over bootstrap resamples of the cases (`rank_stability`);
- per pair: the cases needed to resolve its observed difference (`cases_needed`), by the normal
  approximation of a paired test, n = ((z_{1-alpha/2} + z_{1-beta}) * sd / d)^2, alpha 0.05,
  power 1 - beta = 0.8, rounded up (at least 2); d the observed mean paired difference, sd its paired SD.

Conventions (`CONVENTIONS`, also written into the report): Dice of an empty prediction against an
empty truth is 1 (LiTS); a value that is undefined (NaN: lesion recall of a case without a truth
lesion, ASSD of empty against empty) or infinite (ASSD when one mask is empty) leaves that case out
of that metric, for a pair out of both methods' values; ranks of tied means share the better rank.
Degenerate input gives a stated result, never an exception: fewer than 2 cases give no interval and
no test; all paired differences zero give p = 1 (no difference) without calling wilcoxon (which
cannot rank zeros); values all equal give the interval [v, v]; where BCa is undefined the
percentile interval is used and named.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
POWER = 0.8
CONFIDENCE = 0.95
N_RESAMPLES = 9999
RANK_RESAMPLES = 2000


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    higher_is_better: bool


METRICS = (
    Metric("liver_dice", "liver Dice per case", True),
    Metric("tumour_dice", "tumour Dice per case", True),
    Metric("liver_assd", "liver ASSD (mm)", False),
    Metric("tumour_assd", "tumour ASSD (mm)", False),
    Metric("lesion_recall_50", "lesion recall (IoU > 0.5)", True),
)

CONVENTIONS = (
    "Dice per case: an empty prediction against an empty truth scores 1 and a prediction with one side empty 0 "
    "(LiTS convention).",
    "Undefined values (NaN: lesion recall of a case without a truth lesion, ASSD when both masks are empty) and "
    "infinite ones (ASSD when one mask is empty: the LiTS maximum penalty) leave that case out of that metric; a "
    "pair uses the cases where both methods have a finite value, so its two means can differ from the "
    "per-method means.",
    "Tied means in a bootstrap resample share the better rank; Wilcoxon drops zero differences "
    "(zero_method 'wilcox'); all differences zero: p = 1, no test run.",
)


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    return x[np.isfinite(x)]


def _interval(data: tuple, statistic, seed: int, paired: bool, n_resamples: int, confidence: float) -> dict:
    """scipy.stats.bootstrap with BCa, falling back to the percentile interval where BCa is undefined."""
    for method in ("BCa", "percentile"):
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = stats.bootstrap(data, statistic, paired=paired, vectorized=True, n_resamples=n_resamples,
                                      confidence_level=confidence, method=method, rng=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return {"ci_low": low, "ci_high": high, "ci_method": method}
    return {"ci_low": math.nan, "ci_high": math.nan, "ci_method": "none (bootstrap undefined)"}


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _mean_difference(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def bootstrap_mean(values, seed: int = 0, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE) -> dict:
    """{n, mean, ci_low, ci_high, ci_method, note} of the finite `values`."""
    x = _finite(values)
    out = {"n": int(len(x)), "mean": float(np.mean(x)) if len(x) else math.nan}
    if len(x) < 2:
        return {**out, "ci_low": math.nan, "ci_high": math.nan, "ci_method": "none",
                "note": f"{len(x)} case(s): no interval"}
    if np.all(x == x[0]):
        return {**out, "ci_low": float(x[0]), "ci_high": float(x[0]), "ci_method": "none", "note": "all values equal"}
    return {**out, **_interval((x,), _mean, seed, False, n_resamples, confidence), "note": ""}


def paired_values(table: pd.DataFrame, a: str, b: str, column: str, method: str = "method",
                  case: str = "case") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(a's values, b's values, cases) on the cases where both methods have a finite `column`, aligned by
    case id (the table's row order does not matter)."""
    wide = table.pivot_table(index=case, columns=method, values=column, aggfunc="first", dropna=False)
    if a not in wide.columns or b not in wide.columns:
        return np.zeros(0), np.zeros(0), []
    pair = wide[[a, b]].astype(np.float64)
    pair = pair[np.isfinite(pair[a]) & np.isfinite(pair[b])].sort_index()
    return pair[a].to_numpy(), pair[b].to_numpy(), [str(c) for c in pair.index]


def paired_difference(a, b, seed: int = 0, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE) -> dict:
    """Mean of a - b over paired cases, its paired bootstrap interval, paired SD and the Wilcoxon test."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = a - b
    n = int(len(d))
    out = {"n": n, "mean_a": float(np.mean(a)) if n else math.nan, "mean_b": float(np.mean(b)) if n else math.nan,
           "mean_difference": float(np.mean(d)) if n else math.nan,
           "sd_difference": float(np.std(d, ddof=1)) if n >= 2 else math.nan}
    if n < 2:
        return {**out, "ci_low": math.nan, "ci_high": math.nan, "ci_method": "none", "wilcoxon_statistic": math.nan,
                "p": math.nan, "note": f"{n} paired case(s): no interval, no test"}
    if np.all(d == d[0]):
        ci = {"ci_low": float(d[0]), "ci_high": float(d[0]), "ci_method": "none"}
    else:
        ci = _interval((a, b), _mean_difference, seed, True, n_resamples, confidence)
    if np.all(d == 0):
        return {**out, **ci, "wilcoxon_statistic": math.nan, "p": 1.0,
                "note": "all paired differences are zero: no difference (p = 1, no test run)"}
    res = stats.wilcoxon(a, b)
    return {**out, **ci, "wilcoxon_statistic": float(res.statistic), "p": float(res.pvalue), "note": ""}


def unpaired_difference_ci(a, b, seed: int = 0, n_resamples: int = N_RESAMPLES,
                           confidence: float = CONFIDENCE) -> dict:
    """The interval of mean(a) - mean(b) resampling the two methods independently (what ignoring the
    pairing would give; for comparison only)."""
    return _interval((np.asarray(a, np.float64), np.asarray(b, np.float64)), _mean_difference, seed, False,
                     n_resamples, confidence)


def holm(pvalues) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone, capped at 1), in the input order; NaN stays NaN and does
    not count among the m tests."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [float(v) for v in out]


def cases_needed(mean_difference: float, sd_difference: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Paired cases for a two-sided test at `alpha` to detect `mean_difference` with `power`, normal
    approximation: n = ((z_{1-alpha/2} + z_{power}) * sd / d)^2, rounded up (NaN when d is 0 or sd undefined;
    at least 2; 2 when sd is 0)."""
    d, sd = abs(float(mean_difference)), float(sd_difference)
    if not (math.isfinite(d) and math.isfinite(sd)) or d == 0:
        return math.nan
    if sd == 0:
        return 2.0
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(max(2, math.ceil((z * sd / d) ** 2)))


def rank_stability(wide: pd.DataFrame, higher_is_better: bool, seed: int = 0,
                   n_resamples: int = RANK_RESAMPLES) -> dict:
    """Ranks of the methods (columns of `wide`, rows: cases with a finite value for every method) on the
    observed cases and over bootstrap resamples of the cases (whole cases: all methods together).

    {"n": cases, "observed": {method: rank}, "frequency": {method: [share of resamples at rank 1, 2, ...]},
    "note"}; rank 1 is the best; tied means share the better rank."""
    methods = [str(c) for c in wide.columns]
    x = wide.to_numpy(dtype=np.float64)
    n = len(x)
    if n < 2 or len(methods) < 2:
        return {"n": n, "observed": {}, "frequency": {}, "note": f"{n} case(s), {len(methods)} method(s): no ranking"}
    sign = -1.0 if higher_is_better else 1.0

    def ranks(means):
        return stats.rankdata(sign * means, method="min", axis=-1).astype(int)

    observed = ranks(x.mean(axis=0))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    boot = ranks(x[idx].mean(axis=1))  # (resamples, methods)
    freq = {m: [float(np.mean(boot[:, j] == r)) for r in range(1, len(methods) + 1)] for j, m in enumerate(methods)}
    return {"n": n, "observed": {m: int(r) for m, r in zip(methods, observed)}, "frequency": freq,
            "same_order": float(np.mean(np.all(boot == observed, axis=1))), "note": ""}


def compare_statistics(table: pd.DataFrame, method: str = "method", case: str = "case", metrics=METRICS,
                       seed: int = 0, n_resamples: int = N_RESAMPLES, rank_resamples: int = RANK_RESAMPLES,
                       alpha: float = ALPHA, power: float = POWER) -> dict:
    """Every statistic of the module on `table` (see the module docstring); metrics whose column is absent,
    and methods with no finite value of a metric, are left out of that metric (listed under "absent")."""
    methods = list(dict.fromkeys(table[method].astype(str)))
    table = table.assign(**{method: table[method].astype(str), case: table[case].astype(str)})
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    out = {"methods": methods, "seed": seed, "n_resamples": n_resamples, "rank_resamples": rank_resamples,
           "confidence": CONFIDENCE, "alpha": alpha, "power": power, "conventions": list(CONVENTIONS),
           "formula": "n = ceil(((z_{1-alpha/2} + z_{power}) * sd / d)^2), normal approximation of a paired test; "
                      f"z sum {z:.4f} at alpha {alpha}, power {power}",
           "bootstrap": "scipy.stats.bootstrap(data, mean, method='BCa' (percentile where BCa is undefined), "
                        f"n_resamples={n_resamples}, confidence_level={CONFIDENCE}, vectorized=True, "
                        f"rng=np.random.default_rng({seed})); pairs: data=(a, b), statistic mean(a) - mean(b), "
                        "paired=True",
           "metrics": {}}
    for metric in metrics:
        if metric.column not in table.columns:
            continue
        values = {m: table.loc[table[method] == m].sort_values(case, kind="stable")[metric.column].to_numpy(dtype=np.float64)
                  for m in methods}  # in case order, as the pairs: the intervals do not depend on the row order
        present = [m for m in methods if np.isfinite(values[m]).any()]
        entry = {"label": metric.label, "higher_is_better": metric.higher_is_better,
                 "absent": [m for m in methods if m not in present],
                 "per_method": {m: bootstrap_mean(values[m], seed, n_resamples) for m in present}, "pairs": []}
        for a, b in combinations(present, 2):
            va, vb, cases = paired_values(table, a, b, metric.column, method, case)
            row = {"a": a, "b": b, **paired_difference(va, vb, seed, n_resamples)}
            row["cases_needed"] = cases_needed(row["mean_difference"], row["sd_difference"], alpha, power)
            entry["pairs"].append(row)
        for row, p in zip(entry["pairs"], holm([r["p"] for r in entry["pairs"]])):
            row["p_holm"] = p
            row["significant"] = bool(math.isfinite(p) and p < alpha)
            d = row["mean_difference"]
            row["better"] = (None if not math.isfinite(d) or d == 0 else
                             (row["a"] if (d > 0) == metric.higher_is_better else row["b"]))
        wide = table[table[method].isin(present)].pivot_table(index=case, columns=method, values=metric.column,
                                                              aggfunc="first", dropna=False)
        wide = wide.reindex(columns=present).astype(np.float64)
        wide = wide[np.isfinite(wide).all(axis=1)]
        entry["ranks"] = rank_stability(wide, metric.higher_is_better, seed, rank_resamples)
        out["metrics"][metric.column] = entry
    return out


__all__ = ["ALPHA", "CONFIDENCE", "CONVENTIONS", "METRICS", "Metric", "N_RESAMPLES", "POWER", "bootstrap_mean",
           "cases_needed", "compare_statistics", "holm", "paired_difference", "paired_values", "rank_stability",
           "unpaired_difference_ci"]
