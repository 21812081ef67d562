"""`liverseg evaluate` refuses a prediction off its truth's grid (mirrored, reoriented, shifted) in one
line naming both files, accepts float noise in the affine, and scores a chosen or the predicted subset."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liverseg.errors import InputError
from liverseg.evaluation import evaluate_folders

from tests.label_volumes import block, write

SHAPE = (10, 9, 8)
AFFINE = np.array([[0.8, 0, 0, -4.0], [0, 0.8, 0, 3.0], [0, 0, 2.0, 10.0], [0, 0, 0, 1]])


@pytest.fixture()
def folders(tmp_path):
    """Cases 3 and 10: an asymmetric liver (x 1..4), predicted exactly, on one affine."""
    truth, pred = tmp_path / "truth", tmp_path / "pred"
    liver = block(SHAPE, (1, 2, 2), (4, 6, 6))
    for n in (3, 10):
        write(truth / f"segmentation-{n}.nii.gz", liver, affine=AFFINE)
        write(pred / f"segmentation-{n}.nii.gz", liver, affine=AFFINE)
    return pred, truth, tmp_path / "out"


def _cli(pred, truth, out, *extra):
    from liverseg.cli.main import main

    return main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--out", str(out), *extra])


def test_left_right_mirrored_prediction_is_refused_naming_both_files(folders, capsys):
    pred, truth, out = folders
    liver = block(SHAPE, (1, 2, 2), (4, 6, 6))
    mirrored = AFFINE.copy()
    mirrored[0, 0] = -0.8  # the same voxels placed mirrored left-right (what scored Dice 0.26 before)
    write(pred / "segmentation-3.nii.gz", liver, affine=mirrored)
    assert _cli(pred, truth, out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "another orientation" in err
    assert str(pred / "segmentation-3.nii.gz") in err and str(truth / "segmentation-3.nii.gz") in err
    assert not out.exists()
    # flipped in the file but the same place in the world: still refused (stored orientation differs)
    flip = AFFINE.copy()
    flip[0, 0], flip[0, 3] = -0.8, AFFINE[0, 3] + 0.8 * (SHAPE[0] - 1)
    write(pred / "segmentation-3.nii.gz", liver[::-1], affine=flip)
    with pytest.raises(InputError, match="another orientation"):
        evaluate_folders(pred, truth, out, quiet=True)


def test_shifted_origin_is_refused_and_float_noise_accepted(folders):
    pred, truth, out = folders
    liver = block(SHAPE, (1, 2, 2), (4, 6, 6))
    shifted = AFFINE.copy()
    shifted[1, 3] += 1.0
    write(pred / "segmentation-10.nii.gz", liver, affine=shifted)
    with pytest.raises(InputError, match=r"affine differs from its truth .*origin by 1 mm") as err:
        evaluate_folders(pred, truth, out, quiet=True)
    assert err.value.path.endswith("segmentation-10.nii.gz") and not out.exists()
    noisy = AFFINE + np.array([[1e-6, 0, 0, 2e-4], [0, -1e-6, 0, -3e-5], [0, 0, 1e-6, 1e-4], [0, 0, 0, 0]])
    write(pred / "segmentation-10.nii.gz", liver, affine=noisy)
    summary = evaluate_folders(pred, truth, out, quiet=True)
    assert summary["liver_dice_per_case"] == pytest.approx(1.0)


def test_cases_and_predicted_only(folders, capsys):
    pred, truth, out = folders
    (pred / "segmentation-10.nii.gz").unlink()
    assert _cli(pred, truth, out) == 2
    assert "--predicted-only" in capsys.readouterr().err
    assert _cli(pred, truth, out, "--predicted-only") == 0
    assert pd.read_csv(out / "per_case.csv")["case"].tolist() == [3]
    assert _cli(pred, truth, out / "b", "--cases", "3") == 0
    assert pd.read_csv(out / "b" / "per_case.csv")["case"].tolist() == [3]
    capsys.readouterr()
    assert _cli(pred, truth, out / "c", "--cases", "3,4-5") == 2
    err = capsys.readouterr().err
    assert "case(s) 4, 5" in err and len(err.strip().splitlines()) == 1 and not (out / "c").exists()


def test_out_that_is_a_file_or_unwritable_is_one_line(folders, tmp_path, capsys):
    pred, truth, _ = folders
    taken = tmp_path / "taken.json"
    taken.write_text("{}")
    for out in (taken, taken / "sub"):
        assert _cli(pred, truth, out) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(out) in err and "--out" in err
    assert taken.read_text() == "{}"
