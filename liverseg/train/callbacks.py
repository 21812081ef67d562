"""Training callbacks: crash-safe checkpoints, a resumable backup, and learning-rate schedules.

- `AtomicModelCheckpoint`: `keras.callbacks.ModelCheckpoint` whose `.keras` file is written to a
  temporary name in the same folder (`.best.tmp.keras`) and then `os.replace`d over the target.
- `AtomicBackupAndRestore`: `keras.callbacks.BackupAndRestore` with a crash-consistent layout
  (see its docstring) that also carries the state of the monitoring callbacks (best value of the
  checkpoint, early-stopping and plateau counters) across a resume.
- `make_learning_rate` / `schedule_callbacks`: the `TrainConfig.schedule` options.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import keras
import numpy as np

from liverseg.config import TrainConfig
from liverseg.errors import OptionError
from liverseg.io.atomic import atomic_replace, atomic_write_json, fsync_file, read_json

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

    An epoch whose loss is NaN or Inf is not backed up.
    """

    def __init__(self, backup_dir, stateful: dict | None = None):
        super().__init__(backup_dir=str(backup_dir), save_freq="epoch", delete_checkpoint=False)
        self.stateful = dict(stateful or {})
        self.restored_epoch: int | None = None

    def _load_model(self):
        state = read_backup_state(self.backup_dir)
        if state is None:
            return
        weights = os.path.join(self.backup_dir, state["weights"])
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


def read_backup_state(backup_dir) -> dict | None:
    """The backup's `state.json` when it and the weights it names exist, else None."""
    path = Path(backup_dir) / BACKUP_STATE
    if not path.exists():
        return None
    state = read_json(path)
    if not (Path(backup_dir) / state.get("weights", "")).is_file():
        return None
    return state


def make_learning_rate(train: TrainConfig, steps_per_epoch: int | None):
    """The optimizer's learning rate for `train.schedule`.

    - "constant", "plateau": `train.learning_rate` (a plain float; "plateau" adds a
      ReduceLROnPlateau callback, see `schedule_callbacks`).
    - "step": `learning_rate * step_factor ** (epoch // step_epochs)`, as an ExponentialDecay with
      `staircase=True` and `decay_steps = step_epochs * steps_per_epoch` (counts optimizer steps,
      so it continues correctly after a resume that restores the iteration count).
    - "linear": PolynomialDecay (power 1) from `learning_rate` to `final_learning_rate` over
      `epochs * steps_per_epoch` optimizer steps.
    """
    lr = float(train.learning_rate)
    if train.schedule in ("constant", "plateau"):
        return lr
    if train.schedule not in ("step", "linear"):
        raise OptionError(f"train.schedule: unknown schedule {train.schedule!r} "
                          "(expected constant, step, linear or plateau)")
    if not steps_per_epoch or steps_per_epoch <= 0:
        raise OptionError(f"train.schedule={train.schedule!r} needs the number of steps per epoch; "
                          "set train.steps_per_epoch (the training data has no known length)")
    if train.schedule == "step":
        if train.step_epochs <= 0:
            raise OptionError("train.schedule='step' needs train.step_epochs > 0")
        return keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=int(train.step_epochs * steps_per_epoch),
            decay_rate=float(train.step_factor), staircase=True)
    return keras.optimizers.schedules.PolynomialDecay(
        lr, decay_steps=int(max(train.epochs, 1) * steps_per_epoch),
        end_learning_rate=float(train.final_learning_rate), power=1.0)


def schedule_callbacks(train: TrainConfig) -> list:
    """Callbacks that implement a schedule: ReduceLROnPlateau on `train.monitor` for "plateau"."""
    if train.schedule != "plateau":
        return []
    if not 0.0 < train.step_factor < 1.0:
        raise OptionError(f"train.step_factor={train.step_factor}: the plateau factor must be in (0, 1)")
    return [keras.callbacks.ReduceLROnPlateau(
        monitor=train.monitor, mode=train.monitor_mode, factor=float(train.step_factor),
        patience=int(train.plateau_patience), verbose=1)]


__all__ = [
    "AtomicModelCheckpoint", "AtomicBackupAndRestore", "read_backup_state",
    "make_learning_rate", "schedule_callbacks", "BACKUP_STATE",
]
