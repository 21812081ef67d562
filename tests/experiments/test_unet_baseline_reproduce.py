"""The sixth method, end to end on the smoke profile: what every method keeps (the shared contract),
its package size (a method in at most four files, 250 lines), its loss built from the config, and
`liverseg predict` on its run."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from liverseg.config import override
from liverseg.io.atomic import read_json

from experiments.unet_baseline.paper import PAPER
from tests.experiments.contract import assert_paper_contract

pytestmark = pytest.mark.slow
PACKAGE = Path(__file__).resolve().parents[2] / "experiments" / "unet_baseline"


def test_smoke_run_keeps_the_contract_of_every_method(unet_baseline_smoke_run):
    assert_paper_contract(PAPER, unet_baseline_smoke_run)


def test_the_method_is_four_files_at_most_and_250_lines():
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) <= 4, files
    assert sum(len(f.read_text().splitlines()) for f in files) <= 250


def test_a_set_of_the_loss_changes_the_loss_that_is_trained():
    from liverseg.nn.losses import DiceBCELoss, DiceLoss

    cfg = PAPER.get_config("smoke")
    assert isinstance(PAPER.stages(PAPER.context(cfg))[0].loss(), DiceBCELoss)
    other = override(cfg, ["train.loss=dice"])
    assert type(PAPER.stages(PAPER.context(other))[0].loss()) is DiceLoss
    assert PAPER.stages(PAPER.context(replace(cfg, seed=3)))[0].train.loss == "dice_bce"


def test_predict_on_the_baseline_run(unet_baseline_smoke_run, tmp_path):
    import nibabel as nib

    from liverseg.cli.main import main as liverseg

    split = read_json(unet_baseline_smoke_run / "split.json")
    meta = read_json(unet_baseline_smoke_run / "cache" / "cases" / split["test"][0] / "meta.json")
    out = tmp_path / "seg.nii.gz"
    assert liverseg(["predict", "--run", str(unet_baseline_smoke_run), "--input", meta["source_image"],
                     "--output", str(out)]) == 0
    labels = np.asarray(nib.load(out).dataobj)
    assert labels.shape == nib.load(meta["source_image"]).shape and set(np.unique(labels)) <= {0, 1, 2}


def test_inspection_notebook_executes_against_the_run(unet_baseline_smoke_run):
    from tests.experiments.notebooks import check_inspection_notebook

    check_inspection_notebook(unet_baseline_smoke_run)
