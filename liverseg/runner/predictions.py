"""Whole-volume inference on the test cases and their LiTS-protocol evaluation, one variant at a time.

    predictions/<variant>/segmentation-N.nii.gz   labels 0/1/2 in the source's geometry (per case)
    predictions/<variant>/records.json            what the method keeps per case (e.g. crop boxes)
    predictions/<variant>/done.json               written last: every test case is predicted
    evaluation/<variant>/per_case.csv, summary.json

A case is finished when its label volume exists; its record is merged into `records.json` before
the volume is written, so an interrupted run keeps the records of every finished case and redoes
only the case it was in.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from liverseg.io.atomic import atomic_path, atomic_write_json, read_json
from liverseg.io.run_layout import RunDir
from liverseg.runner.data import case_number, read_source_case


def prediction_path(run_dir: Path, variant: str, case_id: str) -> Path:
    return RunDir(run_dir).prediction(variant, case_number(case_id))


def _merge_record(path: Path, case_id: str, record: dict) -> None:
    records = read_json(path) if path.is_file() else {}
    records[case_id] = record
    atomic_write_json(path, records)


def predict_variant(spec, cache, cfg, split: dict, run_dir: Path, variant: str) -> None:
    """Predict every test case of one variant that has no label volume yet."""
    from liverseg.io.volumes import write_label_volume

    layout = RunDir(run_dir)
    out_dir, done = layout.predictions(variant), layout.predicted(variant)
    if done.is_file():
        print(f"skipping inference ({variant}): already done", flush=True)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [c for c in split["test"] if not prediction_path(run_dir, variant, c).is_file()]
    predictor = spec.predictor(spec.context(cfg, run_dir, cache, split), variant) if todo else None
    for i, case_id in enumerate(todo, 1):
        case = read_source_case(cache, case_id)
        start = time.perf_counter()
        result = predictor(case.image)
        seconds = time.perf_counter() - start
        _merge_record(layout.records(variant), case_id, {**result.record, "seconds": round(seconds, 3)})
        write_label_volume(case.image.to_original(result.labels), case.image.original_affine,
                           prediction_path(run_dir, variant, case_id))
        print(f"inference ({variant}) {i}/{len(todo)} {case_id}: {seconds:.1f} s", flush=True)
    atomic_write_json(done, {"variant": variant, "cases": list(split["test"])})


def evaluate_variant(cache, split: dict, run_dir: Path, variant: str, protocol: str = "liverseg") -> dict:
    """LiTS-protocol scores of the test cases: `evaluation/<variant>/per_case.csv` (the columns of both
    protocols, `liverseg.evaluation.score_volumes`) + `summary.json` (under `protocol`, which it names).

    A summary of the same protocol is reused; one of the other protocol is recomputed from
    per_case.csv, which is scored again only when it lacks the columns `protocol` needs."""
    from liverseg.evaluation import LITS_COLUMNS, aggregate, score_volumes
    from liverseg.io.volumes import read_volume

    layout = RunDir(run_dir)
    frame = None
    if layout.summary(variant).is_file():  # a finished evaluation (per_case.csv is written first)
        summary = read_json(layout.summary(variant))
        if summary.get("protocol", "liverseg") == protocol:
            return summary
        frame = per_case_table(run_dir, variant)
    if frame is None or not set(LITS_COLUMNS) <= set(frame.columns):
        rows = []
        for case_id in split["test"]:
            truth = read_source_case(cache, case_id).label
            pred = read_volume(prediction_path(run_dir, variant, case_id), kind="label")
            rows.append({"case": case_id, **score_volumes(pred, truth)})
        frame = pd.DataFrame(rows)
        layout.evaluation(variant).mkdir(parents=True, exist_ok=True)
        with atomic_path(layout.per_case(variant)) as tmp:
            frame.to_csv(tmp, index=False)
    summary = {**aggregate(frame, protocol=protocol), "protocol": protocol}
    atomic_write_json(layout.summary(variant), summary)
    return summary


def per_case_table(run_dir: Path, variant: str) -> pd.DataFrame:
    return pd.read_csv(RunDir(run_dir).per_case(variant), dtype={"case": str})


def slice_scores(cache, split: dict, run_dir: Path, variants) -> dict[str, dict[str, float]]:
    """{variant: {SPECIFICITY: value}} over the test patients, for each of `variants`."""
    from liverseg.evaluation.slice_scores import SPECIFICITY, specificity
    from liverseg.io.volumes import read_volume

    truths = {c: np.asarray(read_source_case(cache, c).label.array) for c in split["test"]}
    out = {}
    for variant in variants:
        pairs = [(truth, np.asarray(read_volume(prediction_path(run_dir, variant, c), kind="label").array))
                 for c, truth in truths.items()]
        out[variant] = {SPECIFICITY: specificity(pairs)}
    return out


__all__ = ["prediction_path", "predict_variant", "evaluate_variant", "per_case_table", "slice_scores"]
