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

from experiments.gong.expected import EXPECTED, KEYS
from experiments.gong.reproduce import main

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_smoke_run_writes_a_complete_run_directory(gong_smoke_run):
    run = gong_smoke_run
    for name in ("config.json", "versions.json", "split.json", "report.md", "metrics.json",
                 "training_curves.png", "per_case_dice.png"):
        assert (run / name).is_file(), name
    for stage in ("coarse", "fine", "fine_whole"):
        assert (run / stage / "best.keras").is_file() and (run / stage / "last.keras").is_file()
        history = (run / stage / "history.csv").read_text().splitlines()
        assert history[0].startswith("epoch")
    metrics = json.loads((run / "metrics.json").read_text())
    for key in KEYS:
        assert 0.0 <= metrics["crop"][key] <= 1.0
    report = (run / "report.md").read_text()
    assert "0.665" in report and "Multi-scale Attention U-Net" in report and "12" in report
    split = json.loads((run / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"]) and not set(split["val"]) & set(split["test"])


def test_regression_smoke_dice_not_below_stored_minus_tolerance(gong_smoke_run):
    expected = json.loads(EXPECTED.read_text())
    got = json.loads((gong_smoke_run / "metrics.json").read_text())["crop"]
    for key in KEYS:
        floor = expected["scores"][key] - expected["tolerance"][key]
        assert got[key] >= floor, f"{key}: {got[key]:.4f} < stored {expected['scores'][key]:.4f} - tol"


def test_rerun_skips_finished_stages(gong_smoke_run, capsys):
    assert main(["--profile", "smoke", "--seed", "0", "--run-dir", str(gong_smoke_run)]) == 0
    out = capsys.readouterr().out
    for stage in ("coarse", "fine", "fine_whole"):
        assert f"skipping {stage}: already done" in out


def test_same_seed_gives_the_same_weights_and_scores(gong_smoke_run, tmp_path):
    import keras

    second = tmp_path / "again"
    assert main(["--profile", "smoke", "--seed", "0", "--run-dir", str(second)]) == 0
    for stage in ("coarse", "fine"):
        a = keras.saving.load_model(gong_smoke_run / stage / "last.keras", compile=False)
        b = keras.saving.load_model(second / stage / "last.keras", compile=False)
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
    m1 = json.loads((gong_smoke_run / "metrics.json").read_text())["crop"]
    m2 = json.loads((second / "metrics.json").read_text())["crop"]
    assert {k: m1[k] for k in KEYS} == {k: m2[k] for k in KEYS}


def test_dry_run_trains_nothing(tmp_path, capsys, gong_cache_dir):
    assert main(["--profile", "smoke", "--dry-run", "--run-dir", str(tmp_path / "dry")]) == 0
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


def test_notebook_executes_against_a_smoke_run(gong_smoke_run):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "notebooks" / "inspect_predictions.ipynb", as_version=4)
    os.environ["LIVERSEG_RUN"] = str(gong_smoke_run)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "display_data" for o in outputs)  # figures were drawn


def test_kill_9_mid_stage_then_same_command_resumes(tmp_path, gong_cache_dir):
    """A smoke run killed with SIGKILL inside the fine stage; the same command resumes it."""
    import signal
    import time

    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "experiments.gong.reproduce", "--profile", "smoke", "--run-dir", str(run)]
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
