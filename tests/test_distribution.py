"""Tests of liverseg.train.distribution / devices / precision / seeds on any backend: strategy, chief,
scratch dirs, digest, mixed precision, and `fit()` with resume on JAX without TensorFlow."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from liverseg.errors import OptionError
from liverseg.train import distribution
from liverseg.train.devices import backend, gpu_count
from liverseg.train.precision import resolve_precision
from liverseg.train.distribution import (
    NoStrategy, chief_run_dir, get_strategy, is_chief, weights_sha256, worker_run_dir,
)

from liverseg.io.checkpoints import load_model
from tests.test_training import _fit, _train

REPO = Path(__file__).resolve().parents[1]


def _tf_config(monkeypatch, kind, index, cluster=None):
    cluster = cluster or {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))


def test_is_chief_follows_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief()
    _tf_config(monkeypatch, "worker", 0)
    assert is_chief()
    _tf_config(monkeypatch, "worker", 1)
    assert not is_chief()
    with_chief = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}
    _tf_config(monkeypatch, "chief", 0, with_chief)
    assert is_chief()
    _tf_config(monkeypatch, "worker", 0, with_chief)
    assert not is_chief()
    _tf_config(monkeypatch, "evaluator", 0, {**with_chief, "evaluator": ["127.0.0.1:3"]})
    assert not is_chief()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(OptionError, match="TF_CONFIG"):
        is_chief()
    _tf_config(monkeypatch, "ps", 0)
    with pytest.raises(OptionError, match="'ps' is not in the cluster"):
        is_chief()


def test_worker_run_dir_is_private_scratch_off_the_chief(monkeypatch, tmp_path):
    run = tmp_path / "run"
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_run_dir(run) == run and chief_run_dir(run) == run
    with pytest.raises(OptionError, match="run directory"):
        worker_run_dir(None)
    _tf_config(monkeypatch, "worker", 0)
    assert worker_run_dir(str(run)) == run
    _tf_config(monkeypatch, "worker", 1)
    monkeypatch.setattr(distribution, "_SCRATCH", {})
    scratch = worker_run_dir(run)
    try:
        assert scratch.is_dir() and scratch.name.startswith("liverseg-worker1-")
        assert run not in scratch.parents and not run.exists()
        assert worker_run_dir(run) == scratch  # one scratch folder per run dir and process
        assert chief_run_dir(scratch) == run
        other, unknown = worker_run_dir(tmp_path / "other"), worker_run_dir(None)
        assert len({other, unknown, scratch}) == 3 and chief_run_dir(unknown) == unknown
        shutil.rmtree(other), shutil.rmtree(unknown)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_get_strategy_is_created_once():
    strategy = get_strategy()
    assert get_strategy() is strategy
    with strategy.scope():
        pass
    assert strategy.num_replicas_in_sync == 1


def test_no_strategy_scope():
    with NoStrategy().scope() as s:
        assert s.num_replicas_in_sync == 1


def test_weights_sha256_is_float32_bytes_in_layer_order():
    keras.utils.set_random_seed(0)
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Dense(2)(inp)))
    weights = model.get_weights()
    expected = hashlib.sha256(b"".join(np.asarray(w, np.float32).tobytes() for w in weights)).hexdigest()
    assert weights_sha256(model) == expected
    weights[-1] = weights[-1] + 1.0
    model.set_weights(weights)
    assert weights_sha256(model) != expected


def test_resolve_precision():
    assert resolve_precision("auto") == "float32"  # conftest hides the GPUs
    for name in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert resolve_precision(name) == name
    with pytest.raises(OptionError, match="precision"):
        resolve_precision("float64")


class _Probe(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.optimizer = self.model.optimizer
        self.policy = self.model.dtype_policy.name


def test_mixed_float16_wraps_loss_scaling_and_restores_policy(tmp_path):
    probe = _Probe()
    before = keras.mixed_precision.global_policy().name
    _fit(tmp_path, _train(epochs=1, precision="mixed_float16"), extra_callbacks=[probe])
    assert probe.policy == "mixed_float16"
    assert isinstance(probe.optimizer, keras.optimizers.LossScaleOptimizer)
    assert keras.mixed_precision.global_policy().name == before
    assert load_model(tmp_path / "s" / "best.keras").output.dtype == "float32"


def test_devices_on_cpu():
    assert backend() == keras.backend.backend()
    assert gpu_count() == 0  # conftest hides the GPUs


_JAX_TF_CONFIG = textwrap.dedent("""
    import sys
    sys.modules["tensorflow"] = None
    from liverseg.errors import OptionError
    from liverseg.train.distribution import get_strategy, is_chief
    try:
        get_strategy()
    except OptionError as e:
        print("OptionError:", e)
    print("chief", is_chief())
