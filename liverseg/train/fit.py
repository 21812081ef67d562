"""The training engine: one `fit()` for every paper and stage, on any Keras backend.

A paper's `reproduce.py` calls `fit()` once per stage. Each stage lives in `run_dir/<stage>/`:

    best.keras         best model on `train.monitor` / `train.monitor_mode` (atomic write)
    last.keras         model after the latest epoch, with optimizer state (atomic write)
    history.csv        one row per finished epoch, `epoch` column 0-based
    done.json          written when the stage has finished: final metrics, best value, weights_sha256
    model_summary.txt  `model.summary()` as text
    backup/            resume state (weights + optimizer + callback state), removed when done
    tensorboard/       TensorBoard event files (TensorFlow backend with the tensorboard package)

Re-running the same command after a crash or `kill -9` resumes from the last finished epoch and
prints `resuming <stage> from epoch N`, N being the 1-based number of the first epoch that runs
(the same number as Keras' "Epoch N/E" progress line that follows). A finished stage is not
trained again: `skipping <stage>: already done`. A stage that finishes prints
`stage <stage>: weights sha256 <hex>` (the same on every worker of a multi-worker run).

Backends: TensorFlow is imported only on the TensorFlow backend (`liverseg.train.devices`). The
training data is a `tf.data.Dataset` (TensorFlow backend), a `keras.utils.PyDataset` (any
backend) or an `(x, y)` tuple of arrays with `batch_size`.

Mixed precision: `fit()` sets the global dtype policy from `train.precision`
(`liverseg.train.precision`) before building the model and puts the previous policy back when it
returns. Distribution: `fit()` builds the model in the scope of `get_strategy()`, the one strategy
of the process (`liverseg.train.distribution`); in a multi-worker run call `get_strategy()` before
building any dataset and pass `run_dir=worker_run_dir(RUN)`.

The names below are re-exported here for the code that imports them from `liverseg.train.fit`.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable

import keras

from liverseg.config import TrainConfig
from liverseg.errors import OptionError
from liverseg.io.atomic import atomic_write_text
from liverseg.train.callbacks import stage_callbacks, tensorboard_available
from liverseg.train.distribution import (
    chief_run_dir, get_strategy, synchronize_batchnorm, is_chief, weights_sha256, worker_run_dir,
)
from liverseg.train.optimizers import make_optimizer
from liverseg.train.precision import PRECISIONS, resolve_precision
from liverseg.train.seeds import set_seed
from liverseg.train.stage import (
    StagePaths, StageResult, best_value, check_options, finish_stage, finished_stage, resume_state,
)


def _is_arrays(data) -> bool:
    return isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape")


def _cardinality(data, batch_size: int | None = None) -> int | None:
    """Batches in one pass over the training data, or None when unknown."""
    if _is_arrays(data):
        return math.ceil(len(data[0]) / (batch_size or 32))
    try:
        n = int(data.cardinality())
    except (AttributeError, TypeError):
        try:
            return len(data)
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


def _compiled_model(build_model, strategy, train: TrainConfig, loss, metrics, seed: int,
                    sched_steps: int | None) -> keras.Model:
    """A fresh session, seeds and dtype policy set, the model built and compiled in `strategy`."""
    keras.backend.clear_session()
    set_seed(seed)
    keras.mixed_precision.set_global_policy(resolve_precision(train.precision))
    with strategy.scope():
        model = build_model()
        synchronize_batchnorm(model)
        model.compile(optimizer=make_optimizer(train, sched_steps), loss=loss, metrics=list(metrics))
    return model


def _train_model(model, train_ds, val_ds, *, stage: str, train: TrainConfig, steps, val_steps,
                 batch_size, callbacks, verbose) -> None:
    """`model.fit` over the stage's epochs; a NaN/Inf loss is a one-line OptionError."""
    x, y = train_ds if _is_arrays(train_ds) else (train_ds, None)
    try:
        model.fit(x, y, batch_size=batch_size if y is not None else None, validation_data=val_ds,
                  epochs=int(train.epochs), steps_per_epoch=steps, validation_steps=val_steps,
                  callbacks=callbacks, verbose=_verbosity(verbose), shuffle=False)
    except RuntimeError as e:
        if "NaN or Inf loss" not in str(e):
            raise
        raise OptionError(f"stage {stage}: the loss became NaN or Inf ({e}); lower "
                          "train.learning_rate or use train.precision=float32") from None


def fit(build_model: Callable[[], keras.Model], train_ds, val_ds, *, stage: str, run_dir: Path,
        train: TrainConfig, loss, metrics: list, seed: int, steps_per_epoch: int | None = None,
        validation_steps: int | None = None, verbose: int | str = "auto",
        extra_callbacks=(), batch_size: int | None = None) -> StageResult:
    """Train one stage in `run_dir/<stage>/`, resuming or skipping as the folder says.

    `build_model()` returns an uncompiled functional model; it is called inside the distribution
    strategy's scope after the dtype policy and seeds are set. `steps_per_epoch` /
    `validation_steps` override `train.steps_per_epoch` / `train.validation_steps` (0 or None =
    one pass over the data). `batch_size` only applies to `(x, y)` array data. `extra_callbacks`
    run after the built-in ones and before the backup. Datasets should give the same batches in
    every epoch (or draw their randomness from the epoch) for a resumed run to match an
    uninterrupted one bit for bit. On a multi-worker's non-chief worker (`run_dir` made by
    `worker_run_dir`), the skip and resume decisions are read from the chief's run directory.
    """
    paths = StagePaths.of(run_dir, stage)
    source = StagePaths.of(chief_run_dir(run_dir), stage)
    done = finished_stage(source)
    if done is not None:
        return done
    check_options(train, val_ds is not None)
    strategy = get_strategy()  # the process' one strategy; created here only if nobody did before
    paths.dir.mkdir(parents=True, exist_ok=True)
    state = resume_state(paths, source)
    if state and hasattr(train_ds, "epoch"):
        # a PyDataset whose batches depend on (seed, epoch): a resumed run continues the same sequence
        train_ds.epoch = int(state["epoch"])
    steps = steps_per_epoch or train.steps_per_epoch or None
    val_steps = validation_steps or train.validation_steps or None

    previous_policy = keras.mixed_precision.global_policy()
    try:
        model = _compiled_model(build_model, strategy, train, loss, metrics, seed,
                                steps or _cardinality(train_ds, batch_size))
        if not paths.summary.exists():
            atomic_write_text(paths.summary, _summary_text(model))
        callbacks, best_ckpt, backup = stage_callbacks(paths.dir, train, extra_callbacks,
                                                       restore_dir=source.backup)
        if state and state.get("stopped"):
            backup.restore(model)  # early stopping had ended the stage: only the marker is missing
        else:
            _train_model(model, train_ds, val_ds, stage=stage, train=train, steps=steps,
                         val_steps=val_steps, batch_size=batch_size, callbacks=callbacks,
                         verbose=verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    resumed_from = int(state["epoch"]) + 1 if state else None
    return finish_stage(paths, train, best_value(state, best_ckpt), weights_sha256(model),
                        resumed_from)


__all__ = [
    "fit", "set_seed", "resolve_precision", "get_strategy", "make_optimizer", "StageResult",
    "PRECISIONS", "tensorboard_available", "is_chief", "worker_run_dir",
]
