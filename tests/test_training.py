"""Tests of liverseg.train.fit / callbacks / schedules / optimizers: stage folder, seeds, resume after a
crash. `fit()` on JAX is tested in test_distribution.py, with two workers in test_multiworker.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from liverseg.train.callbacks import read_backup_state
from liverseg.train.schedules import make_learning_rate, schedule_callbacks
from liverseg.config import TrainConfig
from liverseg.errors import InputError, OptionError
from liverseg.io.checkpoints import load_model
from liverseg.train.distribution import weights_sha256
from liverseg.train.fit import fit, make_optimizer

REPO = Path(__file__).resolve().parents[1]


def _data(n=16, seed=0):
    x = np.random.default_rng(seed).random((n, 16, 16, 1), dtype=np.float32)
    return x, (x > 0.5).astype("float32")


def _ds(n=16):
    x, y = _data(n)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


def _build():
    inp = keras.Input((16, 16, 1), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    h = keras.layers.Dropout(0.2, name="drop")(h)
    h = keras.layers.Conv2D(1, 1, name="head")(h)
    out = keras.layers.Activation("sigmoid", dtype="float32", name="prob")(h)
    return keras.Model(inp, out, name="tiny")


def _train(**kw):
    return TrainConfig(**{**dict(epochs=2, learning_rate=1e-2, monitor="val_loss", monitor_mode="min",
                                 precision="float32"), **kw})


def _fit(run_dir, train, seed=1, val=8, stage="s", loss="binary_crossentropy", **kw):
    return fit(_build, _ds(), _ds(val) if val else None, stage=stage, run_dir=run_dir, train=train,
               loss=loss, metrics=kw.pop("metrics", []), seed=seed, verbose=0, **kw)


def _weights(path):
    return load_model(path).get_weights()


def _same(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(a, b))


class SimulatedCrash(Exception):
    pass


def CrashAtEpochEnd(n):
    """Raises at the end of epoch `n`: after the checkpoints and the history row, before the backup."""
    def crash(epoch, logs=None):
        if epoch == n:
            raise SimulatedCrash(f"crash at the end of epoch {epoch}")
    return keras.callbacks.LambdaCallback(on_epoch_end=crash)


def test_make_optimizer_kinds_and_errors():
    opt = make_optimizer(_train(optimizer="sgd", momentum=0.9, learning_rate=0.05), 10)
    assert isinstance(opt, keras.optimizers.SGD) and opt.momentum == pytest.approx(0.9)
    assert float(opt.learning_rate) == pytest.approx(0.05)
    assert isinstance(make_optimizer(_train(optimizer="adam"), 10), keras.optimizers.Adam)
    assert isinstance(make_optimizer(_train(optimizer="adagrad"), 10), keras.optimizers.Adagrad)
    with pytest.raises(OptionError, match="optimizer"):
        make_optimizer(_train(optimizer="rmsprop"), 10)
    with pytest.raises(OptionError, match="schedule"):
        make_optimizer(_train(schedule="cosine"), 10)
    with pytest.raises(OptionError, match="step_epochs"):
        make_optimizer(_train(schedule="step", step_epochs=0), 10)
    with pytest.raises(OptionError, match="steps per epoch"):
        make_optimizer(_train(schedule="linear", epochs=4), None)


def test_step_schedule_matches_formula():
    train = _train(schedule="step", learning_rate=0.1, step_epochs=2, step_factor=0.5, epochs=10)
    sched = make_learning_rate(train, 5)  # 5 steps per epoch
    for step in (0, 4, 9, 10, 19, 20, 37):
        assert float(sched(step)) == pytest.approx(0.1 * 0.5 ** ((step // 5) // 2), rel=1e-6), step


def test_linear_schedule_end_points():
    train = _train(schedule="linear", learning_rate=1e-3, final_learning_rate=1e-5, epochs=4)
    sched = make_learning_rate(train, 10)  # 40 steps in all
    assert float(sched(0)) == pytest.approx(1e-3, rel=1e-6)
    assert float(sched(20)) == pytest.approx((1e-3 + 1e-5) / 2, rel=1e-6)
    assert float(sched(40)) == pytest.approx(1e-5, rel=1e-5)


def test_constant_then_linear_holds_then_decays_and_round_trips():
    # Bi et al. 2.5 scaled: 6 epochs at 0.0016, then 4 epochs linear from 0.0008 to 0; 10 steps per epoch
    train = _train(schedule="constant_then_linear", learning_rate=0.0016, step_epochs=6, step_factor=0.5,
                   final_learning_rate=0.0, epochs=10)
    sched = make_learning_rate(train, 10)
    for step, want in ((0, 0.0016), (59, 0.0016), (60, 0.0008), (80, 0.0004), (100, 0.0), (130, 0.0)):
        assert float(sched(step)) == pytest.approx(want, abs=1e-9), step
    opt = make_optimizer(train, 10)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert float(again.learning_rate) == pytest.approx(0.0016) and float(again._learning_rate(70)) == pytest.approx(0.0006)
    with pytest.raises(OptionError, match="step_epochs < train.epochs"):
        make_learning_rate(_train(schedule="constant_then_linear", step_epochs=10, epochs=10), 10)


def test_plateau_schedule_is_a_callback():
    assert schedule_callbacks(_train(schedule="constant")) == []
    (cb,) = schedule_callbacks(_train(schedule="plateau", step_factor=0.2, plateau_patience=3))
    assert isinstance(cb, keras.callbacks.ReduceLROnPlateau)
    assert cb.factor == pytest.approx(0.2) and cb.patience == 3 and cb.monitor == "val_loss"
    assert make_learning_rate(_train(schedule="plateau", learning_rate=0.3), None) == pytest.approx(0.3)


def test_fit_writes_stage_folder_then_skips(tmp_path, capsys):
    result = _fit(tmp_path, _train(epochs=3))
    stage = tmp_path / "s"
    for name in ("best.keras", "last.keras", "history.csv", "done.json", "model_summary.txt"):
        assert (stage / name).is_file(), name
    assert not (stage / "backup").exists() and not list(stage.glob(".*tmp*"))
    assert "conv" in (stage / "model_summary.txt").read_text()
    assert not result.skipped and result.resumed_from is None
    assert list(result.history["epoch"]) == [0, 1, 2]
    done = json.loads((stage / "done.json").read_text())
    assert done["best"] == pytest.approx(result.history["val_loss"].min())
    assert done["final"]["epoch"] == 2
    assert done["weights_sha256"] == result.weights_sha256 == weights_sha256(load_model(result.last_path))
    assert f"stage s: weights sha256 {result.weights_sha256}\n" in capsys.readouterr().out

    # best.keras holds the weights of the epoch with the lowest val_loss: evaluate it independently.
    x, y = _data(8)
    p = np.clip(load_model(stage / "best.keras").predict(x, verbose=0), 1e-7, 1 - 1e-7)
    bce = float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    assert bce == pytest.approx(done["best"], rel=1e-4)

    capsys.readouterr()
    again = _fit(tmp_path, _train(epochs=3))
    assert "skipping s: already done" in capsys.readouterr().out
    assert again.skipped and list(again.history["epoch"]) == [0, 1, 2]
    assert again.weights_sha256 == result.weights_sha256


def test_same_seed_same_weights_different_seed_differs(tmp_path):
    a = _fit(tmp_path / "a", _train(epochs=1), seed=3)
    b = _fit(tmp_path / "b", _train(epochs=1), seed=3)
    c = _fit(tmp_path / "c", _train(epochs=1), seed=4)
    wa, wb, wc = _weights(a.last_path), _weights(b.last_path), _weights(c.last_path)
    assert _same(wa, wb) and not _same(wa, wc)


def test_resume_after_crash_matches_uninterrupted_run(tmp_path, capsys):
    # Monitor the training loss in "max" mode: the best epoch is an early one, so a best value
    # forgotten on resume would let a later epoch overwrite best.keras.
    train = _train(epochs=4, monitor="loss", monitor_mode="max")
    full = _fit(tmp_path / "full", train)
    assert int(full.history["loss"].idxmax()) < 2

    crashed = tmp_path / "crashed"
    with pytest.raises(SimulatedCrash):
        _fit(crashed, train, extra_callbacks=[CrashAtEpochEnd(1)])
    stage = crashed / "s"
    assert read_backup_state(stage / "backup")["epoch"] == 1
    assert not (stage / "done.json").exists()
    with open(stage / "history.csv", "a") as f:  # a torn row, as a kill during the write leaves
        f.write("2,0.69")
    rows = (stage / "history.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]

    capsys.readouterr()
    resumed = _fit(crashed, train)
    out = capsys.readouterr().out
    assert "resuming s from epoch 2" in out
    assert resumed.resumed_from == 2 and not resumed.skipped
    assert list(resumed.history["epoch"]) == [0, 1, 2, 3]
    lines = (stage / "history.csv").read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines] == ["epoch", "0", "1", "2", "3"]
    np.testing.assert_array_equal(resumed.history["loss"].to_numpy(), full.history["loss"].to_numpy())
    assert _same(_weights(resumed.last_path), _weights(full.last_path))
    assert _same(_weights(resumed.best_path), _weights(full.best_path))
    done_full, done_res = (json.loads((d / "s/done.json").read_text()) for d in (tmp_path / "full", crashed))
    assert done_res["best"] == done_full["best"] and resumed.weights_sha256 == full.weights_sha256
    assert not (stage / "backup").exists()


def test_backup_ignores_torn_newer_weights(tmp_path):
    train = _train(epochs=3)
    with pytest.raises(SimulatedCrash):
        _fit(tmp_path, train, extra_callbacks=[CrashAtEpochEnd(1)])
    backup = tmp_path / "s" / "backup"
    state = read_backup_state(backup)
    assert state["epoch"] == 1 and state["weights"] == "epoch-1.weights.h5"
    (backup / "epoch-2.weights.h5").write_bytes(b"\x89HDF torn")  # killed while writing the next one
    result = _fit(tmp_path, train)
    assert result.resumed_from == 2 and list(result.history["epoch"]) == [0, 1, 2]
    assert not backup.exists()
    backup.mkdir()
    (backup / "state.json").write_text(json.dumps({"epoch": 5, "weights": "gone.weights.h5"}))
    assert read_backup_state(backup) is None


def test_nan_loss_is_an_option_error_and_not_done(tmp_path):
    def nan_loss(y_true, y_pred):
        return keras.ops.mean(y_pred) * float("nan")

    with pytest.raises(OptionError, match="NaN"):
        _fit(tmp_path, _train(), loss=nan_loss)
    assert not (tmp_path / "s" / "done.json").exists()


def test_missing_monitor_and_validation_errors(tmp_path):
    with pytest.raises(OptionError, match="val_dice"):
        _fit(tmp_path / "a", _train(monitor="val_dice", monitor_mode="max"))
    with pytest.raises(OptionError, match="validation"):
        _fit(tmp_path / "b", _train(), val=None)
    with pytest.raises(OptionError, match="folder name"):
        _fit(tmp_path, _train(), stage="../x")
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "nothing.keras")


_KILL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.path.insert(0, {tests!r})
    import keras
    import test_training as t
    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(float(sys.argv[2]))
    t._fit(sys.argv[1], t._train(epochs=4), extra_callbacks=[Slow()])
    print("finished", flush=True)
""")