""")


def test_tf_config_under_jax_is_an_option_error(tmp_path):
    pytest.importorskip("jax")
    tf_config = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    env = dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND="jax", TF_CONFIG=json.dumps(tf_config))
    proc = subprocess.run([sys.executable, "-c", _JAX_TF_CONFIG], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OptionError: TF_CONFIG is set, but multi-worker training needs the TensorFlow backend" in proc.stdout
    assert "chief False" in proc.stdout


_JAX_SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.modules["tensorflow"] = None  # as if TensorFlow were not installed: importing it fails
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
    import numpy as np
    from liverseg.config import TrainConfig
    from liverseg.train.distribution import NoStrategy
    from liverseg.train.fit import fit, get_strategy, resolve_precision

    class Batches(keras.utils.PyDataset):
        def __init__(self, n):
            super().__init__()
            rng = np.random.default_rng(0)
            self.x = rng.random((n, 16, 16, 1), dtype=np.float32)
            self.y = (self.x > 0.5).astype("float32")
        def __len__(self):
            return len(self.x) // 4
        def __getitem__(self, i):
            return self.x[4 * i:4 * i + 4], self.y[4 * i:4 * i + 4]

    class Crashed(Exception):
        pass

    class Crash(keras.callbacks.Callback):  # after epoch 0 is backed up, before epoch 1 is
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Crashed()

    def build():
        inp = keras.Input((16, 16, 1))
        h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
        h = keras.layers.Dropout(0.2, name="drop")(h)
        out = keras.layers.Activation("sigmoid", dtype="float32")(keras.layers.Conv2D(1, 1)(h))
        return keras.Model(inp, out)

    def run(run_dir, epochs, data=None, **kw):
        train = TrainConfig(epochs=epochs, learning_rate=1e-2, monitor="val_loss", monitor_mode="min")
        data = data or (Batches(16), Batches(8))
        return fit(build, data[0], data[1], stage="s", run_dir=run_dir, train=train,
                   loss="binary_crossentropy", metrics=[], seed=1, verbose=0, **kw)

    root = sys.argv[1]
    out = {"backend": keras.backend.backend(), "precision": resolve_precision("auto"),
           "no_strategy": isinstance(get_strategy(), NoStrategy)}
    full = run(root + "/full", 2)
    try:
        run(root + "/crashed", 2, extra_callbacks=[Crash()])
    except Crashed:
        pass
    resumed = run(root + "/crashed", 2)
    ds = Batches(16)
    arrays = run(root + "/arrays", 1, data=((ds.x, ds.y), (ds.x[:8], ds.y[:8])), batch_size=4)
    out.update(full=full.weights_sha256, resumed=resumed.weights_sha256,
               resumed_from=resumed.resumed_from, epochs=list(resumed.history["epoch"]),
               arrays_epochs=list(arrays.history["epoch"]),
               tensorflow_imported=sys.modules.get("tensorflow") is not None)
    print("RESULT " + json.dumps(out))
""")


def test_fit_and_resume_on_jax_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    script = tmp_path / "jax_fit.py"
    script.write_text(_JAX_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND="jax", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert result["backend"] == "jax" and result["precision"] == "float32" and result["no_strategy"]
    assert not result["tensorflow_imported"]
    assert "resuming s from epoch 2" in proc.stdout
    assert result["resumed_from"] == 2 and result["epochs"] == [0, 1]
    assert result["resumed"] == result["full"]  # resumed run ends bit-identical to the full one
    assert f"stage s: weights sha256 {result['full']}" in proc.stdout
    assert result["arrays_epochs"] == [0]
    for name in ("full", "crashed", "arrays"):
        stage = tmp_path / name / "s"
        assert (stage / "best.keras").is_file() and (stage / "last.keras").is_file(), name
        assert not (stage / "backup").exists() and not (stage / "tensorboard").exists(), name
    assert json.loads((tmp_path / "full" / "s" / "done.json").read_text())["weights_sha256"] == result["full"]
