"""Li end to end on the smoke profile: the run directory, the four rows of Table I beside the paper's
(with the note on where those come from), Fig. 8, the regression check (liver and tumour), resume,
`liverseg predict` with a chosen variant, and the leakage warning on a CT the run trained on."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverseg.io.atomic import read_json
from liverseg.runner.expected import compare

from experiments.li_dalunet.config import TABLE_ORDER
from liverseg.runner.run import reproduce
from experiments.li_dalunet.paper import PAPER
from tests.experiments.regression import assert_guarded, raised
from tests.experiments.notebooks import check_inspection_notebook
from tests.experiments.standalone import assert_checkpoints_stand_alone, assert_onnx_matches_keras

pytestmark = pytest.mark.slow


def test_smoke_run_writes_a_complete_run_directory(li_smoke_run):
    run = li_smoke_run
    for name in ("config.json", "versions.json", "split.json", "report.md", "metrics.json", "done.json",
                 "training_curves.png", "fig8_side_by_side.png"):
        assert (run / name).is_file(), name
    split = read_json(run / "split.json")
    assert split["mode"] == "patients" and not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    for variant in TABLE_ORDER:
        assert (run / variant / "best.keras").is_file() and (run / variant / "done.json").is_file()
        assert read_json(run / "predictions" / variant / "done.json")["cases"] == split["test"]
    metrics = read_json(run / "metrics.json")
    assert metrics["default_variant"] == "dalunet"
    assert metrics["extra"]["fig8"]["case"] in split["test"]


def test_report_puts_table_i_beside_our_four_rows(li_smoke_run):
    text = (li_smoke_run / "report.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("|")]
    for value, name in (("0.8220", "U-Net"), ("0.8520", "AU-Net"), ("0.8870", "AU-Net w/DS"), ("0.8990", "DALU-Net")):
        assert any(r.startswith("| paper |") and value in r and r.split("|")[2].strip().endswith(name) for r in rows)
        assert any(r.startswith("| ours | liverseg smoke") and r.split("|")[2].strip().endswith(name) for r in rows)
    assert "Jeong et al." in text and "different task" in text


def test_regression_check_guards_liver_and_tumour(li_smoke_run):
    expected, got = assert_guarded(PAPER, li_smoke_run)
    guarded = set(expected["scores"])
    assert any(k.startswith("liver_") for k in guarded) and any("tumour" in k for k in guarded)
    tumour = [k for k in guarded if "tumour" in k]
    failures = compare(raised(expected, got, tumour), got)  # only the stored tumour scores raised
    assert sorted(f.split()[0] for f in failures) == sorted(tumour)


def test_rerun_skips_finished_stages(li_smoke_run, capsys):
    assert reproduce(PAPER, ["--profile", "smoke", "--seed", "0", "--run-dir", str(li_smoke_run)]) == 0
    out = capsys.readouterr().out
    for stage in TABLE_ORDER:
        assert f"skipping {stage}: already done" in out
    assert "skipping inference (dalunet): already done" in out


def _predict(run: Path, source: Path, out: Path, *extra: str) -> int:
    """`liverseg predict` in this process (the CLI's own entry: parsing, one-line errors, exit status)."""
    from liverseg.cli.main import main as liverseg

    return liverseg(["predict", "--run", str(run), "--input", str(source), "--output", str(out), *extra])


def test_predict_on_a_li_run_with_each_variant(li_smoke_run, tmp_path, capsys, recwarn):
    from liverseg.io.leakage import LeakageWarning

    split = read_json(li_smoke_run / "split.json")
    meta = read_json(li_smoke_run / "cache" / "cases" / split["test"][0] / "meta.json")
    source = Path(meta["source_image"])
    for variant in ("", "unet"):
        out = tmp_path / f"seg{variant}.nii.gz"
        assert _predict(li_smoke_run, source, out, *(["--variant", variant] if variant else [])) == 0
        labels = np.asarray(nib.load(out).dataobj)
        assert labels.shape == nib.load(source).shape and set(np.unique(labels)) <= {0, 1, 2}
    assert not [w for w in recwarn if issubclass(w.category, LeakageWarning)]  # a test patient: not trained on
    assert _predict(li_smoke_run, source, tmp_path / "x.nii.gz", "--variant", "vnet") == 2
    assert "dalunet, unet, aunet, aunet_ds" in capsys.readouterr().err
    assert not (tmp_path / "x.nii.gz").exists()


def test_predict_warns_on_a_ct_the_run_trained_on(li_smoke_run, tmp_path):
    from liverseg.io.leakage import LeakageWarning

    split = read_json(li_smoke_run / "split.json")
    meta = read_json(li_smoke_run / "cache" / "cases" / split["train"][0] / "meta.json")
    with pytest.warns(LeakageWarning, match=split["train"][0]):
        assert _predict(li_smoke_run, Path(meta["source_image"]), tmp_path / "seg.nii.gz") == 0


def test_inspection_notebook_executes_against_the_run(li_smoke_run):
    check_inspection_notebook(li_smoke_run)


def test_checkpoints_load_with_only_keras_and_liverseg(li_smoke_run):
    assert_checkpoints_stand_alone(li_smoke_run)


@pytest.mark.realdata
def test_onnx_export_matches_keras_on_a_real_slice(li_smoke_run, shared_data, tmp_path):
    assert_onnx_matches_keras(li_smoke_run, shared_data, tmp_path / "onnx")


def test_smoke_run_keeps_the_contract_of_every_method(li_smoke_run):
    from tests.experiments.contract import assert_paper_contract

    assert_paper_contract(PAPER, li_smoke_run)
