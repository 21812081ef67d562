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
    - "poly": PolynomialDecay with power 0.9 from `learning_rate` to 0 over `epochs * steps_per_epoch`
      optimizer steps, `lr * (1 - epoch / epochs) ** 0.9` (nnU-Net's schedule, Isensee et al. 2021).
    - "constant_then_linear": `learning_rate` for the first `step_epochs` epochs, then linear from
      `learning_rate * step_factor` to `final_learning_rate` over the remaining epochs (Bi et al. 2.5:
      0.0016 for 60 epochs, then 40 epochs from 0.0008), a `ConstantThenLinear`.
    """
    lr = float(train.learning_rate)
    if train.schedule in ("constant", "plateau"):
        return lr
    if train.schedule not in ("step", "linear", "poly", "constant_then_linear"):
        raise OptionError(f"train.schedule: unknown schedule {train.schedule!r} "
                          "(expected constant, step, linear, poly, constant_then_linear or plateau)")
    if not steps_per_epoch or steps_per_epoch <= 0:
        raise OptionError(f"train.schedule={train.schedule!r} needs the number of steps per epoch; "
                          "set train.steps_per_epoch (the training data has no known length)")
    if train.schedule == "step":
        if train.step_epochs <= 0:
            raise OptionError("train.schedule='step' needs train.step_epochs > 0")
        return keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=int(train.step_epochs * steps_per_epoch),
            decay_rate=float(train.step_factor), staircase=True)
    if train.schedule == "constant_then_linear":
        if not 0 < train.step_epochs < train.epochs:
            raise OptionError(f"train.schedule='constant_then_linear' needs 0 < train.step_epochs < train.epochs "
                              f"(got step_epochs={train.step_epochs}, epochs={train.epochs})")
        return ConstantThenLinear(lr, int(train.step_epochs * steps_per_epoch), lr * float(train.step_factor),
                                  int((train.epochs - train.step_epochs) * steps_per_epoch),
                                  float(train.final_learning_rate))
    poly = train.schedule == "poly"
    return keras.optimizers.schedules.PolynomialDecay(
        lr, decay_steps=int(max(train.epochs, 1) * steps_per_epoch),
        end_learning_rate=0.0 if poly else float(train.final_learning_rate), power=0.9 if poly else 1.0)


@keras.saving.register_keras_serializable(package="liverseg")
class ConstantThenLinear(keras.optimizers.schedules.LearningRateSchedule):
    """`constant` for `hold_steps` optimizer steps, then linear from `start` to `end` over `decay_steps`
    (then `end`). Counts optimizer steps, so a resume that restores the iteration count continues it."""

    def __init__(self, constant: float, hold_steps: int, start: float, decay_steps: int, end: float = 0.0):
        self.constant, self.hold_steps, self.start = float(constant), int(hold_steps), float(start)
        self.decay_steps, self.end = max(int(decay_steps), 1), float(end)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        done = keras.ops.clip((step - self.hold_steps) / self.decay_steps, 0.0, 1.0)
        linear = self.start + (self.end - self.start) * done
        return keras.ops.where(step < self.hold_steps, self.constant, linear)

    def get_config(self) -> dict:
        return {"constant": self.constant, "hold_steps": self.hold_steps, "start": self.start,
                "decay_steps": self.decay_steps, "end": self.end}


def schedule_callbacks(train: TrainConfig) -> list:
    """Callbacks that implement a schedule: ReduceLROnPlateau on `train.monitor` for "plateau"."""
    if train.schedule != "plateau":
        return []
    if not 0.0 < train.step_factor < 1.0:
        raise OptionError(f"train.step_factor={train.step_factor}: the plateau factor must be in (0, 1)")
    return [keras.callbacks.ReduceLROnPlateau(
        monitor=train.monitor, mode=train.monitor_mode, factor=float(train.step_factor),
        patience=int(train.plateau_patience), verbose=1)]


__all__ = ["make_learning_rate", "schedule_callbacks", "ConstantThenLinear"]
