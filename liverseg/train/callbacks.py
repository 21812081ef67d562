"""Training callbacks: crash-safe checkpoints, a resumable backup, and learning-rate schedules.

- `AtomicModelCheckpoint`: `keras.callbacks.ModelCheckpoint` whose `.keras` file is written to a
  temporary name in the same folder (`.best.tmp.keras`) and then `os.replace`d over the target.
- `AtomicBackupAndRestore`: `keras.callbacks.BackupAndRestore` with a crash-consistent layout
  (see its docstring) that also carries the state of the monitoring callbacks (best value of the
  checkpoint, early-stopping and plateau counters) across a resume.
- `stage_callbacks`: the callbacks of one stage, in the order they must run.

`make_learning_rate` / `schedule_callbacks` live in `liverseg.train.schedules` (re-exported here).
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import keras
import numpy as np

from liverseg.config import TrainConfig
from liverseg.errors import OptionError
from liverseg.io.atomic import atomic_replace, atomic_write_json, fsync_file, read_json
from liverseg.io.run_layout import StagePaths
from liverseg.train.devices import backend
from liverseg.train.distribution import portable_batchnorm
from liverseg.train.monitors import monitor_callbacks
from liverseg.train.schedules import make_learning_rate, schedule_callbacks

BACKUP_STATE = "state.json"
_STATE_ATTRS = ("best", "wait", "best_epoch", "stopped_epoch", "cooldown_counter")


def _seed_states(model) -> list:
    """State variables of the layers' SeedGenerators (dropout masks etc.), in a fixed order.
    `Model.save_weights` leaves them out, so without them a resumed run draws other masks."""
    out = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        out.extend(sg.state for sg in getattr(layer, "_seed_generators", ()))
    return out


def _scalar(value):
    if value is None:
        return None
    value = np.asarray(keras.ops.convert_to_numpy(value)).item()
    return int(value) if isinstance(value, (int, np.integer)) else float(value)


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint (full `.keras` model, once per epoch) written atomically.

    The model is saved to `.<name>.tmp.keras` beside the target, fsync'ed and renamed over it.
    With `save_best_only`, a monitor missing from the epoch's logs is an OptionError listing the
    logged names (the stock callback would silently save every epoch instead).
    """

    def __init__(self, filepath, **kwargs):
        if kwargs.get("save_weights_only"):
            raise ValueError("AtomicModelCheckpoint saves whole models only")
        super().__init__(filepath, **kwargs)

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        if self.save_best_only and self.monitor not in logs:
            raise OptionError(
                f"checkpoint monitor {self.monitor!r} is not among the logged values "
                f"({', '.join(sorted(logs)) or 'none'}); set train.monitor to one of them")
        path = Path(self._get_file_path(epoch, batch, logs))
        if not self._should_save_model(epoch, batch, logs, str(path)):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        with portable_batchnorm(self.model):
            self.model.save(tmp, overwrite=True)
        atomic_replace(tmp, path)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup survives a crash or `kill -9` at any instant.

    Layout of `backup_dir`: `epoch-<N>.weights.h5` (model weights *and* optimizer variables:
    Keras 3 `Model.save_weights` stores the optimizer state, and the stock `_load_model` builds the
    optimizer before loading, so moments, iteration count and learning rate are restored too) and
    `state.json` = `{"epoch": N, "weights": "epoch-<N>.weights.h5", "stopped": bool,
    "callbacks": {...}, "rng": [...]}`, N being the number of finished epochs. The weights file gets a new name
    each epoch and is fsync'ed before `state.json` is atomically replaced to point at it, so the
    pair is always consistent; older weight files are removed afterwards.

    `stateful` maps a name to a callback (ModelCheckpoint, EarlyStopping, ReduceLROnPlateau) whose
    `best`, `wait`, `best_epoch`, `stopped_epoch`, `cooldown_counter` are saved each epoch and put
    back on restore. Place this callback *last* in the list: its `on_train_begin` then runs after
    theirs (which reset those values), and its `on_epoch_end` after every other callback has
    finished the epoch (so "epoch N finished" means its checkpoints and history row exist).

    `rng` holds the states of the layers' SeedGenerators (dropout), which the weights file lacks,
    so a resumed run draws the same masks as an uninterrupted one. Random draws from Keras'
    global SeedGenerator (`keras.random.*` with `seed=None` outside a layer) are not carried.

    An epoch whose loss is NaN or Inf is not backed up. `restore_dir` (default `backup_dir`) is
    where a resume reads from: a multi-worker's non-chief worker restores the chief's backup and
    writes its own.
    """

    def __init__(self, backup_dir, stateful: dict | None = None, restore_dir=None):
        super().__init__(backup_dir=str(backup_dir), save_freq="epoch", delete_checkpoint=False)
        self.stateful = dict(stateful or {})
        self.restore_dir = str(restore_dir or backup_dir)
        self.restored_epoch: int | None = None

    def restore(self, model) -> int | None:
        """Put the backed-up weights, optimizer and callback state into `model` outside `fit()`
        (a stage that early stopping had already ended); the number of finished epochs or None."""
        self.set_model(model)
        self._load_model()
        return self.restored_epoch

    def _load_model(self):
        state = read_backup_state(self.restore_dir)
        if state is None:
            return
        weights = os.path.join(self.restore_dir, state["weights"])
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        rng = state.get("rng")
        seeds = _seed_states(self.model)
        if rng is not None and len(rng) == len(seeds):
            for var, value in zip(seeds, rng):
                var.assign(np.asarray(value, dtype=var.dtype))
        for name, values in state.get("callbacks", {}).items():
            cb = self.stateful.get(name)
            if cb is None:
                continue
            for attr, value in values.items():
                setattr(cb, attr, value)
        self.model._initial_epoch = int(state["epoch"])
        self.restored_epoch = int(state["epoch"])

    def on_train_begin(self, logs=None):
        self._load_model()

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            return
        self._current_epoch = epoch + 1
        self._save_model()

    def _save_model(self):
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch}.weights.h5"
        path = backup / name
        self.model.save_weights(str(path), overwrite=True)
        fsync_file(path)
        callbacks = {
            key: {a: _scalar(getattr(cb, a)) for a in _STATE_ATTRS if hasattr(cb, a)}
            for key, cb in self.stateful.items()
        }
        atomic_write_json(backup / BACKUP_STATE, {
            "epoch": self._current_epoch, "weights": name,
            "stopped": bool(self.model.stop_training), "callbacks": callbacks,
            "rng": [np.asarray(keras.ops.convert_to_numpy(v)).tolist() for v in _seed_states(self.model)],
        })
        for old in backup.glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink()


def tensorboard_available() -> bool:
    """Whether TensorBoard logs can be written: the TensorFlow backend (Keras' TensorBoard callback
    writes through `tf.summary`, and TensorFlow is not imported on other backends) with the
    `tensorboard` package installed."""
    return backend() == "tensorflow" and importlib.util.find_spec("tensorboard") is not None


def stage_callbacks(stage_dir, train: TrainConfig, extra=(), restore_dir=None):
    """The callbacks of a stage in `stage_dir`, in running order: TerminateOnNaN, a "mean(...)"
    monitor's value (`liverseg.train.monitors`), best and last
    checkpoints, the CSV history, TensorBoard, schedule callbacks, early stopping, `extra`, and
    the backup last. Returns `(callbacks, best_checkpoint, backup)`."""
    paths = StagePaths(Path(stage_dir).name, Path(stage_dir))
    best = AtomicModelCheckpoint(paths.best, monitor=train.monitor,
                                 mode=train.monitor_mode, save_best_only=True)
    last = AtomicModelCheckpoint(paths.last, monitor=train.monitor,
                                 mode=train.monitor_mode, save_best_only=False)
    stateful = {"best_checkpoint": best}
    callbacks = [keras.callbacks.TerminateOnNaN(raise_error=True), *monitor_callbacks(train.monitor), best, last,
                 keras.callbacks.CSVLogger(str(paths.history), append=True)]
    if tensorboard_available():
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(paths.tensorboard)))
    for i, cb in enumerate(schedule_callbacks(train)):
        stateful[f"schedule_{i}"] = cb
        callbacks.append(cb)
    if train.early_stopping_patience > 0:
        stateful["early_stopping"] = keras.callbacks.EarlyStopping(
            monitor=train.monitor, mode=train.monitor_mode,
            patience=int(train.early_stopping_patience), verbose=1)
        callbacks.append(stateful["early_stopping"])
    callbacks.extend(extra)
    backup = AtomicBackupAndRestore(paths.backup, stateful=stateful, restore_dir=restore_dir)
    callbacks.append(backup)
    return callbacks, best, backup


def read_backup_state(backup_dir) -> dict | None:
    """The backup's `state.json` when it and the weights it names exist, else None."""
    path = Path(backup_dir) / BACKUP_STATE
    if not path.exists():
        return None
    state = read_json(path)
    if not (Path(backup_dir) / state.get("weights", "")).is_file():
        return None
    return state


__all__ = [
    "AtomicModelCheckpoint", "AtomicBackupAndRestore", "read_backup_state", "stage_callbacks",
    "tensorboard_available", "make_learning_rate", "schedule_callbacks", "BACKUP_STATE",
]
