"""`train.optimizer`: the Keras optimizer of a stage."""
from __future__ import annotations

import keras

from liverseg.config import TrainConfig
from liverseg.errors import OptionError
from liverseg.train.schedules import make_learning_rate

OPTIMIZERS = ("adam", "sgd", "adagrad")


def make_optimizer(train: TrainConfig, steps_per_epoch: int | None) -> keras.optimizers.Optimizer:
    """Adam, SGD (with `train.momentum`) or Adagrad, with the learning rate or schedule of
    `liverseg.train.schedules.make_learning_rate` ("plateau" also needs `schedule_callbacks(train)`)."""
    lr = make_learning_rate(train, steps_per_epoch)
    name = train.optimizer.lower()
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(train.momentum))
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=lr)
    raise OptionError(f"train.optimizer: unknown optimizer {train.optimizer!r} (expected adam, sgd or adagrad)")


__all__ = ["OPTIMIZERS", "make_optimizer"]
