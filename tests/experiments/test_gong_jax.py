"""Gong's smoke profile end to end on the JAX backend: the runner trains through a PyDataset (no
tf.data), predicts the test volumes, and `liverseg predict` segments a CT with the JAX-trained run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverseg.io.atomic import read_json
from tests.experiments.short_runs import gong_short

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.process]
pytest.importorskip("jax", reason="jax[cpu] is in requirements-dev.txt; this checks the JAX backend")


def _jax_env(cache_dir) -> dict:
    return dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="",
                TF_CPP_MIN_LOG_LEVEL="3", LIVERSEG_CACHE_DIR=str(cache_dir))


def test_gong_smoke_one_epoch_under_jax_then_predict(tmp_path, gong_cache_dir):
    run = tmp_path / "jax-run"
    cmd = [sys.executable, "-m", "liverseg", "reproduce", "gong", "--profile", "smoke", "--run-dir", str(run),
           *gong_short(1)]
    result = subprocess.run(cmd, cwd=REPO, env=_jax_env(gong_cache_dir), capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    versions = read_json(run / "versions.json")
    assert versions["keras_backend"] == "jax" and versions["jax"]
    assert (run / "done.json").is_file()
    for stage in ("coarse", "fine", "fine_whole"):
        assert len((run / stage / "history.csv").read_text().splitlines()) == 2  # header + one epoch
    summary = read_json(run / "evaluation" / "crop" / "summary.json")
    assert 0.0 <= summary["liver_dice_per_case"] <= 1.0

    ct = read_json(next((run / "cache" / "cases").glob("*/meta.json")))["source_image"]
    out = tmp_path / "seg.nii.gz"
    predict = subprocess.run([sys.executable, "-m", "liverseg.cli.main", "predict", "--run", str(run),
                              "--input", ct, "--output", str(out)], cwd=REPO, env=_jax_env(gong_cache_dir),
                             capture_output=True, text=True, timeout=300)
    assert predict.returncode == 0, predict.stderr[-2000:]
    assert nib.load(out).shape == nib.load(ct).shape
    assert set(np.unique(np.asarray(nib.load(out).dataobj))) <= {0, 1, 2}
