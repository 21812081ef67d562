"""The training engine: one `fit()` for every paper and stage.

A paper's `reproduce.py` calls `fit()` once per stage. Each stage lives in `run_dir/<stage>/`:

    best.keras         best model on `train.monitor` / `train.monitor_mode` (atomic write)
    last.keras         model after the latest epoch, with optimizer state (atomic write)
    history.csv        one row per finished epoch, `epoch` column 0-based
    done.json          written when the stage has finished: final metrics and best value
    model_summary.txt  `model.summary()` as text
    backup/            resume state (weights + optimizer + callback state), removed when done
    tensorboard/       TensorBoard event files (when the tensorboard package is installed)

Re-running the same command after a crash or `kill -9` resumes from the last finished epoch and
prints `resuming <stage> from epoch N`, N being the 1-based number of the first epoch that runs
(the same number as Keras' "Epoch N/E" progress line that follows). A finished stage is not
trained again: `skipping <stage>: already done`.

Mixed precision: `fit()` sets the global dtype policy from `train.precision` before building
the model (and puts the previous policy back when it returns). Keras 3 `Model.compile` wraps the
optimizer in a `LossScaleOptimizer` by itself when the model's dtype policy is `mixed_float16`
(keras/src/trainers/trainer.py, `auto_scale_loss=True`), so no wrapping happens here; bfloat16
needs no loss scaling. Float32 outputs are the model builder's job: the final activation layer
of a model must be built with `dtype="float32"` so losses and metrics see float32 values.
"""
from __future__ import annotations

import importlib.util
import os
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from liverseg.train.callbacks import (
    AtomicBackupAndRestore, AtomicModelCheckpoint, make_learning_rate, read_backup_state,
    schedule_callbacks,
)
from liverseg.config import TrainConfig
from liverseg.errors import InputError, OptionError
from liverseg.io.atomic import atomic_write_json, atomic_write_text
from liverseg.io.atomic import read_json
from liverseg.train.history import clean_history, read_history

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _gpus() -> list:
    return tf.config.list_physical_devices("GPU")


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras' global SeedGenerator (`keras.utils.set_random_seed`).

    With `deterministic`, TensorFlow op determinism is switched on when no GPU is visible: two
    runs with the same seed on CPU then give bit-identical weights. It stays off on GPU, where
    some kernels (e.g. the gradients of resize and of scatter ops) have no deterministic
    implementation and would raise under op determinism; GPU runs are reproducible only up to
    floating-point reduction order. Op determinism is process-wide and cannot be switched off.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic and not _gpus():
        tf.config.experimental.enable_op_determinism()


def resolve_precision(name: str = "auto") -> str:
    """Dtype policy name for `train.precision`: "auto" is "mixed_float16" when a GPU is visible,
    else "float32"; "float32", "mixed_float16", "mixed_bfloat16" are passed through."""
    if name == "auto":
        return "mixed_float16" if _gpus() else "float32"
    if name not in PRECISIONS:
        raise OptionError(f"train.precision: unknown precision {name!r} "
                          f"(expected auto, {', '.join(PRECISIONS)})")
    return name


def get_strategy() -> tf.distribute.Strategy:
    """The distribution strategy for this process.

    - `TF_CONFIG` set in the environment: `MultiWorkerMirroredStrategy` (one process per machine;
      each process gets the same `TF_CONFIG` cluster spec with its own `task.index`, e.g.
      `TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
      "task": {"type": "worker", "index": 0}}'`; worker 0 is the chief that writes the run
      directory, and the strategy must be created before any other TensorFlow op runs).
    - more than one GPU visible: `MirroredStrategy` over all of them.
    - otherwise the default (single-device) strategy.

    The batch size of the datasets is the *global* batch, split across replicas by Keras.
    """
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(_gpus()) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def make_optimizer(train: TrainConfig, steps_per_epoch: int | None) -> keras.optimizers.Optimizer:
    """Adam, SGD (with `train.momentum`) or Adagrad, with the learning rate or schedule of
    `liverseg.train.callbacks.make_learning_rate` ("plateau" also needs `schedule_callbacks(train)`)."""
    lr = make_learning_rate(train, steps_per_epoch)
    name = train.optimizer.lower()
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(train.momentum))
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=lr)
    raise OptionError(f"train.optimizer: unknown optimizer {train.optimizer!r} (expected adam, sgd or adagrad)")


@dataclass
class StageResult:
    """What `fit()` leaves for the next stage: checkpoints, per-epoch history and how it ran.

    `resumed_from` is the 1-based number of the first epoch run after a resume (None when the
    stage started fresh or was skipped)."""

    stage: str
    best_path: Path
    last_path: Path
    history: pd.DataFrame
    resumed_from: int | None
    skipped: bool


def tensorboard_available() -> bool:
    """Whether the `tensorboard` package (needed by `tf.summary` writers) is installed; without it
    the stage trains without TensorBoard logs."""
    return importlib.util.find_spec("tensorboard") is not None


def _cardinality(ds) -> int | None:
    try:
        n = int(ds.cardinality())
    except (AttributeError, TypeError):
        try:
            return len(ds)
        except TypeError:
            return None
    return n if n > 0 else None


def _summary_text(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda text, line_break=True: lines.append(text), line_length=110)
    return "\n".join(lines) + "\n"


