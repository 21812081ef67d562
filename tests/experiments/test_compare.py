"""`liverseg compare`: the five papers' default variants on one common split of the smoke phantom (the
whole comparison, about 5 min on 2 cores, runs in make test-process), and its parts without training."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pandas as pd
import pytest

from liverseg.errors import OptionError
from liverseg.io.atomic import read_json
from liverseg.registry import paper, papers
from liverseg.compare.runs import CompareOptions, _finished_paper_run, compare, split_digest
from liverseg.compare.report import count_parameters
from liverseg.runner.paper import Paper
from liverseg.runner.run import stages_for

from tests.experiments.notebooks import execute_notebook, figures_drawn, text_of

REPO = Path(__file__).resolve().parents[2]
FIVE = ("bi_cascaded_resnet", "gong", "gruber", "li_dalunet", "liu_crunet")


# ---- parts, no training -------------------------------------------------------------------------

@pytest.mark.parametrize("name, stages", [
    ("gong", ["coarse", "fine"]),
    ("gruber", ["liver", "tumour", "tumour_alphabal"]),
    ("li_dalunet", ["dalunet"]),
    ("liu_crunet", ["runet", "crunet_d"]),
    ("bi_cascaded_resnet", ["resnet", "cascade"]),
])
def test_the_default_variant_needs_its_stages_and_those_it_starts_from(name, stages):
    spec = paper(name)
    cfg = spec.get_config("smoke")
    assert [s.name for s in stages_for(spec, cfg, [spec.default_variant])] == stages
    every = [s.name for s in spec.stages(spec.context(cfg))]
    assert set(stages) <= {s.name for s in stages_for(spec, cfg, spec.variants)} <= set(every)
    every_stage = type("EveryStage", (type(spec),), {"variant_stages": Paper.variant_stages})()
    assert [s.name for s in stages_for(every_stage, cfg, ["not a stage"])] == every


def test_every_paper_is_compared_and_states_its_claim():
    assert set(FIVE) <= set(papers())
    for name in FIVE:
        spec = paper(name)
        assert spec.claimed.get("data") and len(spec.claimed) >= 2, name
        cfg = spec.get_config("smoke")  # `liverseg compare` trains only what the default variant loads
        assert len(stages_for(spec, cfg, [spec.default_variant])) < len(spec.stages(spec.context(cfg))), name


def test_parameters_of_a_frozen_level_inside_a_cascade_count_once():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="level1")  # 15 weights
    x = keras.Input((4,))
    outer = keras.Model(x, keras.layers.Dense(2)(inner(x)))  # + 8

    class Predictor:
        def __init__(self):
            self.level1, self.cascade, self.both = inner, outer, [inner, outer]

    assert count_parameters(Predictor()) == 15 + 8
    assert count_parameters(type("P", (), {})()) == 0


def _paper_run(root: Path, name: str, variant: str, cfg_dict: dict, own: dict) -> Path:
    run = root / name / "cpu-1"
    (run / "evaluation" / variant).mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"paper": name, "config": cfg_dict}))
    (run / "split.json").write_text(json.dumps({"mode": "patients", **own}))
    (run / "evaluation" / variant / "per_case.csv").write_text("case,liver_dice\n")
    (run / "done.json").write_text("{}")
    return run


def test_a_finished_paper_run_is_reused_only_when_it_never_saw_the_common_test_cases(tmp_path, monkeypatch):
    from liverseg.config import to_dict

    spec = paper("li_dalunet")
    cfg = spec.get_config("smoke")
    monkeypatch.setenv("LIVERSEG_RUNS_DIR", str(tmp_path))
    common = {"train": ["a", "b"], "val": ["c"], "test": ["d", "e"]}
    run = _paper_run(tmp_path, spec.name, "dalunet", to_dict(cfg), {"train": ["a", "b"], "val": ["c"], "test": ["d", "e", "f"]})
    assert _finished_paper_run(spec, cfg, common, "dalunet") == run
    (run / "split.json").write_text(json.dumps({"mode": "patients", "train": ["d"], "val": ["c"], "test": ["e"]}))
    assert _finished_paper_run(spec, cfg, common, "dalunet") is None  # trained on a common test case
    (run / "split.json").write_text(json.dumps({"mode": "patients", "train": ["a"], "val": ["c"], "test": ["d", "e"]}))
    other = {**to_dict(cfg), "seed": 7}
    (run / "config.json").write_text(json.dumps({"paper": spec.name, "config": other}))
    assert _finished_paper_run(spec, cfg, common, "dalunet") is None  # another configuration


def test_split_digest_ignores_order_and_sees_a_moved_patient():
    a = {"train": ["x", "y"], "val": ["z"], "test": ["w"]}
    assert split_digest(a) == split_digest({"train": ["y", "x"], "val": ["z"], "test": ["w"]})
    assert split_digest(a) != split_digest({"train": ["x"], "val": ["z"], "test": ["w", "y"]})


def test_the_common_split_does_not_depend_on_which_paper_prepares_it(tmp_path, gong_cache_dir):
    """Bi's 48 px smoke cache loses phantom-0's small tumour; the split's strata come from the source labels."""
    from liverseg.compare.runs import common_split, paper_configs
    from liverseg.runner.data import case_table, prepare_cache

    splits = {}
    for name in ("bi_cascaded_resnet", "li_dalunet"):
        spec, cfg = paper_configs(CompareOptions(out=tmp_path, papers=(name,), profile="smoke"))[name]
        cache = prepare_cache(name, cfg, tmp_path / name)
        if name == "bi_cascaded_resnet":
            table = case_table(cache)
            assert not table.tumour_mm3[table.case_id == "phantom-0"].item()  # gone at 48 px
        splits[name] = common_split(cache, CompareOptions(out=tmp_path / f"out-{name}", papers=(name,)))
    assert split_digest(splits["bi_cascaded_resnet"]) == split_digest(splits["li_dalunet"])


