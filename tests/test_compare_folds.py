"""`liverseg compare --folds K`: the fold splitter's out-of-fold property and stratification, the one-line
refusal of too few patients, the default phantom compare's size, and the fold pipeline end to end with the
training replaced by fixed predictions (no network is trained here; marked `process`, like the other whole
comparisons, for the phantom and caches it builds: make test-process)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from liverseg.data.splits import patient_folds, split_patients
from liverseg.errors import OptionError

REPO = Path(__file__).resolve().parents[1]


def ids(n):
    return [f"p{i:03d}" for i in range(n)]


@pytest.mark.parametrize("n, k", [(20, 5), (131, 5), (24, 5), (8, 2), (7, 3), (10, 10)])
def test_every_patient_is_tested_in_exactly_one_fold_and_never_trained_on_there(n, k):
    folds = patient_folds(ids(n), k, seed=0, val_fraction=0.15)
    assert len(folds) == k
    tested = [p for f in folds for p in f["test"]]
    assert sorted(tested) == ids(n)  # each patient once
    for f in folds:
        assert f["train"] and f["test"]
        assert not set(f["test"]) & (set(f["train"]) | set(f["val"])) and not set(f["train"]) & set(f["val"])
        assert sorted(f["train"] + f["val"] + f["test"]) == ids(n)
    sizes = [len(f["test"]) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_folds_are_stratified_by_tumour_presence():
    has_tumour = {p: i % 4 != 0 for i, p in enumerate(ids(20))}  # 15 with tumour, 5 without
    folds = patient_folds(ids(20), 5, seed=3, stratify=has_tumour)
    assert [sum(not has_tumour[p] for p in f["test"]) for f in folds] == [1] * 5
    assert [sum(has_tumour[p] for p in f["test"]) for f in folds] == [3] * 5
    for f in folds:  # validation keeps the ratio too (split_patients on the rest, stratified)
        assert len(f["val"]) == 2
    uneven = {p: i < 7 for i, p in enumerate(ids(24))}  # 7 / 17: no fold gets two more of a stratum than another
    for stratum in (True, False):
        counts = [sum(uneven[p] == stratum for p in f["test"]) for f in patient_folds(ids(24), 5, 0, stratify=uneven)]
        assert max(counts) - min(counts) <= 1


def test_folds_are_seeded_and_ignore_the_input_order():
    a = patient_folds(ids(20), 4, seed=1)
    assert a == patient_folds(list(reversed(ids(20))) + ids(2), 4, seed=1)
    assert [f["test"] for f in a] != [f["test"] for f in patient_folds(ids(20), 4, seed=2)]


def test_too_few_patients_for_the_folds_is_one_error():
    with pytest.raises(OptionError, match="only 4 patient"):
        patient_folds(ids(4), 5, seed=0)
    with pytest.raises(OptionError, match="at least 2 folds"):
        patient_folds(ids(4), 1, seed=0)
    with pytest.raises(OptionError, match="needed to train and validate"):
        patient_folds(ids(2), 2, seed=0)


def test_cli_refuses_more_folds_than_patients_in_one_line_before_writing(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", LIVERSEG_CACHE_DIR=str(tmp_path / "c"))
    result = subprocess.run([sys.executable, "-m", "liverseg.cli.main", "compare", "--profile", "smoke",
                             "--papers", "li_dalunet", "--folds", "9", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--folds 9" in result.stderr and "8 patient" in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "c").exists()


def test_the_default_phantom_compare_tests_at_least_ten_cases():
    from liverseg.compare.runs import CompareOptions, paper_configs, resolve_options

    options = resolve_options(CompareOptions(out=Path("x"), papers=("gong", "li_dalunet")))
    configs = paper_configs(options)
    cases = {cfg.phantom.cases for _, cfg in configs.values()}
    assert len(cases) == 1
    n = cases.pop()
    split = split_patients(ids(n), options.val_fraction, options.test_fraction, seed=0)
    assert len(split["test"]) >= 10 and len(split["train"]) >= 10 and len(split["val"]) >= 2
    real = resolve_options(CompareOptions(out=Path("x"), papers=("gong",), data_dir=Path("/data")))
    assert (real.val_fraction, real.test_fraction, real.phantom_cases) == (0.15, 0.25, None)
    smoke = resolve_options(CompareOptions(out=Path("x"), papers=("gong",), profile="smoke"))
    assert smoke.phantom_cases is None  # the smoke profile keeps its papers' phantom


# ---- the fold pipeline with fixed predictions instead of training -------------------------------

PAPERS = ("li_dalunet", "liu_crunet")


def _fixed_predictions(spec, cfg, split, run_dir, variant, shared_cache=None):
    """What `_train_and_predict` leaves in a run, without a network: the truth as the prediction, with
    `case index % 3` liver slices cut for Li (so that the two papers differ case by case) and the
    tumour as liver for Liu (liver only)."""
    from liverseg.config import to_dict
    from liverseg.io.atomic import atomic_write_json
    from liverseg.io.volumes import write_label_volume
    from liverseg.runner import data as run_data
    from liverseg.io.run_layout import RunDir
    from liverseg.runner.predictions import evaluate_variant, prediction_path
    from liverseg.runner.run_dir import write_config

    run_data.prepare_cache(spec.name, cfg, shared_cache)
    run_data.link_cache(RunDir(run_dir).cache, RunDir(shared_cache).cache)
    write_config(run_dir, to_dict(cfg), spec.name, cfg.profile)
    cache = run_data.prepare_cache(spec.name, cfg, run_dir)
    atomic_write_json(run_dir / "split.json", split)
    out = run_dir / "predictions" / variant
    out.mkdir(parents=True, exist_ok=True)
    for case_id in split["test"]:
        case = run_data.read_source_case(cache, case_id)
        labels = np.asarray(case.label.array).copy()
        if spec.name == "liu_crunet":
            labels[labels == 2] = 1
        else:
            z = np.flatnonzero((labels > 0).any(axis=(0, 1)))
            labels[..., z[:int(case_id.split("-")[-1]) % 3 * 2]] = 0
        write_label_volume(case.image.to_original(labels), case.image.original_affine,
                           prediction_path(run_dir, variant, case_id))
    atomic_write_json(out / "records.json", {c: {"seconds": 0.5} for c in split["test"]})
    atomic_write_json(out / "done.json", {"variant": variant, "cases": list(split["test"])})
    evaluate_variant(cache, split, run_dir, variant)


@pytest.fixture(scope="module")
def fold_comparison(tmp_path_factory):
    import liverseg.compare.runs as compare_module
    import liverseg.compare.report as report_module
    from liverseg.compare.runs import CompareOptions

    root = tmp_path_factory.mktemp("folds")
    patch = pytest.MonkeyPatch()
    patch.setenv("LIVERSEG_CACHE_DIR", str(root / "cache"))
    patch.setenv("LIVERSEG_RUNS_DIR", str(root / "no-paper-runs"))
    patch.setattr(compare_module, "_train_and_predict", _fixed_predictions)
    patch.setattr(report_module, "_parameters", lambda run: 1000)
    options = CompareOptions(out=root / "compare", papers=PAPERS, profile="smoke", folds=2)
    runs = compare_module.compare(options)
    yield options, runs, patch
    patch.undo()


@pytest.mark.process
def test_every_case_is_scored_once_per_method_by_the_fold_that_held_it_out(fold_comparison):
    from liverseg.io.atomic import read_json

    options, runs, _ = fold_comparison
    folds = read_json(options.out / "folds.json")
    assert folds["folds"] == 2 and len(folds["splits"]) == 2
    per_case = pd.read_csv(options.out / "per_case.csv", dtype={"case": str})
    assert list(per_case.columns[:3]) == ["paper", "fold", "case"]
    assert len(per_case) == 2 * 8 and not per_case.duplicated(["paper", "case"]).any()
    for paper, rows in per_case.groupby("paper"):
        assert sorted(rows.case) == sorted(f"phantom-{i}" for i in range(8)), paper
    for row in per_case.itertuples():
        split = folds["splits"][row.fold]
        assert row.case in split["test"] and row.case not in split["train"] + split["val"]
    assert len(runs) == 4
    for run in runs:  # one run per paper per fold, on that fold's split, the cache built once per paper
        own = read_json(run.run_dir / "split.json")
        fold = own["fold"]
        assert run.run_dir == options.out / f"fold-{fold}" / "runs" / run.spec.name
        assert sorted(own["test"]) == sorted(folds["splits"][fold]["test"])
        assert (run.run_dir / "cache").resolve() == (options.out / "caches" / run.spec.name / "cache").resolve()


@pytest.mark.process
def test_statistics_recomputed_from_per_case_csv_with_scipy(fold_comparison):
    from liverseg.io.atomic import read_json

    options, _, _ = fold_comparison
    metrics = read_json(options.out / "metrics.json")
    per_case = pd.read_csv(options.out / "per_case.csv", dtype={"case": str})
    wide = per_case.pivot(index="case", columns="paper", values="liver_dice")
    li, liu = wide["li_dalunet"].to_numpy(), wide["liu_crunet"].to_numpy()
    entry = metrics["statistics"]["metrics"]["liver_dice"]
    seed = metrics["seed"]
    ref = stats.bootstrap((li,), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(seed))
    got = entry["per_method"]["li_dalunet"]
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high), abs=2e-6)
    (pair,) = entry["pairs"]
    assert pair["p"] == pytest.approx(stats.wilcoxon(li, liu).pvalue, abs=2e-6)
    assert pair["mean_difference"] == pytest.approx(np.mean(li - liu), abs=2e-6)
    assert metrics["statistics"]["metrics"]["tumour_dice"]["absent"] == ["liu_crunet"]
    assert metrics["folds"] == 2 and sorted(metrics["split"]["test"]) == sorted(wide.index)


@pytest.mark.process
def test_report_reads_the_statistics_in_words_and_draws_them(fold_comparison):
    options, _, _ = fold_comparison
    report = (options.out / "report.md").read_text()
    assert "2 patient folds" in report and "## What the data support" in report
    assert "paired cases to be resolved" in report
    assert "an empty prediction against an empty truth scores 1" in report
    for png in ("rank_stability.png", "significance.png", "per_case_dice.png", "same_slice.png"):
        data = (options.out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, png


@pytest.mark.process
def test_a_second_call_reuses_every_fold_run_and_other_folds_are_refused(fold_comparison):
    import liverseg.compare.runs as compare_module
    from dataclasses import replace

    options, _, _ = fold_comparison
    again = compare_module.compare(options)
    assert [r.reused for r in again] == ["compare run"] * 4
    with pytest.raises(OptionError, match="folds.json: made with"):
        compare_module.compare(replace(options, folds=4))
