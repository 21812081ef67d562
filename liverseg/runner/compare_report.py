"""The report of `liverseg compare`: every paper's default variant on the common test cases.

    report.md          liver table, tumour table, cost (seconds per volume, parameters), the papers'
                       own numbers beside ours (marked as measured on their own data), figures
    metrics.json       the same numbers per paper, the split, where each run lives
    per_case.csv       one row per (paper, test case): the LiTS-protocol scores of that volume
    per_case_dice.png  liver and tumour Dice per case and paper, the same case joined across papers
    same_slice.png     one test slice: source, truth and every paper's labels
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from liverseg.errors import InputError, OptionError
from liverseg.io.atomic import atomic_path, atomic_write_text, read_json
from liverseg.report.tables import format_value, jsonable, write_metrics

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
    path = run_dir / "predictions" / variant / "records.json"
    records = read_json(path) if path.is_file() else {}
    seconds = [records[c]["seconds"] for c in cases if "seconds" in records.get(c, {})]
    return float(np.mean(seconds)) if seconds else math.nan


def paper_scores(run, split: dict, protocol: str = "liverseg") -> tuple[dict, pd.DataFrame]:
    """(summary on the common test cases under `protocol`, their per-case rows) of one paper's run; the
    structures the paper does not segment are NaN."""
    from liverseg.evaluation import aggregate
    from liverseg.runner.predictions import per_case_table

    per_case = per_case_table(run.run_dir, run.variant)
    per_case = per_case[per_case.case.isin(split["test"])].reset_index(drop=True)
    try:
        summary = aggregate(per_case, protocol=protocol)
    except OptionError as err:  # a run scored before the per-case rows carried both protocols
        raise InputError(run.run_dir / "evaluation" / run.variant / "per_case.csv",
                         f"{err} (delete that evaluation folder, or the run)") from None
    for structure in ("liver", "tumour"):
        if structure not in run.spec.structures:
            drop = [k for k in summary if k.startswith(structure) or (structure == "tumour" and k.startswith("lesion"))]
            summary.update({k: math.nan for k in drop})
            for column in [c for c in per_case.columns if c.startswith(structure)]:
                per_case[column] = math.nan
    predictor = run.spec.predictor(run.run_dir, run.cfg, run.variant)
    summary["seconds_per_volume"] = _seconds_per_volume(run.run_dir, run.variant, list(split["test"]))
    summary["parameters"] = count_parameters(predictor)
    return summary, per_case


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


def _same_slice(runs, split: dict, per_case: pd.DataFrame, out_png: Path) -> dict:
    """The test case with the median mean liver Dice over the papers, at its slice with the most tumour
    (else liver) in the truth: source, truth, every paper's labels."""
    from liverseg.io.volumes import read_volume
    from liverseg.report.panels import plot_side_by_side
    from liverseg.report.plots import pick_slice
    from liverseg.runner.data import read_source_case
    from liverseg.runner.predictions import prediction_path
    from liverseg.data.cache import SliceCache

    mean = per_case.groupby("case").liver_dice.mean().sort_values(kind="stable")
    case_id = str(mean.index[len(mean) // 2]) if len(mean) else split["test"][0]
    case = read_source_case(SliceCache(runs[0].run_dir / "cache"), case_id)
    truth = np.asarray(case.label.array)
    z = pick_slice(truth, truth)
    preds = {run.spec.name: read_volume(prediction_path(run.run_dir, run.variant, case_id), kind="label").array[..., z]
             for run in runs}
    plot_side_by_side(case.image.array[..., z], truth[..., z], preds, out_png,
                      title=f"test case {case_id}, slice {z}: every paper's default variant")
    return {"case": case_id, "slice": int(z)}


def write_compare_report(runs, split: dict, options) -> Path:
    """report.md, metrics.json, per_case.csv and the two figures in `options.out`; report.md last."""
    from liverseg.report.methods import plot_methods_per_case

    out = Path(options.out)
    scores, frames = {}, []
    for run in runs:
        scores[run.spec.name], per_case = paper_scores(run, split, getattr(options, "protocol", "liverseg"))
        frames.append(per_case.assign(paper=run.spec.name))
    per_case = pd.concat(frames, ignore_index=True)
    columns = ["paper", *[c for c in per_case.columns if c != "paper"]]
    with atomic_path(out / "per_case.csv") as tmp:
        per_case[columns].to_csv(tmp, index=False)
    plot_methods_per_case(per_case, out / "per_case_dice.png", ["liver_dice", "tumour_dice"], method="paper",
                          title=f"{len(split['test'])} common test cases")
    shown = _same_slice(runs, split, per_case, out / "same_slice.png")
    first = runs[0].cfg
    data = first.data_dir or f"the phantom ({first.phantom.cases} cases, {first.phantom.size} px, seed {first.phantom.seed})"
    metrics = {"profile": options.profile, "protocol": getattr(options, "protocol", "liverseg"),
               "dataset": first.dataset, "data": data, "seed": options.seed,
               "split": {k: list(split[k]) for k in ("train", "val", "test")}, "same_slice": shown,
               "papers": {run.spec.name: {"title": run.spec.title, "variant": run.variant, "run_dir": str(run.run_dir),
                                          "reused": run.reused or None, "scores": scores[run.spec.name],
                                          "claimed": run.spec.claimed} for run in runs}}
    write_metrics(out, metrics)
    text = _report_text(runs, split, scores, options, data)
    return atomic_write_text(out / "report.md", text)


def _report_text(runs, split: dict, scores: dict, options, data: str) -> str:
    names = [run.spec.name for run in runs]
    structure_rows = {s: [[n, runs[i].variant, *[scores[n].get(f"{s}_{m}") for m in VOLUME]]
                          for i, n in enumerate(names)] for s in ("liver", "tumour")}
    for row in structure_rows["tumour"]:
        row.extend(scores[row[0]].get(k) for k in DETECTION)
    header = ["paper", "variant", "Dice per case", "Dice global", "VOE", "RVD", "ASSD (mm)", "MSD (mm)"]
    cost = [[n, scores[n]["seconds_per_volume"], scores[n]["parameters"]] for n in names]
    liver_only = [run.spec.name for run in runs if "tumour" not in run.spec.structures]
    parts = [
        "# liverseg compare: every paper's default variant on one test set", "",
        f"Profile `{options.profile}` on {data}. Common patient split (seed {options.seed}): "
        f"{len(split['train'])} train, {len(split['val'])} validation, {len(split['test'])} test: "
        f"{', '.join(split['test'])}. Every paper trains its default variant on the same training patients "
        "and is scored on the same test volumes by the same LiTS-protocol scorer (`liverseg.evaluation`, protocol "
        f"`{getattr(options, 'protocol', 'liverseg')}`).", "",
        "## Liver", "", _table(header, structure_rows["liver"]), "",
        "## Tumour", "", _table([*header, "lesion precision (IoU > 0.5)", "lesion recall (IoU > 0.5)"],
                                structure_rows["tumour"]), "",
    ]
    if liver_only:
        parts += [f"{', '.join(liver_only)}: liver only (the paper segments no tumour).", ""]
    parts += ["## Cost", "", _table(["paper", "seconds per volume (this machine)", "parameters"], cost), "",
              "## The papers' own numbers (their data and protocol, not this test set)", "",
              "Measured by the authors on their own data: not comparable with each other, nor with the rows above "
              "except as a direction.", "", _claims_table(runs, scores), "",
              "## Figures", "", "![per-case Dice](per_case_dice.png)", "", "![same slice](same_slice.png)", "",
              "## Runs", ""]
    parts += [f"- {run.spec.name}: `{run.run_dir}`" + (f" (reused {run.reused})" if run.reused else "") for run in runs]
    return "\n".join(parts) + "\n"


__all__ = ["count_parameters", "paper_scores", "write_compare_report"]
