"""Gong's smoke profile on two workers (MultiWorkerMirroredStrategy on 127.0.0.1): both workers end
every stage with identical weights, and there is one run directory, written by the chief."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from liverseg.io.atomic import read_json
from tests.experiments.short_runs import gong_short

REPO = Path(__file__).resolve().parents[2]
STAGES = ("coarse", "fine", "fine_whole")
pytestmark = [pytest.mark.slow, pytest.mark.process]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_gong_smoke_multiworker_two_epochs_same_weights_one_run_directory(tmp_path, gong_cache_dir):
    from liverseg.runner.data import phantom_dir

    from experiments.gong.config import get_config

    phantom_dir(get_config("smoke").phantom)  # made once here, not raced by the two workers
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    runs, run = tmp_path / "runs", tmp_path / "runs" / "gong-mw"
    cmd = [sys.executable, "-m", "liverseg", "reproduce", "gong", "--profile", "smoke", "--run-dir", str(run),
           *gong_short(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3",
                   LIVERSEG_CACHE_DIR=str(gong_cache_dir), LIVERSEG_RUNS_DIR=str(runs))
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=900)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, out[-3000:]
    digests = [dict(re.findall(r"stage (\w+): weights sha256 ([0-9a-f]{64})", out)) for out in outputs]
    assert set(digests[0]) == set(STAGES) and digests[0] == digests[1]
    assert sorted(p.name for p in runs.iterdir()) == ["gong-mw"]
    assert (run / "done.json").is_file() and (run / "report.md").is_file()
    for stage in STAGES:
        assert read_json(run / stage / "done.json")["weights_sha256"] == digests[0][stage]
        assert len((run / stage / "history.csv").read_text().splitlines()) == 1 + 2
    assert "training done; the chief writes predictions" in outputs[1]
