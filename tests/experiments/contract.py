"""The contract every method's finished smoke run keeps, whatever the method (one check for all six):
the run directory is complete, every stage's checkpoint reloads with Keras and the library alone, the
default predictor loads through the `Paper` hooks, and the regression check fails when a stored score
is raised."""
from __future__ import annotations

from pathlib import Path

from liverseg.config import from_dict
from liverseg.io.atomic import read_json
from liverseg.io.checkpoints import load_model
from liverseg.runner.run import stages_for

from tests.experiments.regression import assert_guarded

RUN_FILES = ("config.json", "versions.json", "split.json", "report.md", "metrics.json", "done.json", "run.log",
             "timings.json", "training_curves.png", "per_case_dice.png")


def assert_paper_contract(spec, run_dir: Path) -> None:
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    record = read_json(run_dir / "config.json")
    assert record["paper"] == spec.name and record["profile"] == "smoke"
    cfg = from_dict(spec.config_class, record["config"])
    split = read_json(run_dir / "split.json")
    assert split["test"] and not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    for variant in spec.variants:
        assert read_json(run_dir / "predictions" / variant / "done.json")["cases"] == split["test"], variant
        assert (run_dir / "evaluation" / variant / "per_case.csv").is_file(), variant
    for stage in stages_for(spec, cfg, spec.variants):
        assert (run_dir / stage.name / "done.json").is_file(), stage.name
        assert load_model(run_dir / stage.name / "best.keras").count_params() > 0, stage.name
    assert callable(spec.predictor(spec.context(cfg, run_dir), spec.default_variant))
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["paper"] == spec.name and metrics["default_variant"] == spec.default_variant
    assert spec.title in (run_dir / "report.md").read_text()
    assert_guarded(spec, run_dir)
