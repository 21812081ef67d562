"""Gruber end to end on the smoke profile: the run directory, Table 1 rows, figures, thresholds,
the joint-loss row, the regression check (liver and tumour), resume and `liverseg predict`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverseg.io.atomic import read_json

from liverseg.runner.run import reproduce
from experiments.gruber.paper import PAPER
from tests.experiments.regression import assert_guarded
from tests.experiments.notebooks import check_inspection_notebook
from tests.experiments.standalone import assert_checkpoints_stand_alone, assert_onnx_matches_keras

REPO = Path(__file__).resolve().parents[2]
# the smoke profile sweeps alpha 0.02 and both readings of balanced (every code path); the paper's four
# alphas are in the paper profile
STAGES = ("onestep", "onestep_balanced", "liver", "tumour", "tumour_alpha0.02", "tumour_alphabal",
          "tumour_alphabal_printed", "joint")
pytestmark = pytest.mark.slow


def _rows(run: Path) -> list[str]:
    return [line for line in (run / "report.md").read_text().splitlines() if line.startswith("|")]


def test_smoke_run_writes_a_complete_run_directory(gruber_smoke_run):
    run = gruber_smoke_run
    for name in ("config.json", "versions.json", "split.json", "thresholds.json", "report.md", "metrics.json",
                 "done.json", "training_curves.png", "restricted_roc.png", "tumour_probability_histogram.png",
                 "slice_overlay_best.png", "evaluation/slices/summary.json", "evaluation/slices/per_image.csv"):
        assert (run / name).is_file(), name
    for stage in STAGES:
        assert (run / stage / "best.keras").is_file(), stage
    split = read_json(run / "split.json")
    assert split["mode"] == "patients" and not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    for variant in PAPER.variants:
        assert read_json(run / "predictions" / variant / "done.json")["cases"] == split["test"]
    thresholds = read_json(run / "thresholds.json")
    assert all(0.0 < thresholds[s] < 1.0 for s in STAGES[3:])


def test_report_puts_every_table_1_row_beside_ours(gruber_smoke_run):
    rows = _rows(gruber_smoke_run)
    for paper_value in ("0.8075", "0.8706", "0.9316", "0.7711", "0.7261", "0.7388", "0.9106", "0.9995"):
        assert any(paper_value in r for r in rows), paper_value
    for ours in ("one-step, liver", "one-step, tumour", "sequential, liver", "tumour alpha 0.02",
                 "tumour alpha bal |", "tumour alpha bal_printed", "joint loss (2.1), tumour"):
        assert any(r.startswith("| ours | liverseg smoke") and ours in r for r in rows), ours
    summary = read_json(gruber_smoke_run / "evaluation" / "slices" / "summary.json")
    for model in ("onestep_balanced", "tumour_alphabal", "tumour_alphabal_printed", "joint"):
        for cls in ("liver", "tumour"):
            values = summary["rows"][model][cls]
            assert 0.0 <= values["pixel_accuracy"] <= 1.0 and 0.0 <= values["iou"] <= 1.0
            assert -1.0 <= values["rand_index"] <= values["rand_index_classic"] <= 1.0
    assert "Innsbruck" in (gruber_smoke_run / "report.md").read_text()


def test_regression_check_guards_the_stored_scores(gruber_smoke_run):
    expected, _ = assert_guarded(PAPER, gruber_smoke_run)
    assert {"liver_dice_per_case", "slice_liver_iou"} <= set(expected["scores"])


def test_rerun_skips_finished_stages(gruber_smoke_run, capsys):
    assert reproduce(PAPER, ["--profile", "smoke", "--seed", "0", "--run-dir", str(gruber_smoke_run)]) == 0
    out = capsys.readouterr().out
    for stage in STAGES:
        assert f"skipping {stage}: already done" in out
    assert "skipping inference (sequential): already done" in out


def test_predict_on_a_gruber_run(gruber_smoke_run, tmp_path):
    split = read_json(gruber_smoke_run / "split.json")
    source = Path(read_json(gruber_smoke_run / "cache" / "cases" / split["test"][0] / "meta.json")["source_image"])
    out = tmp_path / "seg.nii.gz"
    cmd = [sys.executable, "-m", "liverseg.cli.main", "predict", "--run", str(gruber_smoke_run),
           "--input", str(source), "--output", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    labels = np.asarray(nib.load(out).dataobj)
    assert labels.shape == nib.load(source).shape and set(np.unique(labels)) <= {0, 1, 2}
    assert (labels >= 1).any()


def test_inspection_notebook_executes_against_the_run(gruber_smoke_run):
    check_inspection_notebook(gruber_smoke_run)


def test_checkpoints_load_with_only_keras_and_liverseg(gruber_smoke_run):
    assert_checkpoints_stand_alone(gruber_smoke_run)


@pytest.mark.realdata
def test_onnx_export_matches_keras_on_a_real_slice(gruber_smoke_run, shared_data, tmp_path):
    assert_onnx_matches_keras(gruber_smoke_run, shared_data, tmp_path / "onnx")


def test_smoke_run_keeps_the_contract_of_every_method(gruber_smoke_run):
    from tests.experiments.contract import assert_paper_contract

    assert_paper_contract(PAPER, gruber_smoke_run)
