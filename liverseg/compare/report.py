"""The report of `liverseg compare`: every paper's default variant on the common test cases.

    report.md           liver table, tumour table, the statistics (means with 95 % bootstrap intervals,
                        paired differences, Wilcoxon tests with Holm correction, rank stability) and a
                        reading aid in words, cost (seconds per volume, parameters), the papers' own
                        numbers beside ours (marked as measured on their own data), figures
    metrics.json        the same numbers per paper, every statistic, the split or folds, where each run lives
    per_case.csv        one row per (paper, test case): the LiTS-protocol scores of that volume (with folds:
                        every case, each scored by the fold that held it out; a `fold` column)
    per_case_dice.png   liver and tumour Dice per case and paper, the same case joined across papers
    same_slice.png      one test slice: source, truth and every paper's labels
    rank_stability.png  each paper's rank over bootstrap resamples of the cases, per metric
    significance.png    which pairs differ: paired differences and Holm-corrected Wilcoxon p per metric
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from liverseg.errors import InputError, OptionError
from liverseg.io.atomic import atomic_path, atomic_write_text, read_json
from liverseg.io.run_layout import CompareDir, RunDir
from liverseg.report.tables import MISSING, format_value, write_metrics

VOLUME = ("dice_per_case", "dice_global", "voe", "rvd", "assd", "msd")
DETECTION = ("lesion_precision_50", "lesion_recall_50")


def count_parameters(obj) -> int:
    """Weights of every Keras model a predictor holds (attributes, lists and dicts of them), each
    variable counted once: a frozen level inside a cascade is not counted twice."""
    import keras

    seen, total, todo = set(), 0, [obj]
    while todo:
        item = todo.pop()
        if isinstance(item, keras.Model):
            for w in item.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    total += int(np.prod(w.shape))
        elif isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
        elif hasattr(item, "__dict__") and item is obj:
            todo.extend(vars(item).values())
    return total


def _seconds_per_volume(run_dir: Path, variant: str, cases: list[str]) -> float:
    path = RunDir(run_dir).records(variant)
    records = read_json(path) if path.is_file() else {}
    seconds = [records[c]["seconds"] for c in cases if "seconds" in records.get(c, {})]
    return float(np.mean(seconds)) if seconds else math.nan


def _case_rows(run, split: dict) -> pd.DataFrame:
    """The run's per-case rows on the split's test cases."""
    from liverseg.runner.predictions import per_case_table

    per_case = per_case_table(run.run_dir, run.variant)
    return per_case[per_case.case.isin(split["test"])].reset_index(drop=True)


def paper_scores(runs_and_splits, protocol: str = "liverseg") -> tuple[dict, pd.DataFrame]:
    """(summary under `protocol`, per-case rows) of one paper over [(run, split)]: one pair for the single
    split, one per fold (each run on its fold's test cases; with folds the rows carry a `fold` column and
    the summary pools every case). The structures the paper does not segment are NaN."""
    from liverseg.evaluation import aggregate

    frames = []
    for run, split in runs_and_splits:
        rows = _case_rows(run, split)
        frames.append(rows.assign(fold=int(split["fold"])) if "fold" in split else rows)
    per_case = pd.concat(frames, ignore_index=True)
    first = runs_and_splits[0][0]
    try:
        summary = aggregate(per_case.drop(columns=["fold"], errors="ignore"), protocol=protocol)
    except OptionError as err:  # a run scored before the per-case rows carried both protocols
        raise InputError(RunDir(first.run_dir).per_case(first.variant),
                         f"{err} (delete that evaluation folder, or the run)") from None
    for structure in ("liver", "tumour"):
        if structure not in first.spec.structures:
            drop = [k for k in summary if k.startswith(structure) or (structure == "tumour" and k.startswith("lesion"))]
            summary.update({k: math.nan for k in drop})
            for column in [c for c in per_case.columns if c.startswith(structure)
                           or (structure == "tumour" and c.startswith("lesion"))]:
                per_case[column] = math.nan
    seconds = [_seconds_per_volume(run.run_dir, run.variant, list(split["test"])) for run, split in runs_and_splits]
    counts = [len(split["test"]) for _, split in runs_and_splits]
    finite = [(s, c) for s, c in zip(seconds, counts) if math.isfinite(s)]
    summary["seconds_per_volume"] = (sum(s * c for s, c in finite) / sum(c for _, c in finite)) if finite else math.nan
    summary["parameters"] = _parameters(first)
    return summary, per_case


def _parameters(run) -> int:
    """Weights of the run's predictor (the same architecture in every fold)."""
    return count_parameters(run.spec.predictor(run.spec.context(run.cfg, run.run_dir), run.variant))


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(format_value(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _claims_table(runs, scores: dict) -> str:
    rows = []
    for run in runs:
        claimed = {k: v for k, v in run.spec.claimed.items() if k != "data"}
        ours = scores[run.spec.name]
        for key, value in claimed.items():
            rows.append([run.spec.name, run.spec.claimed.get("data", "—"), key, value, ours.get(key)])
    return _table(["paper", "their data and protocol", "measure", "paper's own number",
                   "ours, common test set"], rows)


def _same_slice(groups, per_case: pd.DataFrame, out_png: Path) -> tuple[dict, dict]:
    """The test case with the median mean liver Dice over the papers, at its slice with the most tumour
    (else liver) in the truth: source, truth, every paper's labels (from the fold that tested that case).
    Returns ({case, slice}, {paper: run holding that case})."""
    from liverseg.io.volumes import read_volume
    from liverseg.report.panels import plot_side_by_side
    from liverseg.report.plots import pick_slice
    from liverseg.runner.data import read_source_case
    from liverseg.runner.predictions import prediction_path
    from liverseg.data.cache import SliceCache

    mean = per_case.groupby("case").liver_dice.mean().sort_values(kind="stable")
    case_id = str(mean.index[len(mean) // 2]) if len(mean) else groups[0][0]["test"][0]
    split, runs = next((split, runs) for split, runs in groups if case_id in split["test"])
    case = read_source_case(SliceCache(RunDir(runs[0].run_dir).cache), case_id)
    truth = np.asarray(case.label.array)
    z = pick_slice(truth, truth)
    preds = {run.spec.name: read_volume(prediction_path(run.run_dir, run.variant, case_id), kind="label").array[..., z]
             for run in runs}
    fold = f" (fold {split['fold'] + 1})" if "fold" in split else ""
    plot_side_by_side(case.image.array[..., z], truth[..., z], preds, out_png,
                      title=f"test case {case_id}{fold}, slice {z}: every paper's default variant")
    return {"case": case_id, "slice": int(z)}, {run.spec.name: run for run in runs}


def _all_tested(groups) -> list[str]:
    return sorted({c for split, _ in groups for c in split["test"]})


def write_compare_report(groups, options) -> Path:
    """report.md, metrics.json, per_case.csv and the figures in `options.out`; report.md last.

    `groups`: [(split, runs)], one for the single split, one per fold (the same papers in each)."""
    from liverseg.evaluation.paired_stats import compare_statistics
    from liverseg.report.compare_figures import plot_rank_stability, plot_significance_map
    from liverseg.report.methods import plot_methods_per_case

    out = CompareDir(options.out)
    protocol = getattr(options, "protocol", "liverseg")
    names = [run.spec.name for run in groups[0][1]]
    by_paper = {name: [(runs[i], split) for split, runs in groups] for i, name in enumerate(names)}
    scores, frames = {}, []
    for name in names:
        scores[name], per_case = paper_scores(by_paper[name], protocol)
        frames.append(per_case.assign(paper=name))
    per_case = pd.concat(frames, ignore_index=True)
    lead = ["paper", *(["fold"] if "fold" in per_case.columns else []), "case"]
    columns = [*lead, *[c for c in per_case.columns if c not in lead]]
    with atomic_path(out.per_case) as tmp:
        per_case[columns].to_csv(tmp, index=False)
    tested = _all_tested(groups)
    folds = len(groups) if "fold" in groups[0][0] else 0
    statistics = compare_statistics(per_case, method="paper", case="case", seed=options.seed)
    plot_methods_per_case(per_case, out.figure("per_case_dice"), ["liver_dice", "tumour_dice"], method="paper",
                          title=f"{len(tested)} " + ("out-of-fold cases" if folds else "common test cases"))
    plot_rank_stability(statistics, out.figure("rank_stability"))
    plot_significance_map(statistics, out.figure("significance"))
    shown, shown_runs = _same_slice(groups, per_case, out.figure("same_slice"))
    first = groups[0][1][0].cfg
    data = first.data_dir or f"the phantom ({first.phantom.cases} cases, {first.phantom.size} px, seed {first.phantom.seed})"
    if folds:
        split_entry = {"train": [], "val": [], "test": tested,
                       "note": f"{folds} folds: every case tested once, by networks that never trained on it"}
    else:
        split_entry = {k: list(groups[0][0][k]) for k in ("train", "val", "test")}
    metrics = {"profile": options.profile, "protocol": protocol, "dataset": first.dataset, "data": data,
               "seed": options.seed, "folds": folds, "split": split_entry, "same_slice": shown,
               "fold_splits": [{k: list(split[k]) for k in ("train", "val", "test")} for split, _ in groups] if folds else [],
               "statistics": statistics,
               "papers": {name: {"title": shown_runs[name].spec.title, "variant": shown_runs[name].variant,
                                 "run_dir": str(shown_runs[name].run_dir),
                                 "run_dirs": [str(run.run_dir) for run, _ in by_paper[name]],
                                 "reused": [run.reused or None for run, _ in by_paper[name]] if folds
                                 else (by_paper[name][0][0].reused or None),
                                 "scores": scores[name], "claimed": shown_runs[name].spec.claimed} for name in names}}
    write_metrics(out.metrics, metrics)
    text = _report_text(groups, scores, statistics, options, data)
    return atomic_write_text(out.report, text)


def _ci(low, high) -> str:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return MISSING
    return f"[{low:.4g}, {high:.4g}]"


def _p(value) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:.3g}"


def supported(row: dict) -> bool:
    """A pair's difference counts as supported: Holm-corrected Wilcoxon p < alpha and its paired interval
    excludes 0."""
    low, high = row["ci_low"], row["ci_high"]
    return bool(row["significant"] and math.isfinite(low) and math.isfinite(high) and (low > 0 or high < 0))


def _statistics_tables(statistics: dict) -> list[str]:
    parts = []
    for column, entry in statistics["metrics"].items():
        ranks = entry["ranks"]
        first = {m: (f[0] if f else math.nan) for m, f in ranks.get("frequency", {}).items()}
        rows = [[m, e["n"], e["mean"], _ci(e["ci_low"], e["ci_high"]), e["ci_method"],
                 ranks.get("observed", {}).get(m), first.get(m, math.nan)] for m, e in entry["per_method"].items()]
        parts += [f"### {entry['label']} (`{column}`, {'higher' if entry['higher_is_better'] else 'lower'} is better)",
                  "", _table(["paper", "cases", "mean", "95 % CI (bootstrap)", "interval", "rank",
                              "share of resamples at rank 1"], rows), ""]
        if entry["absent"]:
            parts += [f"No finite value: {', '.join(entry['absent'])} (left out).", ""]
        if entry["pairs"]:
            pair_rows = [[r["a"], r["b"], r["n"], r["mean_difference"], _ci(r["ci_low"], r["ci_high"]), r["sd_difference"],
                          _p(r["p"]), _p(r["p_holm"]), "yes" if supported(r) else "no",
                          int(r["cases_needed"]) if math.isfinite(r["cases_needed"]) else None]
                         for r in entry["pairs"]]
            parts += [_table(["A", "B", "paired cases", "mean A - B", "95 % CI (paired bootstrap)", "paired SD",
                              "Wilcoxon p", "Holm p", "supported", "cases needed"], pair_rows), ""]
    return parts


def reading_aid(statistics: dict) -> list[str]:
    """The statistics in words: per metric, which differences the data support at this number of cases,
    which not, and how many cases the smallest observed difference would need."""
    alpha = statistics["alpha"]
    lines = []
    for column, entry in statistics["metrics"].items():
        pairs = [r for r in entry["pairs"] if r["n"] >= 2]
        label = entry["label"]
        if len(entry["per_method"]) < 2:
            lines.append(f"- **{label}**: {', '.join(entry['per_method']) or 'no paper'} alone has values: no pair to compare.")
            continue
        if not pairs:
            lines.append(f"- **{label}**: fewer than 2 paired cases for every pair: nothing can be said.")
            continue
        yes = [r for r in pairs if supported(r)]
        no = [r for r in pairs if not supported(r)]
        text = f"- **{label}** ({max(r['n'] for r in pairs)} paired cases at most): "
        if yes:
            text += "supported: " + "; ".join(
                f"{r['better']} better than {r['b'] if r['better'] == r['a'] else r['a']} by "
                f"{abs(r['mean_difference']):.3g} (95 % CI of {r['a']} - {r['b']} {_ci(r['ci_low'], r['ci_high'])}, Holm p {_p(r['p_holm'])})"
                for r in yes) + ". "
        else:
            text += "no difference between two papers is supported. "
        if no:
            text += f"Not supported ({len(no)} of {len(pairs)} pairs: Holm p >= {alpha} or the interval holds 0): " +                     ", ".join(f"{r['a']} vs {r['b']} ({r['mean_difference']:+.3g})" for r in no) + ". "
        resolvable = [r for r in pairs if math.isfinite(r["mean_difference"]) and r["mean_difference"] != 0
                      and math.isfinite(r["cases_needed"])]
        if resolvable:
            r = min(resolvable, key=lambda r: abs(r["mean_difference"]))
            text += (f"The smallest observed difference, {r['a']} vs {r['b']} ({r['mean_difference']:+.3g}, paired SD "
                     f"{r['sd_difference']:.3g}), would need about {int(r['cases_needed'])} paired cases to be resolved "
                     f"(alpha {alpha}, power {statistics['power']}); there are {r['n']}.")
        ties = [r for r in pairs if r["note"].startswith("all paired differences are zero")]
        if ties:
            same = ", ".join(f"{r['a']} and {r['b']}" for r in ties)
            text += f" Identical on every case: {same}."
        ranks = entry["ranks"]
        if ranks.get("frequency"):
            top = max(ranks["frequency"], key=lambda m: ranks["frequency"][m][0])
            text += (f" Ranking: {top} is first in {ranks['frequency'][top][0]:.0%} of {statistics['rank_resamples']} "
                     f"bootstrap resamples; the observed order of all papers holds in {ranks['same_order']:.0%}.")
        lines.append(text)
    n = max((r["n"] for e in statistics["metrics"].values() for r in e["pairs"]), default=0)
    if n:
        lines.append(f"- With {n} paired cases the smallest two-sided p a Wilcoxon signed-rank test can give (exact, "
                     f"no ties) is 2 / 2^{n} = {2 / 2 ** n:.3g}; the test drops cases where two papers score the same, "
                     f"with fewer than 6 cases that differ it can never reach {alpha}, and Holm compares the smallest of "
                     f"m p-values with {alpha} / m.")
    return lines


def _report_text(groups, scores: dict, statistics: dict, options, data: str) -> str:
    runs = groups[0][1]
    names = [run.spec.name for run in runs]
    structure_rows = {s: [[n, runs[i].variant, *[scores[n].get(f"{s}_{m}") for m in VOLUME]]
                          for i, n in enumerate(names)] for s in ("liver", "tumour")}
    for row in structure_rows["tumour"]:
        row.extend(scores[row[0]].get(k) for k in DETECTION)
    header = ["paper", "variant", "Dice per case", "Dice global", "VOE", "RVD", "ASSD (mm)", "MSD (mm)"]
    cost = [[n, scores[n]["seconds_per_volume"], scores[n]["parameters"]] for n in names]
    liver_only = [run.spec.name for run in runs if "tumour" not in run.spec.structures]
    protocol = getattr(options, "protocol", "liverseg")
    tested = _all_tested(groups)
    if "fold" in groups[0][0]:
        sizes = ", ".join(f"{len(s['train'])} / {len(s['val'])} / {len(s['test'])}" for s, _ in groups)
        design = (f"{len(groups)} patient folds (seed {options.seed}, stratified by tumour presence; train / "
                  f"validation / test per fold: {sizes}): each of the {len(tested)} cases is scored once by every "
                  "paper, by the networks of the fold that held it out (never trained or validated on). Every paper "
                  "trains its default variant once per fold on the same patients")
    else:
        split = groups[0][0]
        design = (f"Common patient split (seed {options.seed}): {len(split['train'])} train, {len(split['val'])} "
                  f"validation, {len(split['test'])} test: {', '.join(split['test'])}. Every paper trains its default "
                  "variant on the same training patients")
    parts = [
        "# liverseg compare: every paper's default variant on one test set", "",
        f"Profile `{options.profile}` on {data}. {design} and is scored on the same test volumes by the same "
        f"LiTS-protocol scorer (`liverseg.evaluation`, protocol `{protocol}`).", "",
        "## Liver", "", _table(header, structure_rows["liver"]), "",
        "## Tumour", "", _table([*header, "lesion precision (IoU > 0.5)", "lesion recall (IoU > 0.5)"],
                                structure_rows["tumour"]), "",
    ]
    if liver_only:
        parts += [f"{', '.join(liver_only)}: liver only (the paper segments no tumour).", ""]
    parts += ["## What the data support", "",
              f"{len(tested)} test cases. A difference is called supported when the Wilcoxon signed-rank test of the "
              f"paired per-case scores, Holm-corrected across the pairs of that metric, gives p < {statistics['alpha']} "
              "and the 95 % paired bootstrap interval of the difference excludes 0.", "",
              *reading_aid(statistics), "",
              "## Statistics", "",
              f"Means with 95 % bootstrap intervals over cases ({statistics['bootstrap']}). Pairs: mean of A - B over "
              "the cases both scored, the same bootstrap with paired resampling (a resample draws whole cases), "
              "`scipy.stats.wilcoxon(a, b)` (two-sided), Holm's step-down correction over the pairs of each metric. "
              f"Ranks over {statistics['rank_resamples']} bootstrap resamples of the common cases "
              f"(`numpy.random.default_rng({statistics['seed']})`). Cases needed: {statistics['formula']}; the "
              "normal approximation is optimistic for a handful of cases.", "",
              "Conventions:", "", *[f"- {c}" for c in statistics["conventions"]], "",
              *_statistics_tables(statistics),
              "![rank stability](rank_stability.png)", "", "![significance map](significance.png)", ""]
    parts += ["## Cost", "", _table(["paper", "seconds per volume (this machine)", "parameters"], cost), "",
              "## The papers' own numbers (their data and protocol, not this test set)", "",
              "Measured by the authors on their own data: not comparable with each other, nor with the rows above "
              "except as a direction.", "", _claims_table(runs, scores), "",
              "## Figures", "", "![per-case Dice](per_case_dice.png)", "", "![same slice](same_slice.png)", "",
              "## Runs", ""]
    for split, fold_runs in groups:
        head = f"fold {split['fold'] + 1}: " if "fold" in split else ""
        parts += [f"- {head}{run.spec.name}: `{run.run_dir}`" + (f" (reused {run.reused})" if run.reused else "")
                  for run in fold_runs]
    return "\n".join(parts) + "\n"


__all__ = ["count_parameters", "paper_scores", "reading_aid", "supported", "write_compare_report"]