@pytest.mark.slow
def test_kill_9_then_rerun_resumes(tmp_path):
    script = tmp_path / "run_fit.py"
    script.write_text(_KILL_SCRIPT.format(tests=str(REPO / "tests")))
    run_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir), "0.5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    state_file = run_dir / "s" / "backup" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if state_file.exists() and json.loads(state_file.read_text())["epoch"] >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = read_backup_state(run_dir / "s" / "backup")["epoch"]
    assert 2 <= finished < 4

    out = subprocess.run([sys.executable, str(script), str(run_dir), "0"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"resuming s from epoch {finished + 1}" in out.stdout
    lines = (run_dir / "s" / "history.csv").read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines] == ["epoch", "0", "1", "2", "3"]

    full = _fit(tmp_path / "full", _train(epochs=4))
    assert _same(_weights(run_dir / "s" / "last.keras"), _weights(full.last_path))


def test_early_stopping_ends_the_stage(tmp_path):
    # The training loss falls every epoch, so in "max" mode nothing improves after epoch 0 and
    # patience 1 stops training at the end of epoch 1.
    result = _fit(tmp_path, _train(epochs=6, monitor="loss", monitor_mode="max", early_stopping_patience=1))
    assert list(result.history["epoch"]) == [0, 1]
    assert result.history["loss"].iloc[1] < result.history["loss"].iloc[0]
    assert json.loads((tmp_path / "s" / "done.json").read_text())["epochs"] == 2


def test_crash_after_early_stop_before_done_marker(tmp_path, monkeypatch, capsys):
    """Early stopping ended training and the backup says so, but the process died before done.json:
    the rerun trains nothing, restores the stopped weights and writes the marker."""
    train = _train(epochs=6, monitor="loss", monitor_mode="max", early_stopping_patience=1)
    with monkeypatch.context() as m, pytest.raises(SimulatedCrash):
        m.setattr("liverseg.train.fit.finish_stage", lambda *a: CrashAtEpochEnd(0).on_epoch_end(0))
        _fit(tmp_path, train)
    assert read_backup_state(tmp_path / "s" / "backup")["stopped"] and capsys.readouterr()
    result = _fit(tmp_path, train)
    assert result.resumed_from == 3 and list(result.history["epoch"]) == [0, 1]
    assert "Epoch" not in capsys.readouterr().out
    assert result.weights_sha256 == weights_sha256(load_model(result.last_path))
    done = json.loads((tmp_path / "s" / "done.json").read_text())
    assert done["best"] == pytest.approx(result.history["loss"].iloc[0]) and done["epochs"] == 2

