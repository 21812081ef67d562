"""benchmarks/paper_scale.py: one paper's train step at its paper size and batch in a child process
(slow), its options, and the phantom's `--slices` that makes LiTS-sized volumes for it."""
from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_prep import phantom
from liverseg.errors import OptionError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "paper_scale.py"
# the smallest paper batch (2 slices of 512 x 512); Gruber's batch 8 and Gong's batch 4 of 512 x 512 reached
# 8.0 and 8.3 GiB peak RSS on TensorFlow (benchmarks/RESULTS.md)
PAPER = "liu_crunet"


def _load():
    spec = importlib.util.spec_from_file_location("paper_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_options_and_child_command():
    ps = _load()
    args = ps.parse_args(["--paper", "gong", "--phases", "train", "--backends", "jax", "--steps", "2"])
    assert args.phases == ["train"] and args.backends == ["jax"]
    cmd = ps.child_command(args, "train", "jax")
    assert cmd[cmd.index("--child") + 1] == "train" and cmd[cmd.index("--steps") + 1] == "2"
    with pytest.raises(SystemExit):
        ps.parse_args(["--paper", "gong", "--phases", "prep"])  # prep needs its folders
    with pytest.raises(SystemExit):
        ps.parse_args(["--paper", "gong", "--backends", "torch"])


def test_phantom_slices_option_resamples_the_same_extent():
    drawn = phantom.draw_case(0, 3)
    image, label, affine = phantom.generate_case(0, 3, 32, slices=7)
    assert image.shape[2] == label.shape[2] == 7
    extent = float(drawn.z[-1] - drawn.z[0])
    assert abs(abs(affine[:3, 2]).max() * 6 - extent) < 1e-6 * extent
    counts = {phantom.slice_count(0, i, "300-700") for i in range(6)}
    assert all(300 <= n <= 700 for n in counts) and len(counts) > 1
    assert phantom.slice_count(0, 1, "300-700") == phantom.slice_count(0, 1, (300, 700))
    assert phantom.slice_count(0, 1, None) is None
    for bad in ("0", "9-3", "x", "1-2-3"):
        with pytest.raises(OptionError):
            phantom.parse_slices(bad)


@pytest.mark.slow
@pytest.mark.process
def test_one_paper_train_step_at_paper_size(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--paper", PAPER, "--phases", "train", "--backends",
                           "tensorflow", "--steps", "1", "--json", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (result,) = json.loads(out.read_text())["results"]
    (stage,) = result["stages"]
    spec = importlib.import_module(f"experiments.{PAPER}.paper").PAPER
    cfg = spec.get_config("paper")
    assert stage["batch"] == cfg_batch(spec, cfg, stage["stage"])
    assert stage["input"][0][1:3] == [cfg.preprocess.size] * 2 == [512, 512]
    assert np.isfinite(stage["loss"]) and stage["s_per_step"] > 0
    assert result["peak_rss_bytes"] < 12 * 2**30  # one paper step leaves half of a 24 GB machine to the rest


def cfg_batch(spec, cfg, name: str) -> int:
    return next(s for s in spec.stages(spec.context(cfg)) if s.name == name).sources[0].batch_size


