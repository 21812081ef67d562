"""`liverseg evaluate --protocol lits` on small NIfTI files with hand-worked answers, its refusals,
and the runner's evaluation switching protocol from per_case.csv without scoring again."""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd
import pytest

from liverseg.cli import evaluate as evaluate_command
from liverseg.errors import InputError, OptionError
from liverseg.evaluation import evaluate_folders
from liverseg.evaluation.lits_scorer import SCORES_TXT

from tests.label_volumes import SPACING, block, write


@pytest.fixture()
def folders(tmp_path):
    """Case 3: liver 4^3 = 64 voxels, predicted 4 x 4 x 3 = 48 of them (no tumour anywhere).
    Case 5: lesions on a line (3 x 20 x 3, liver elsewhere), truth y 0..3 and 10..13, prediction
    y 11..16, stored with y running backwards (affine -0.8 on y).
    Case 10: liver 7 x 7 x 6 = 294 voxels with a 2^3 tumour; the prediction holds the tumour only (no label 1)."""
    truth, pred = tmp_path / "truth", tmp_path / "pred"
    shape = (10, 9, 8)
    write(truth / "segmentation-3.nii.gz", block(shape, (2, 2, 2), (6, 6, 6)))
    write(pred / "segmentation-3.nii.gz", block(shape, (2, 2, 2), (6, 6, 5)))
    line_truth = np.ones((3, 20, 3), np.uint8)
    line_pred = line_truth.copy()
    line_truth[1, 0:4, 1] = line_truth[1, 10:14, 1] = 2
    line_pred[1, 11:17, 1] = 2
    flipped_y = np.diag([SPACING[0], -SPACING[1], SPACING[2], 1.0])
    write(truth / "segmentation-5.nii", line_truth, affine=flipped_y)
    write(pred / "segmentation-5.nii", line_pred, affine=flipped_y)
    case10 = block(shape, (3, 3, 3), (5, 5, 5), 2, base=block(shape, (1, 1, 1), (8, 8, 7)))
    write(truth / "segmentation-10.nii.gz", case10)
    write(pred / "segmentation-10.nii.gz", np.where(case10 == 2, 2, 0))
    return pred, truth, tmp_path / "out"


def test_lits_protocol_known_answers(folders):
    pred, truth, out = folders
    summary = evaluate_folders(pred, truth, out, protocol="lits", quiet=True)
    stored = json.loads((out / "summary.json").read_text())
    assert stored["protocol"] == "lits" and stored["cases"] == [3, 5, 10] and stored["num_cases"] == 3
    assert summary["scores_txt"] == stored["scores_txt"]
    frame = pd.read_csv(out / "per_case.csv")
    # both conventions in every row
    assert frame["liver_rvd"].tolist()[0] == pytest.approx((48 - 64) / 64)
    assert frame["liver_rvd_lits"].tolist() == pytest.approx([(64 - 48) / 48, 0.0, 9001.0])
    assert frame["liver_predicted_lits"].tolist() == [True, True, False]
    assert frame["liver_dice"].tolist()[2] == pytest.approx(2 * 8 / (8 + 294))
    # case 5 is matched in the stored layout: the scorer's union makes its lesion detected (IoU 3/4 for 3/7)
    assert frame["lesion_tp_50_lits"].tolist() == [0, 1, 1]
    assert frame["lesion_tp_50"].tolist() == [0, 0, 1]
    assert frame["tumour_burden_error_lits"].tolist() == pytest.approx([0.0, (8 - 6) / 180, 8 / 294 - 9001])
    figures = stored["scores_txt"]
    assert list(figures) == list(SCORES_TXT)
    assert figures["liver_dice"] == pytest.approx((2 * 48 / 112 + 1.0 + 0.0) / 3)
    assert figures["liver_rvd"] == pytest.approx((1 / 3 + 0.0 + 9001) / 3)
    assert figures["liver_dice_global"] == pytest.approx(2 * (48 + 180) / ((48 + 64) + 2 * 180 + 294))
    assert figures["lesion_dice"] == pytest.approx((0.6 + 1.0) / 2)  # the two detected lesions
    assert figures["lesion_dice_per_case"] == pytest.approx((1.0 + 2 * 3 / 14 + 1.0) / 3)
    assert (figures["lesion_precision"], figures["lesion_recall"]) == (1.0, pytest.approx(2 / 3))
    assert figures["MAXERROR_Tumorburden"] == pytest.approx(2 / 180)
    assert figures["RMSE_Tumorburden"] == pytest.approx(math.sqrt(((2 / 180) ** 2 + (8 / 294 - 9001) ** 2) / 3))
    lines = (out / "scores.txt").read_text().splitlines()
    assert lines[0] == f"lesion_precision: {1.0:.3f}" and len(lines) == 24
    assert f"liver_rvd: {figures['liver_rvd']:.3f}" in lines


