"""`reproduce`, `reproduce --folds K` and `compare` run one pipeline (`liverseg.runner.run.pipeline`), shown
end to end in seconds with a method that trains nothing: its predictor thresholds the CT (liver where
HU > 20, tumour where HU > 120) on a small phantom."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from liverseg.config import PhantomConfig, PreprocessConfig, RunConfig
from liverseg.errors import OptionError
from liverseg.infer.prediction import Prediction
from liverseg.io.atomic import read_json
from liverseg.io.run_layout import CompareDir, FoldsDir, RunDir
from liverseg.registry import register
from liverseg.runner.paper import Paper


@dataclass(frozen=True)
class ThresholdConfig(RunConfig):
    phantom: PhantomConfig = field(default_factory=lambda: PhantomConfig(cases=6, size=48, seed=0))
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(size=32))
    liver_hu: float = 20.0
    val_patients: float = 0.2
    test_patients: float = 0.34


class ThresholdPredictor:
    def __init__(self, cfg):
        self.cfg = cfg

    def __call__(self, volume) -> Prediction:
        hu = np.asarray(volume.array)
        labels = np.where(hu > self.cfg.liver_hu, 1, 0).astype(np.uint8)
        labels[hu > self.cfg.liver_hu + 100] = 2
        return Prediction(labels)


class Threshold(Paper):
    name, title, config_class, variants = "threshold_a", "a threshold", ThresholdConfig, ("main", "low")

    def get_config(self, profile):
        return ThresholdConfig(profile=profile)

    def stages(self, ctx):
        return []

    def predictor(self, ctx, variant):
        self.check_variant(variant)
        return ThresholdPredictor(ctx.cfg)


class OtherThreshold(Threshold):
    name = "threshold_b"

    def get_config(self, profile):
        return ThresholdConfig(profile=profile, liver_hu=60.0)


A, B = Threshold(), OtherThreshold()


@pytest.fixture()
def roots(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVERSEG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LIVERSEG_CACHE_DIR", str(tmp_path / "cache"))
    register(A)
    register(B)
    return tmp_path


def _args(**more):
    base = dict(profile="smoke", data_dir=None, dataset=None, run_dir=None, seed=0, split=None, set=[],
                protocol="liverseg", dry_run=False, folds=None)
    return argparse.Namespace(**{**base, **more})


def _spy(monkeypatch):
    """Count the calls of the runner's pipeline, wherever they come from."""
    import liverseg.runner.run as run_module

    calls, real = [], run_module.pipeline

    def pipeline(spec, cfg, run_dir, **kw):
        calls.append((spec.name, kw.get("variants"), kw.get("report", True)))
        return real(spec, cfg, run_dir, **kw)

    monkeypatch.setattr(run_module, "pipeline", pipeline)
    return calls


def test_reproduce_runs_the_pipeline_to_a_finished_run_directory(roots):
    from liverseg.runner.run import run

    run_dir = roots / "one"
    assert run(A, _args(run_dir=run_dir)) == 0
    layout = RunDir(run_dir)
    for path in (layout.config, layout.versions, layout.split, layout.log, layout.report, layout.metrics,
                 layout.per_case("main"), layout.per_case("low"), layout.records("main"), layout.done):
        assert path.is_file(), path
    split = read_json(layout.split)
    scored = pd.read_csv(layout.per_case("main"), dtype={"case": str})
    assert sorted(scored.case) == sorted(split["test"]) and scored.liver_dice.between(0, 1).all()


def test_compare_runs_the_same_pipeline_and_scores_what_reproduce_scores_on_that_split(roots, monkeypatch):
    from liverseg.compare.runs import CompareOptions, compare
    from liverseg.runner.run import run

    calls = _spy(monkeypatch)
    out = CompareDir(roots / "compare")
    runs = compare(CompareOptions(out=out.path, papers=("threshold_a", "threshold_b"), profile="smoke",
                                  reuse_paper_runs=False))
    assert calls == [("threshold_a", ["main"], False), ("threshold_b", ["main"], False)]
    assert [r.run_dir for r in runs] == [out.run("threshold_a"), out.run("threshold_b")]
    # the same paper on the same split through `reproduce` gives the same per-case scores
    assert run(A, _args(run_dir=roots / "alone", split=out.split)) == 0
    assert calls[-1] == ("threshold_a", None, True)
    columns = ["case", "liver_dice", "tumour_dice"]
    together = pd.read_csv(RunDir(out.run("threshold_a")).per_case("main"), dtype={"case": str})[columns]
    alone = pd.read_csv(RunDir(roots / "alone").per_case("main"), dtype={"case": str})[columns]
    pd.testing.assert_frame_equal(together.sort_values("case", ignore_index=True),
                                  alone.sort_values("case", ignore_index=True))
    assert out.report.is_file() and out.per_case.is_file()


def test_reproduce_folds_tests_every_case_once_and_tabulates_the_folds(roots, monkeypatch):
    from liverseg.runner.run import run

    calls = _spy(monkeypatch)
    folds = FoldsDir(roots / "cv")
    assert run(A, _args(run_dir=folds.path, folds=3)) == 0
    assert len(calls) == 3
    tested = []
    for k in range(3):
        split = read_json(RunDir(folds.fold(k)).split)
        assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
        assert RunDir(folds.fold(k)).is_done()
        tested += split["test"]
    assert sorted(tested) == sorted(f"phantom-{i}" for i in range(6))
    table = pd.read_csv(folds.table)
    assert sorted(zip(table.variant, table.fold)) == sorted((v, k) for v in A.variants for k in range(3))
    summary = pd.read_csv(folds.summary, index_col=0)
    assert summary.loc["main", "liver_dice_per_case_mean"] == pytest.approx(
        table[table.variant == "main"].liver_dice_per_case.mean())
    # a second call finds every fold finished and trains, predicts and scores nothing
    assert run(A, _args(run_dir=folds.path, folds=3)) == 0
    assert len(calls) == 3


def test_more_folds_than_cases_or_one_fold_is_one_clear_error(roots):
    from liverseg.runner.run import run

    with pytest.raises(OptionError, match="only 6 patient"):
        run(A, _args(run_dir=roots / "cv", folds=7))
    with pytest.raises(OptionError, match="need at least 2 folds"):
        run(A, _args(run_dir=roots / "cv", folds=1))
    assert not (roots / "cv").exists()