def test_cli_refuses_an_unknown_paper_in_one_line(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-m", "liverseg.cli.main", "compare", "--papers", "gong,nope",
                             "--out", str(tmp_path / "c")], capture_output=True, text=True, env=env, cwd=REPO)
    assert result.returncode == 2
    assert "nope" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


# ---- the whole comparison on the smoke phantom (make test-process) ------------------------------

@pytest.fixture(scope="module")
def smoke_comparison(tmp_path_factory, gong_cache_dir):
    root = tmp_path_factory.mktemp("compare")
    os.environ["LIVERSEG_RUNS_DIR"] = str(root / "no-paper-runs")
    options = CompareOptions(out=root / "compare", papers=FIVE, profile="smoke")
    return options, compare(options)


@pytest.mark.process
def test_five_papers_scored_on_one_test_set(smoke_comparison):
    options, runs = smoke_comparison
    split = read_json(options.out / "split.json")
    metrics = read_json(options.out / "metrics.json")
    assert sorted(metrics["papers"]) == sorted(FIVE)
    assert metrics["split"]["test"] == split["test"] and len(split["test"]) >= 2
    for run in runs:  # every run trained on the common split, no test case in its training or validation
        own = read_json(run.run_dir / "split.json")
        assert {k: sorted(own[k]) for k in ("train", "val", "test")} == {k: sorted(split[k]) for k in ("train", "val", "test")}
        assert not set(own["test"]) & (set(own["train"]) | set(own["val"]))
    per_case = pd.read_csv(options.out / "per_case.csv", dtype={"case": str})
    assert per_case.groupby("paper").case.apply(sorted).map(tuple).nunique() == 1  # same cases for all
    assert sorted(per_case.case.unique()) == sorted(split["test"])
    for name, entry in metrics["papers"].items():
        scores = entry["scores"]
        assert 0.3 < scores["liver_dice_per_case"] <= 1.0, name  # every method finds the liver
        assert scores["seconds_per_volume"] > 0 and scores["parameters"] > 1000, name
        assert entry["variant"] == paper(name).default_variant
    # Liu segments no tumour: its tumour scores are absent, not zero
    assert metrics["papers"]["liu_crunet"]["scores"]["tumour_dice_per_case"] is None
    assert metrics["papers"]["gong"]["scores"]["tumour_dice_per_case"] is not None


@pytest.mark.process
def test_only_the_default_variants_stages_were_trained(smoke_comparison):
    _, runs = smoke_comparison
    trained = {run.spec.name: sorted(p.parent.name for p in run.run_dir.glob("*/best.keras")) for run in runs}
    assert trained["gong"] == ["coarse", "fine"]  # not the whole-slice ablation
    assert trained["liu_crunet"] == ["crunet_d", "runet"]
    assert "joint" not in trained["gruber"] and "onestep" not in trained["gruber"]


@pytest.mark.process
def test_report_tables_figures_and_the_papers_claims(smoke_comparison):
    options, _ = smoke_comparison
    report = (options.out / "report.md").read_text()
    liver = report.split("## Liver")[1].split("## Tumour")[0]
    assert sum(line.startswith("| ") and line.split("|")[1].strip() in FIVE for line in liver.splitlines()) == 5
    assert "their data and protocol" in report and "Jeong" in report and "0.9716" in report
    for png in ("per_case_dice.png", "same_slice.png"):
        data = (options.out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


@pytest.mark.process
def test_a_second_call_reuses_every_run_without_training(smoke_comparison):
    options, runs = smoke_comparison
    stamps = {p: p.stat().st_mtime_ns for run in runs for p in run.run_dir.glob("*/best.keras")}
    again = compare(options)
    assert [r.reused for r in again] == ["compare run"] * len(FIVE)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


@pytest.mark.process
def test_a_run_of_another_configuration_is_refused(smoke_comparison):
    options, _ = smoke_comparison
    changed = CompareOptions(out=options.out, papers=("li_dalunet",), profile="smoke", seed=3)
    with pytest.raises(OptionError, match="split.json: made with seed 0"):
        compare(changed)


@pytest.mark.process
def test_compare_notebook_executes_against_the_comparison(smoke_comparison):
    options, _ = smoke_comparison
    outputs = execute_notebook("compare.ipynb", LIVERSEG_COMPARE=str(options.out), TF_CPP_MIN_LOG_LEVEL="3")
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert figures_drawn(outputs) >= 2  # the two-method scatter and the same slice under every method
    text = text_of(outputs)
    assert all(name in text for name in FIVE)


@pytest.mark.process
def test_inspection_notebook_reads_a_compare_run(smoke_comparison):
    from tests.experiments.notebooks import check_inspection_notebook

    _, runs = smoke_comparison
    check_inspection_notebook(next(r.run_dir for r in runs if r.spec.name == "liu_crunet"))
