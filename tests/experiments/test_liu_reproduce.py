"""Liu end to end on the smoke profile: the run directory, the Table I rows we train beside the paper's
(the others marked "not reproduced"), the figures, the regression check, and `liverseg predict`."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverseg.io.atomic import read_json

from experiments.liu_crunet.config import TABLE_ORDER
from experiments.liu_crunet.paper import PAPER
from tests.experiments.regression import assert_guarded
from tests.experiments.notebooks import check_inspection_notebook
from tests.experiments.standalone import assert_checkpoints_stand_alone, assert_onnx_matches_keras

pytestmark = pytest.mark.slow


def test_smoke_run_writes_a_complete_run_directory(liu_smoke_run):
    run = liu_smoke_run
    for name in ("report.md", "metrics.json", "done.json", "per_case_boxes.png", "fig3_contours.png"):
        assert (run / name).is_file(), name
    split = read_json(run / "split.json")
    for stage in (*TABLE_ORDER, "runet_dice"):
        assert (run / stage / "best.keras").is_file(), stage
    metrics = read_json(run / "metrics.json")
    assert metrics["default_variant"] == "crunet_d"
    for variant in TABLE_ORDER:
        assert read_json(run / "predictions" / variant / "done.json")["cases"] == split["test"]
        assert metrics[variant]["liver_dice_per_case"] > 0.5  # every row learns the phantom's liver


def test_report_puts_table_i_beside_our_rows(liu_smoke_run):
    rows = [r for r in (liu_smoke_run / "report.md").read_text().splitlines() if r.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    for column in ("liver_dice", "liver_voe", "liver_rvd", "liver_rvd_abs", "liver_assd", "liver_msd"):
        assert column in header
    for value in ("0.9716", "0.9327", "0.9576"):
        assert any(r.startswith("| paper |") and value in r for r in rows), value
    for name in ("FCN [11]+CRF", "Liu Z et al.", "Han X"):
        assert any(name in r and "not reproduced" in r for r in rows), name
    ours = [r for r in rows if r.startswith("| ours | liverseg smoke")]
    # Table I's rows, and b and d again without the largest-component step (II-A)
    assert len(ours) == len(TABLE_ORDER) + 2 and any("CR-U-Net d (MDice loss)" in r for r in ours)
    assert sum("every connected component kept" in r for r in ours) == 2
    abs_rvd = header.index("liver_rvd_abs")
    cells = [c.strip() for c in ours[0].strip("|").split("|")]
    assert float(cells[abs_rvd]) >= abs(float(cells[header.index("liver_rvd")]))


def test_regression_check_guards_the_stored_scores(liu_smoke_run):
    expected, _ = assert_guarded(PAPER, liu_smoke_run)
    assert "liver_dice_per_case" in expected["scores"]


def test_predict_on_a_liu_run(liu_smoke_run, tmp_path):
    from liverseg.cli.main import main as liverseg

    split = read_json(liu_smoke_run / "split.json")
    source = Path(read_json(liu_smoke_run / "cache" / "cases" / split["test"][0] / "meta.json")["source_image"])
    out = tmp_path / "seg.nii.gz"
    assert liverseg(["predict", "--run", str(liu_smoke_run), "--input", str(source), "--output", str(out),
                     "--variant", "crunet_b"]) == 0
    labels = np.asarray(nib.load(out).dataobj)
    assert labels.shape == nib.load(source).shape and set(np.unique(labels)) == {0, 1}  # liver only


def test_inspection_notebook_executes_against_the_run(liu_smoke_run):
    check_inspection_notebook(liu_smoke_run)


def test_checkpoints_load_with_only_keras_and_liverseg(liu_smoke_run):
    assert_checkpoints_stand_alone(liu_smoke_run)


@pytest.mark.realdata
def test_onnx_export_matches_keras_on_a_real_slice(liu_smoke_run, shared_data, tmp_path):
    assert_onnx_matches_keras(liu_smoke_run, shared_data, tmp_path / "onnx")


def test_smoke_run_keeps_the_contract_of_every_method(liu_smoke_run):
    from tests.experiments.contract import assert_paper_contract

    assert_paper_contract(PAPER, liu_smoke_run)