def _verbosity(verbose):
    """"auto": progress bars on a terminal, one line per epoch in a log file or CI."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


def _check_stage_name(stage: str) -> None:
    if not stage or stage in (".", "..") or "/" in stage or os.sep in stage:
        raise OptionError(f"stage {stage!r}: must be a plain folder name")


def fit(build_model: Callable[[], keras.Model], train_ds, val_ds, *, stage: str, run_dir: Path,
        train: TrainConfig, loss, metrics: list, seed: int, steps_per_epoch: int | None = None,
        validation_steps: int | None = None, verbose: int | str = "auto",
        extra_callbacks=()) -> StageResult:
    """Train one stage in `run_dir/<stage>/`, resuming or skipping as the folder says.

    `build_model()` returns an uncompiled functional model; it is called inside the distribution
    strategy's scope after the dtype policy and seeds are set. `steps_per_epoch` /
    `validation_steps` override `train.steps_per_epoch` / `train.validation_steps` (0 or None =
    one pass over the data). `extra_callbacks` run after the built-in ones and before the backup.
    Datasets should give the same batches in every epoch (or draw their randomness from the
    epoch) for a resumed run to match an uninterrupted one bit for bit.
    """
    _check_stage_name(stage)
    stage_dir = Path(run_dir) / stage
    best_path, last_path = stage_dir / "best.keras", stage_dir / "last.keras"
    history_path, done_path = stage_dir / "history.csv", stage_dir / "done.json"
    backup_dir = stage_dir / "backup"

    if done_path.exists() and best_path.exists():
        print(f"skipping {stage}: already done", flush=True)
        read_json(done_path)  # a damaged marker is reported, not silently trusted
        return StageResult(stage, best_path, last_path, read_history(history_path), None, True)

    if val_ds is None and train.monitor.startswith("val_"):
        raise OptionError(f"train.monitor={train.monitor!r} needs validation data")
    if train.monitor_mode not in ("min", "max"):
        raise OptionError(f"train.monitor_mode={train.monitor_mode!r}: expected min or max")
    stage_dir.mkdir(parents=True, exist_ok=True)

    steps = steps_per_epoch or train.steps_per_epoch or None
    val_steps = validation_steps or train.validation_steps or None
    sched_steps = steps or _cardinality(train_ds)

    state = read_backup_state(backup_dir)
    finished = int(state["epoch"]) if state else 0
    resumed_from = finished + 1 if state else None
    clean_history(history_path, finished)
    if state:
        print(f"resuming {stage} from epoch {resumed_from}", flush=True)

    previous_policy = keras.mixed_precision.global_policy()
    keras.backend.clear_session()
    set_seed(seed)
    keras.mixed_precision.set_global_policy(resolve_precision(train.precision))
    try:
        strategy = get_strategy()
        with strategy.scope():
            model = build_model()
            model.compile(optimizer=make_optimizer(train, sched_steps), loss=loss, metrics=list(metrics))
        if not (stage_dir / "model_summary.txt").exists():
            atomic_write_text(stage_dir / "model_summary.txt", _summary_text(model))

        best_ckpt = AtomicModelCheckpoint(best_path, monitor=train.monitor, mode=train.monitor_mode,
                                          save_best_only=True)
        last_ckpt = AtomicModelCheckpoint(last_path, monitor=train.monitor, mode=train.monitor_mode,
                                          save_best_only=False)
        stateful = {"best_checkpoint": best_ckpt}
        callbacks = [
            keras.callbacks.TerminateOnNaN(raise_error=True), best_ckpt, last_ckpt,
            keras.callbacks.CSVLogger(str(history_path), append=True),
        ]
        if tensorboard_available():
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(stage_dir / "tensorboard")))
        for i, cb in enumerate(schedule_callbacks(train)):
            stateful[f"schedule_{i}"] = cb
            callbacks.append(cb)
        if train.early_stopping_patience > 0:
            stateful["early_stopping"] = keras.callbacks.EarlyStopping(
                monitor=train.monitor, mode=train.monitor_mode,
                patience=int(train.early_stopping_patience), verbose=1)
            callbacks.append(stateful["early_stopping"])
        callbacks.extend(extra_callbacks)
        callbacks.append(AtomicBackupAndRestore(backup_dir, stateful=stateful))

        if not (state and state.get("stopped")):
            try:
                model.fit(train_ds, validation_data=val_ds, epochs=int(train.epochs),
                          steps_per_epoch=steps, validation_steps=val_steps,
                          callbacks=callbacks, verbose=_verbosity(verbose), shuffle=False)
            except RuntimeError as e:
                if "NaN or Inf loss" not in str(e):
                    raise
                raise OptionError(f"stage {stage}: the loss became NaN or Inf ({e}); lower "
                                  "train.learning_rate or use train.precision=float32") from None
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)

    clean_history(history_path, 1 << 30)
    history = read_history(history_path)
    final = history.iloc[-1].to_dict() if len(history) else {}
    if "epoch" in final:
        final["epoch"] = int(final["epoch"])
    best_value = best_ckpt.best
    if state and state.get("stopped"):
        best_value = state.get("callbacks", {}).get("best_checkpoint", {}).get("best")
    atomic_write_json(done_path, {
        "stage": stage, "epochs": len(history), "final": final,
        "monitor": train.monitor, "mode": train.monitor_mode,
        "best": None if best_value is None else float(best_value),
    })
    shutil.rmtree(backup_dir, ignore_errors=True)
    return StageResult(stage, best_path, last_path, history, resumed_from, False)


__all__ = [
    "set_seed", "resolve_precision", "get_strategy", "make_optimizer", "StageResult", "fit",
]
