"""Checkpoint monitors made of several logged scores: `train.monitor = "mean(val_liver_dice,val_tumour_dice)"`
chooses the checkpoint (and drives plateau / early stopping) on the mean of those epoch logs, e.g. a
liver-and-lesion score for a paper whose headline is the lesion (Bi et al.)."""
from __future__ import annotations

import re

import keras
import numpy as np

from liverseg.errors import OptionError

_MEAN = re.compile(r"^mean\((?P<names>[^()]+)\)$")


def mean_parts(monitor: str) -> tuple[str, ...] | None:
    """The logged names of a "mean(a,b,...)" monitor, or None for a plain monitor name."""
    match = _MEAN.match(monitor.replace(" ", ""))
    if not match:
        return None
    names = tuple(n for n in match["names"].split(",") if n)
    if len(names) < 2:
        raise OptionError(f"train.monitor={monitor!r}: mean(...) needs at least two logged names")
    return names


class MeanOfLogs(keras.callbacks.Callback):
    """Writes the mean of the logged values `names` into the epoch's logs under `key`, before the
    callbacks that read it (checkpoints, plateau, early stopping) run."""

    def __init__(self, key: str, names: tuple[str, ...]):
        super().__init__()
        self.key, self.names = key, tuple(names)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        missing = [n for n in self.names if n not in logs]
        if missing:
            raise OptionError(f"checkpoint monitor {self.key!r}: {', '.join(missing)} not among the logged "
                              f"values ({', '.join(sorted(logs)) or 'none'})")
        logs[self.key] = float(np.mean([float(logs[n]) for n in self.names]))


def monitor_callbacks(monitor: str) -> list:
    """[MeanOfLogs] for a "mean(...)" monitor, else []."""
    names = mean_parts(monitor)
    return [] if names is None else [MeanOfLogs(monitor, names)]


__all__ = ["mean_parts", "MeanOfLogs", "monitor_callbacks"]
