"""`train.schedule`: the learning rate of the optimizer, and the callbacks a schedule needs."""
from __future__ import annotations

import keras

from liverseg.config import TrainConfig
from liverseg.errors import OptionError


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


__all__ = ["make_learning_rate", "schedule_callbacks"]
