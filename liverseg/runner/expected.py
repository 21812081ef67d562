"""Stored smoke-profile scores of a paper (`experiments/<paper>/expected_scores.json`) and the check
of a finished run against them (`python -m liverseg.runner.record_expected PAPER` re-records them).

The smoke profile runs on a fixed phantom with training seed 0; CPU op determinism makes that run
repeatable. Each score's tolerance is three standard deviations over training seeds 0..N-1, at
least `MIN_TOLERANCE`: a change that moves a score by more than a seed change does is a regression.
A score whose band reaches 0 guards nothing: recording keeps such a score out of `scores` (it is
listed under `unguarded`, for information) and every key in `scores` is checked.
"""
from __future__ import annotations

from pathlib import Path

from liverseg.io.atomic import read_json



def load(spec) -> dict:
    return read_json(spec.expected_path) if Path(spec.expected_path).is_file() else {}


def compare(expected: dict, scores: dict) -> list[str]:
    """Failures: guarded keys whose score fell below stored - tolerance (empty list = within bounds)."""
    failures = []
    for key in expected.get("scores", {}):
        floor = expected["scores"][key] - expected["tolerance"][key]
        if float(scores[key]) < floor:
            failures.append(f"{key} {float(scores[key]):.4f} < stored {expected['scores'][key]:.4f} "
                            f"- tolerance {expected['tolerance'][key]:.4f}")
    return failures


def run_scores(spec, summary: dict) -> dict:
    """The scores a run is checked on: its default variant's volume summary, plus the paper's own
    `summary["extra"]["scores"]` (e.g. metrics on 2D test slices), flat."""
    return {**summary[spec.default_variant], **summary.get("extra", {}).get("scores", {})}


def check_expected(spec, cfg, scores: dict) -> dict | None:
    """Compare a finished run with the stored scores when it is the run they were recorded from."""
    expected = load(spec)
    same = (expected and cfg.profile == expected.get("profile") and cfg.dataset == "phantom"
            and cfg.seed == expected.get("seed"))
    if not same:
        return None
    failures = compare(expected, scores)
    print("expected scores: " + ("within tolerance" if not failures else "DRIFT: " + "; ".join(failures)), flush=True)
    return {"ok": not failures, "failures": failures}
