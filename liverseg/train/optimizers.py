"""`train.optimizer`: the Keras optimizer of a stage."""
from __future__ import annotations

import keras
from keras import ops

from liverseg.config import TrainConfig
from liverseg.errors import OptionError
from liverseg.train.schedules import make_learning_rate

OPTIMIZERS = ("adam", "sgd", "sgd_nesterov", "adagrad")


@keras.saving.register_keras_serializable(package="liverseg")
class SGDWithL2(keras.optimizers.SGD):
    """SGD whose gradient carries L2 weight decay, g + l2 * w, before the momentum: the `wd` of MXNet
    (Bi et al.'s ademxapp recipe), Caffe and `torch.optim.SGD`. Keras's own `weight_decay` is
    decoupled (w -= lr * wd * w outside the momentum), which at momentum 0.9 shrinks the weights
    about ten times less for the same value. As MXNet's default, biases and BatchNorm betas are not
    decayed (kernels and BatchNorm gammas are)."""

    EXCLUDED = ("bias", "beta")

    def __init__(self, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.l2 = float(l2)

    def _decays(self, variable) -> bool:
        name = variable.name.split("/")[-1]
        return self.l2 > 0 and not any(word in name for word in self.EXCLUDED)

    def update_step(self, gradient, variable, learning_rate):
        if self._decays(variable):
            gradient = ops.add(ops.cast(gradient, variable.dtype), ops.multiply(ops.cast(self.l2, variable.dtype), variable))
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


def make_optimizer(train: TrainConfig, steps_per_epoch: int | None) -> keras.optimizers.Optimizer:
    """Adam, SGD (with `train.momentum`) or Adagrad, with the learning rate or schedule of
    `liverseg.train.schedules.make_learning_rate` ("plateau" also needs `schedule_callbacks(train)`).
    `train.weight_decay` > 0: L2 decay in SGD's gradient (`SGDWithL2`); SGD only."""
    lr = make_learning_rate(train, steps_per_epoch)
    name = train.optimizer.lower()
    if train.weight_decay < 0 or (train.weight_decay and name != "sgd"):
        raise OptionError(f"train.weight_decay={train.weight_decay}: must be >= 0, and is implemented for "
                          f"sgd only (train.optimizer={train.optimizer!r})")
    if name == "sgd" and train.weight_decay:
        return SGDWithL2(l2=train.weight_decay, learning_rate=lr, momentum=float(train.momentum))
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name in ("sgd", "sgd_nesterov"):
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(train.momentum), nesterov=name == "sgd_nesterov")
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=lr)
    raise OptionError(f"train.optimizer: unknown optimizer {train.optimizer!r} (expected adam, sgd, sgd_nesterov or adagrad)")


__all__ = ["OPTIMIZERS", "SGDWithL2", "make_optimizer"]