def test_default_protocol_names_itself_and_drops_a_stale_scores_txt(folders, capsys):
    pred, truth, out = folders
    evaluate_folders(pred, truth, out, protocol="lits", quiet=True)
    summary = evaluate_folders(pred, truth, out)
    assert summary["protocol"] == "liverseg" and "scores_txt" not in summary
    assert summary["tumour_burden_max"] == pytest.approx(1.0 - 8 / 294)  # the largest absolute error
    assert sorted(p.name for p in out.iterdir()) == ["per_case.csv", "summary.json"]
    assert "protocol liverseg" in capsys.readouterr().out


def test_lits_refuses_a_truth_without_liver(folders):
    pred, truth, out = folders
    write(truth / "segmentation-3.nii.gz", np.zeros((10, 9, 8)))
    with pytest.raises(InputError, match="has no liver") as err:
        evaluate_folders(pred, truth, out, protocol="lits", quiet=True)
    assert err.value.path.endswith("segmentation-3.nii.gz") and not out.exists()
    assert evaluate_folders(pred, truth, out, quiet=True)["num_cases"] == 3  # the project's protocol scores it


def test_lits_refuses_a_prediction_stored_in_another_orientation(folders):
    pred, truth, out = folders
    bad = write(pred / "segmentation-3.nii.gz", block((10, 9, 8), (4, 2, 2), (8, 6, 5)),
                affine=np.diag([-SPACING[0], SPACING[1], SPACING[2], 1.0]))
    with pytest.raises(InputError, match="another orientation") as err:
        evaluate_folders(pred, truth, out, protocol="lits", quiet=True)
    assert err.value.path == str(bad) and not out.exists()


def test_command_line_protocol_and_assd(folders, capsys, monkeypatch):
    from liverseg.cli import main as cli

    pred, truth, out = folders
    parser = argparse.ArgumentParser()
    evaluate_command.configure(parser)
    args = parser.parse_args(["--pred", str(pred), "--truth", str(truth), "--out", str(out), "--protocol", "lits"])
    assert evaluate_command.run(args) == 0
    assert (out / "scores.txt").is_file() and "protocol lits" in capsys.readouterr().out
    assert "9001" in parser.description and "ravd(reference, prediction)" in parser.description
    with pytest.raises(SystemExit):
        parser.parse_args(["--pred", "a", "--truth", "b", "--out", "c", "--protocol", "medpy"])
    capsys.readouterr()
    with pytest.raises(OptionError, match="does not apply to --protocol lits"):
        evaluate_folders(pred, truth, out, assd="medpy", protocol="lits", quiet=True)
    monkeypatch.setattr(cli, "COMMANDS", {"evaluate": cli.COMMANDS["evaluate"]})
    code = cli.main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--out", str(out / "x"),
                     "--protocol", "lits", "--assd", "chaos"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0 and "--assd chaos" in err
    assert not (out / "x").exists()


def test_runner_switches_protocol_from_per_case_rows(folders, tmp_path):
    """evaluate_variant: a summary of the other protocol is recomputed from per_case.csv (no cache, no volumes)."""
    from liverseg.evaluation import aggregate
    from liverseg.runner.predictions import evaluate_variant

    pred, truth, out = folders
    evaluate_folders(pred, truth, out, quiet=True)
    rows = pd.read_csv(out / "per_case.csv").assign(case=lambda f: f.case.astype(str))
    run_dir = tmp_path / "run"
    folder = run_dir / "evaluation" / "v"
    folder.mkdir(parents=True)
    rows.to_csv(folder / "per_case.csv", index=False)
    (folder / "summary.json").write_text(json.dumps({"num_cases": 3}))  # written before summaries named a protocol
    split = {"test": ["3", "5", "10"]}
    got = evaluate_variant(None, split, run_dir, "v", protocol="lits")
    assert got["protocol"] == "lits"
    assert got["liver_rvd"] == pytest.approx(aggregate(rows, protocol="lits")["liver_rvd"])
    assert json.loads((folder / "summary.json").read_text())["protocol"] == "lits"
    assert evaluate_variant(None, split, run_dir, "v", protocol="lits") == got  # reused
    ours = evaluate_variant(None, split, run_dir, "v")
    assert ours["protocol"] == "liverseg" and ours["liver_rvd"] == pytest.approx(aggregate(rows)["liver_rvd"])
