"""Bi end to end on the smoke profile: the run directory, Table 2's five rows beside ours (the CRF row
marked not run), Fig. 3, the regression check (liver and lesion), and `liverseg predict`."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverseg.io.atomic import read_json

from experiments.bi_cascaded_resnet.config import VARIANTS
from experiments.bi_cascaded_resnet.paper import PAPER
from tests.experiments.regression import assert_guarded, raised
from tests.experiments.notebooks import check_inspection_notebook
from tests.experiments.standalone import (assert_checkpoints_stand_alone, assert_onnx_matches_keras,
                                          assert_savedmodel_matches_keras)

pytestmark = pytest.mark.slow


def test_smoke_run_writes_a_complete_run_directory(bi_smoke_run):
    run = bi_smoke_run
    for name in ("report.md", "metrics.json", "done.json", "fig3_side_by_side.png"):
        assert (run / name).is_file(), name
    for stage in ("vgg_fcn", "resnet", "cascade"):
        assert (run / stage / "best.keras").is_file(), stage
    split = read_json(run / "split.json")
    metrics = read_json(run / "metrics.json")
    assert metrics["default_variant"] == "cascade_ms"
    for variant in VARIANTS:
        assert read_json(run / "predictions" / variant / "done.json")["cases"] == split["test"]
    for variant in ("resnet", "cascade", "cascade_ms"):
        assert metrics[variant]["liver_dice_per_case"] > 0.5, variant  # the ResNets learn the phantom's liver


def test_report_puts_table_2_beside_our_rows(bi_smoke_run):
    rows = [r for r in (bi_smoke_run / "report.md").read_text().splitlines() if r.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    for column in ("liver_dice", "tumour_dice", "liver_jaccard", "tumour_jaccard", "liver_dice_global",
                   "liver_jaccard_global", "liver_assd", "liver_msd"):
        assert column in header, column
    for value in ("0.9590", "0.5001", "0.9219", "0.3879", "0.2988"):
        assert any(r.startswith("| paper |") and value in r for r in rows), value
    ours = [r for r in rows if r.startswith("| ours | liverseg smoke")]
    assert len(ours) == 5 and sum("not run" in r for r in ours) == 1 and "3D-CRF" in ours[3]


def test_regression_check_fails_for_liver_and_for_lesion(bi_smoke_run):
    from liverseg.runner.expected import compare, run_scores

    expected, got = assert_guarded(PAPER, bi_smoke_run)
    lesion = [k for k in expected["scores"] if k.startswith("tumour")]
    assert lesion and "liver_dice_per_case" in expected["scores"]
    assert sorted(f.split()[0] for f in compare(raised(expected, got, lesion), got)) == sorted(lesion)
    assert run_scores(PAPER, read_json(bi_smoke_run / "metrics.json")) == got


def test_predict_on_a_bi_run_with_each_variant(bi_smoke_run, tmp_path):
    from liverseg.cli.main import main as liverseg

    split = read_json(bi_smoke_run / "split.json")
    source = Path(read_json(bi_smoke_run / "cache" / "cases" / split["test"][0] / "meta.json")["source_image"])
    for variant in (None, "vgg_fcn"):
        out = tmp_path / f"{variant}.nii.gz"
        args = ["predict", "--run", str(bi_smoke_run), "--input", str(source), "--output", str(out)]
        assert liverseg(args + (["--variant", variant] if variant else [])) == 0
        labels = np.asarray(nib.load(out).dataobj)
        assert labels.shape == nib.load(source).shape and set(np.unique(labels)) <= {0, 1, 2}
    from liverseg.runner.predictions import prediction_path

    default = np.asarray(nib.load(tmp_path / "None.nii.gz").dataobj)
    stored = np.asarray(nib.load(prediction_path(bi_smoke_run, "cascade_ms", split["test"][0])).dataobj)
    # the CLI runs the runner's predictor: the same voxel counts as the stored test prediction
    assert (default >= 1).sum() > 0 and [(default == k).sum() for k in (1, 2)] == [(stored == k).sum() for k in (1, 2)]


def test_inspection_notebook_executes_against_the_run(bi_smoke_run):
    check_inspection_notebook(bi_smoke_run)


def test_checkpoints_load_with_only_keras_and_liverseg(bi_smoke_run):
    assert_checkpoints_stand_alone(bi_smoke_run)


@pytest.mark.realdata
def test_onnx_export_matches_keras_on_a_real_slice(bi_smoke_run, shared_data, tmp_path):
    assert_onnx_matches_keras(bi_smoke_run, shared_data, tmp_path / "onnx")


@pytest.mark.realdata
def test_savedmodel_export_matches_keras_on_a_real_slice(bi_smoke_run, shared_data, tmp_path):
    assert_savedmodel_matches_keras(bi_smoke_run, shared_data, tmp_path / "savedmodel")


def test_smoke_run_keeps_the_contract_of_every_method(bi_smoke_run):
    from tests.experiments.contract import assert_paper_contract

    assert_paper_contract(PAPER, bi_smoke_run)
