"""Gong end to end on the smoke profile: run directory, resume/skip, determinism, predict, notebook."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverseg.io.atomic import read_json

from liverseg.runner.run import reproduce
from experiments.gong.paper import PAPER
from tests.experiments.regression import assert_guarded
from tests.experiments.notebooks import check_inspection_notebook
from tests.experiments.short_runs import gong_short
from tests.experiments.standalone import assert_checkpoints_stand_alone, assert_onnx_matches_keras

KEYS = PAPER.expected_keys

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_smoke_run_writes_a_complete_run_directory(gong_smoke_run):
    run = gong_smoke_run
    for name in ("config.json", "versions.json", "split.json", "report.md", "metrics.json", "done.json",
                 "training_curves.png", "per_case_dice.png"):
        assert (run / name).is_file(), name
    for stage in ("coarse", "fine", "fine_whole"):
        assert (run / stage / "best.keras").is_file() and (run / stage / "last.keras").is_file()
        history = (run / stage / "history.csv").read_text().splitlines()
        assert history[0].startswith("epoch")
    split = read_json(run / "split.json")
    for variant in PAPER.variants:
        per_case = (run / "evaluation" / variant / "per_case.csv").read_text().splitlines()
        assert len(per_case) == 1 + len(split["test"])
        assert read_json(run / "predictions" / variant / "done.json")["cases"] == split["test"]
    records = read_json(run / "predictions" / "crop" / "records.json")
    assert set(records) == set(split["test"]) and all("crop_boxes" in r for r in records.values())
    metrics = read_json(run / "metrics.json")
    assert metrics["default_variant"] == "crop"
    for key in KEYS:
        assert 0.0 <= metrics["crop"][key] <= 1.0
    report = (run / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("|")]
    assert any("Gong et al.: U-Net with multi-scale feature fusion" in r and "0.665" in r for r in rows)
    assert any("section 3" in r and "0.120" in r for r in rows)  # the paper's +12% ablation, as a number
    assert any(r.startswith("| ours | liverseg, profile smoke") for r in rows)
    assert not set(split["train"]) & set(split["test"]) and not set(split["val"]) & set(split["test"])


def test_regression_check_guards_the_stored_scores(gong_smoke_run):
    expected, _ = assert_guarded(PAPER, gong_smoke_run)
    assert expected["scores"], "no guarded score stored"


def test_rerun_skips_finished_stages(gong_smoke_run, capsys):
    assert reproduce(PAPER, ["--profile", "smoke", "--seed", "0", "--run-dir", str(gong_smoke_run)]) == 0
    out = capsys.readouterr().out
    for stage in ("coarse", "fine", "fine_whole"):
        assert f"skipping {stage}: already done" in out
    assert "skipping inference (crop): already done" in out


def test_resumed_inference_keeps_the_records_of_finished_cases(gong_smoke_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(gong_smoke_run, run)
    crop = run / "predictions" / "crop"
    before = read_json(crop / "records.json")
    first, *rest = read_json(run / "split.json")["test"]
    # an interrupted inference: the marker not written, the last case not finished
    (crop / "done.json").unlink()
    next(crop.glob(f"segmentation-{first.rsplit('-', 1)[-1]}.nii.gz")).unlink()
    shutil.rmtree(run / "evaluation")
    (run / "done.json").unlink()
    assert reproduce(PAPER, ["--profile", "smoke", "--seed", "0", "--run-dir", str(run)]) == 0
    after = read_json(crop / "records.json")
    assert set(after) == set(before)
    for case in rest:
        assert after[case] == before[case]  # kept, not overwritten
    assert after[first]["crop_boxes"] == before[first]["crop_boxes"]  # recomputed, same boxes


def test_dry_run_trains_nothing(tmp_path, capsys, gong_cache_dir):
    assert reproduce(PAPER, ["--profile", "smoke", "--dry-run", "--run-dir", str(tmp_path / "dry")]) == 0
    out = capsys.readouterr().out
    assert "fine_stem_conv" in out and "dry run" in out
    assert not (tmp_path / "dry").exists()


def _predict(run, ct, out):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "liverseg.cli.main", "predict", "--run", str(run), "--input", str(ct),
                           "--output", str(out)], capture_output=True, text=True, env=env, cwd=REPO)


def test_predict_cli_writes_labels_in_the_inputs_geometry(gong_smoke_run, tmp_path):
    meta = json.loads(next((gong_smoke_run / "cache" / "cases").glob("*/meta.json")).read_text())
    out = tmp_path / "seg.nii.gz"
    result = _predict(gong_smoke_run, meta["source_image"], out)
    assert result.returncode == 0, result.stderr
    src, seg = nib.load(meta["source_image"]), nib.load(out)
    assert seg.shape == src.shape
    np.testing.assert_allclose(seg.affine, src.affine, atol=1e-4)
    assert set(np.unique(np.asarray(seg.dataobj))) <= {0, 1, 2}


def test_predict_cli_refuses_a_missing_input_in_one_line(gong_smoke_run, tmp_path):
    result = _predict(gong_smoke_run, tmp_path / "nope.nii.gz", tmp_path / "seg.nii.gz")
    assert result.returncode == 2
    assert "nope.nii.gz" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "seg.nii.gz").exists()


@pytest.mark.realdata
def test_predict_cli_on_real_ct(gong_smoke_run, shared_data, tmp_path):
    ct = shared_data / "lits_sample" / "volume-1.nii.gz"
    out = tmp_path / "seg-real.nii.gz"
    result = _predict(gong_smoke_run, ct, out)
    assert result.returncode == 0, result.stderr
    assert nib.load(out).shape == nib.load(ct).shape


def test_inspection_notebook_executes_against_the_run(gong_smoke_run):
    check_inspection_notebook(gong_smoke_run)


@pytest.mark.process
def test_kill_9_mid_stage_then_same_command_resumes(tmp_path, gong_cache_dir):
    """A smoke run killed with SIGKILL inside the fine stage; the same command resumes it."""
    import signal
    import time

    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "liverseg", "reproduce", "gong", "--profile", "smoke", "--run-dir", str(run),
           *gong_short(4, coarse=2)]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3", LIVERSEG_CACHE_DIR=str(gong_cache_dir))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "fine" / "backup" / "state.json"
    deadline = time.time() + 600
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before the fine stage had a backup"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "fine" / "done.json").exists()

    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "skipping coarse: already done" in again.stdout
    assert "resuming fine from epoch" in again.stdout
    epochs = [line.split(",")[0] for line in (run / "fine" / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [str(e) for e in range(len(epochs))] and len(epochs) == 4
    assert (run / "report.md").is_file()


def test_checkpoints_load_with_only_keras_and_liverseg(gong_smoke_run):
    assert_checkpoints_stand_alone(gong_smoke_run)


@pytest.mark.realdata
def test_onnx_export_matches_keras_on_a_real_slice(gong_smoke_run, shared_data, tmp_path):
    assert_onnx_matches_keras(gong_smoke_run, shared_data, tmp_path / "onnx")


def test_the_run_records_itself(gong_smoke_run):
    """run.log holds the console (stage lines, epoch lines), without TensorFlow's noise; report.md
    gives the volume scores beside Dice per variant and the run record."""
    log = (gong_smoke_run / "run.log").read_text()
    assert "== session" in log and "[1/" in log and "coarse done in" in log and "Epoch 1/" in log
    assert "1 epochs" not in log and "retracing" not in log and log.count("oneDNN") <= 1
    report = (gong_smoke_run / "report.md").read_text()
    assert "## Volume scores per variant" in report and "| crop | tumour |" in report and "ASSD (mm)" in report
    assert "## Run" in report and "- Command: `" in report and "- Hardware: " in report
    assert "| coarse |" in report and "| all stages |" in report


def test_smoke_run_keeps_the_contract_of_every_method(gong_smoke_run):
    from tests.experiments.contract import assert_paper_contract

    assert_paper_contract(PAPER, gong_smoke_run)
