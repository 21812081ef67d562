"""`liverseg evaluate` / `evaluate_folders` on small LiTS-named NIfTI files with known answers."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from liverseg.cli import evaluate as evaluate_command
from liverseg.errors import InputError
from liverseg.evaluation import evaluate_folders, find_cases

from tests.label_volumes import SPACING, block, write


@pytest.fixture()
def folders(tmp_path):
    """Case 3: liver 4x4x4 truth, prediction shifted by one voxel (Dice 2*48/128 = 0.75).
    Case 10: liver with a tumour, predicted exactly (Dice 1)."""
    shape = (10, 9, 8)
    truth, pred = tmp_path / "truth", tmp_path / "pred"
    write(truth / "segmentation-3.nii.gz", block(shape, (2, 2, 2), (6, 6, 6)))
    write(pred / "segmentation-3.nii.gz", block(shape, (3, 2, 2), (7, 6, 6)))
    case10 = block(shape, (3, 3, 3), (5, 5, 5), 2, base=block(shape, (1, 1, 1), (8, 8, 7)))
    write(truth / "test-segmentation-10.nii", case10)
    write(pred / "prediction-10.nii.gz", case10)
    (truth / "notes.txt").write_text("not a case")
    return pred, truth, tmp_path / "out"


def test_find_cases_accepts_lits_names_only(folders):
    pred, truth, _ = folders
    assert {n: p.name for n, p in find_cases(truth).items()} == {3: "segmentation-3.nii.gz", 10: "test-segmentation-10.nii"}
    assert sorted(find_cases(pred)) == [3, 10]


def test_evaluate_folders_known_answers(folders, capsys):
    pred, truth, out = folders
    summary = evaluate_folders(pred, truth, out)
    frame = pd.read_csv(out / "per_case.csv")
    assert frame["case"].tolist() == [3, 10]
    assert frame["liver_dice"].tolist() == pytest.approx([0.75, 1.0])
    assert frame["tumour_dice"].tolist() == pytest.approx([1.0, 1.0])  # case 3: no tumour anywhere
    assert frame["liver_msd"].tolist() == pytest.approx([0.8, 0.0])  # one voxel along x = 0.8 mm
    assert frame["lesion_tp_50"].tolist() == [0, 1]
    stored = json.loads((out / "summary.json").read_text())
    assert stored["num_cases"] == 2 and stored["cases"] == [3, 10]
    assert stored["liver_dice_per_case"] == pytest.approx((0.75 + 1.0) / 2)
    assert stored["liver_dice_global"] == pytest.approx(2 * (48 + 294) / (128 + 2 * 294))
    assert stored["assd_definition"] == "lits"
    assert summary["liver_dice_global"] == stored["liver_dice_global"]
    printed = capsys.readouterr().out
    assert "liver_dice_per_case" in printed and "0.7500" in printed
    assert sorted(p.name for p in out.iterdir()) == ["per_case.csv", "summary.json"]


def test_command_line_runs_through_configure_and_run(folders, capsys):
    pred, truth, out = folders
    parser = argparse.ArgumentParser()
    evaluate_command.configure(parser)
    args = parser.parse_args(["--pred", str(pred), "--truth", str(truth), "--out", str(out), "--assd", "medpy"])
    assert evaluate_command.run(args) == 0
    assert json.loads((out / "summary.json").read_text())["assd_definition"] == "medpy"
    with pytest.raises(SystemExit):
        parser.parse_args(["--pred", "a", "--truth", "b", "--out", "c", "--assd", "mean"])


def test_missing_predictions_are_listed_and_nothing_is_written(folders):
    pred, truth, out = folders
    write(truth / "segmentation-7.nii.gz", np.zeros((10, 9, 8), np.uint8))
    write(truth / "segmentation-12.nii.gz", np.zeros((10, 9, 8), np.uint8))
    with pytest.raises(InputError, match=r"no prediction for truth case\(s\) 7, 12") as err:
        evaluate_folders(pred, truth, out, quiet=True)
    assert err.value.path == str(pred)
    assert not out.exists()


def test_shape_mismatch_names_the_prediction_and_leaves_nothing(folders):
    pred, truth, out = folders
    bad = write(pred / "segmentation-3.nii.gz", np.zeros((10, 9, 7), np.uint8))
    out.mkdir()
    with pytest.raises(InputError, match=r"shape \(10, 9, 7\) differs from the truth shape \(10, 9, 8\)") as err:
        evaluate_folders(pred, truth, out, quiet=True)
    assert err.value.path == str(bad)
    assert list(out.iterdir()) == []


def test_spacing_mismatch_is_refused(folders):
    pred, truth, out = folders
    bad = write(pred / "segmentation-3.nii.gz", np.zeros((10, 9, 8), np.uint8), spacing=(0.8, 0.8, 2.5))
    with pytest.raises(InputError, match="voxel spacing") as err:
        evaluate_folders(pred, truth, out, quiet=True)
    assert err.value.path == str(bad) and not out.exists()


def test_bad_label_values_and_duplicates_and_empty_truth(folders, tmp_path):
    pred, truth, out = folders
    write(pred / "prediction-10.nii.gz", np.full((10, 9, 8), 5, np.uint8))
    with pytest.raises(InputError, match="outside"):
        evaluate_folders(pred, truth, out, quiet=True)
    write(pred / "segmentation-10.nii.gz", np.zeros((10, 9, 8), np.uint8))
    with pytest.raises(InputError, match="case 10 is stored twice"):
        evaluate_folders(pred, truth, out, quiet=True)
    with pytest.raises(InputError, match="no truth label files"):
        evaluate_folders(pred, _empty(tmp_path), out, quiet=True)
    with pytest.raises(InputError, match="not a directory"):
        evaluate_folders(pred, tmp_path / "absent", out, quiet=True)
    assert not out.exists()


def _empty(tmp_path):
    folder = tmp_path / "empty_truth"
    folder.mkdir()
    return folder


def test_console_script_reports_one_line_and_exit_2(folders, capsys, monkeypatch):
    from liverseg.cli import main as cli

    # only the evaluate sub-command is needed here; the others import heavier modules
    monkeypatch.setattr(cli, "COMMANDS", {"evaluate": cli.COMMANDS["evaluate"]})
    pred, truth, out = folders
    (pred / "segmentation-3.nii.gz").unlink()
    code = cli.main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0 and "no prediction for truth case(s) 3" in err
    assert not out.exists()
