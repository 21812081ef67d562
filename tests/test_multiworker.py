"""Two-worker training on 127.0.0.1 with MultiWorkerMirroredStrategy: same weights, one run directory.

Each worker process gets the same `TF_CONFIG` cluster with its own index, calls `get_strategy()`
before anything else touches TensorFlow, and trains with `run_dir = worker_run_dir(RUN)`: the
chief (worker 0) writes RUN, worker 1 a scratch folder of its own.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_WORKER = textwrap.dedent("""
    import sys
    from liverseg.train.distribution import get_strategy, is_chief, worker_run_dir

    strategy = get_strategy()  # first: collective ops are configured at program start
    import keras
    import numpy as np
    import tensorflow as tf
    from liverseg.config import TrainConfig
    from liverseg.train.fit import fit

    print("replicas", strategy.num_replicas_in_sync, "chief", is_chief(), flush=True)
    run_dir = worker_run_dir(sys.argv[1])
    print("run_dir", run_dir, flush=True)
    rng = np.random.default_rng(0)
    x = rng.random((16, 16, 16, 1), dtype=np.float32)
    y = (x > 0.5).astype("float32")
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    val_ds = tf.data.Dataset.from_tensor_slices((x[:8], y[:8])).batch(4)

    def build():
        inp = keras.Input((16, 16, 1))
        h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
        out = keras.layers.Activation("sigmoid", dtype="float32")(keras.layers.Conv2D(1, 1)(h))
        return keras.Model(inp, out)

    class Crash(keras.callbacks.Callback):  # after epoch 0 is backed up, before epoch 1 is
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                sys.exit(3)

    train = TrainConfig(epochs=2, learning_rate=1e-2, monitor="val_loss", monitor_mode="min",
                        precision="auto")
    fit(build, train_ds, val_ds, stage="s", run_dir=run_dir, train=train,
        loss="binary_crossentropy", metrics=[], seed=1, verbose=2,
        extra_callbacks=[Crash()] if sys.argv[2:] == ["crash"] else [])
    print("wrote", (run_dir / "s" / "last.keras").is_file(), flush=True)
""")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run_workers(script: Path, run: Path, *args: str, timeout: float = 150) -> list[tuple[int, str]]:
    """Run two workers of one cluster to the end; (exit code, output) of each."""
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, PYTHONPATH=str(REPO), TF_CONFIG=json.dumps(tf_config),
                   KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
        procs.append(subprocess.Popen([sys.executable, str(script), str(run), *args], env=env,
                                      text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outs = []
    deadline = time.time() + timeout
    try:
        for proc in procs:
            outs.append(proc.communicate(timeout=max(1.0, deadline - time.time()))[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return [(proc.returncode, out) for proc, out in zip(procs, outs)]


def _digests(out: str) -> list[str]:
    return re.findall(r"^stage s: weights sha256 ([0-9a-f]{64})$", out, re.M)


def _scratch(out: str) -> Path:
    return Path(re.search(r"^run_dir (.+)$", out, re.M).group(1))


def _check_run_dir(run: Path, digest: str) -> None:
    assert [p.name for p in run.iterdir()] == ["s"]
    stage = run / "s"
    assert sorted(p.name for p in stage.iterdir() if p.name != "tensorboard") == [
        "best.keras", "done.json", "history.csv", "last.keras", "model_summary.txt"]
    lines = (stage / "history.csv").read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines] == ["epoch", "0", "1"]
    assert json.loads((stage / "done.json").read_text())["weights_sha256"] == digest


@pytest.mark.slow
@pytest.mark.process
def test_multiworker_two_workers_same_weights_one_run_dir(tmp_path):
    pytest.importorskip("tensorflow")
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    run = tmp_path / "run"
    (rc0, out0), (rc1, out1) = _run_workers(script, run)
    scratch = _scratch(out1)
    try:
        assert rc0 == 0, f"worker 0:\n{out0[-3000:]}"
        assert rc1 == 0, f"worker 1:\n{out1[-3000:]}"
        assert len(_digests(out0)) == 1 and _digests(out0) == _digests(out1)
        assert "replicas 2 chief True" in out0 and "replicas 2 chief False" in out1
        assert _scratch(out0) == run
        assert scratch != run and run not in scratch.parents
        assert scratch.name.startswith("liverseg-worker1-")
        _check_run_dir(run, _digests(out0)[0])
        assert "wrote True" in out1 and not scratch.exists()  # trained into its scratch, removed at exit
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.process
def test_multiworker_resume_then_skip(tmp_path):
    """Both workers die after epoch 0 was backed up; the rerun resumes both from the chief's
    backup (worker 1 reads it from RUN, as on a shared file system); a third run skips."""
    pytest.importorskip("tensorflow")
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    run = tmp_path / "run"
    scratches = []
    try:
        crashed = _run_workers(script, run, "crash")
        scratches += [_scratch(out) for _, out in crashed]
        assert [rc for rc, _ in crashed] == [3, 3], crashed[0][1][-2000:] + crashed[1][1][-2000:]
        assert json.loads((run / "s" / "backup" / "state.json").read_text())["epoch"] == 1
        resumed = _run_workers(script, run)
        scratches += [_scratch(out) for _, out in resumed]
        for index, (rc, out) in enumerate(resumed):
            assert rc == 0, f"worker {index}:\n{out[-3000:]}"
            assert "resuming s from epoch 2" in out, out[-2000:]
        digests = [_digests(out) for _, out in resumed]
        assert len(digests[0]) == 1 and digests[0] == digests[1]
        _check_run_dir(run, digests[0][0])
        skipped = _run_workers(script, run)
        scratches += [_scratch(out) for _, out in skipped]
        for rc, out in skipped:
            assert rc == 0 and "skipping s: already done" in out, out[-2000:]
    finally:
        for scratch in scratches:
            if scratch != run:
                shutil.rmtree(scratch, ignore_errors=True)
