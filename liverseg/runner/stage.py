"""A paper's training stage: the model it builds, the samples it sees, how it trains; and
`training_stage`, which builds the loss and metrics of a stage from its `TrainConfig`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from liverseg.config import AugmentConfig, DataConfig, TrainConfig


@dataclass(frozen=True)
class Stage:
    """One training stage: the model it builds, the kinds of samples it sees, how it trains.

    `sources` are mixed sample by sample with `weights` (equal when empty) so that BatchNorm sees
    mixed batches; the batch size is the first source's. `loss` and `metrics` are factories
    called inside the distribution strategy's scope.
    """

    name: str
    build_model: Callable[[], Any]
    sources: tuple[DataConfig, ...]
    train: TrainConfig
    loss: Callable[[], Any]
    metrics: Callable[[], list]
    augment: AugmentConfig | None = None
    weights: tuple[float, ...] = ()
    # warm start: part of the model ("" = all of it, else a sub-model's name) -> the earlier stage
    # whose best checkpoint it starts from (a fine-tuning, or a network trained in an earlier stage)
    init_from: dict[str, str] = field(default_factory=dict)


def training_stage(name: str, build_model, train: TrainConfig, outputs, sources, *, loss=None, augment=None,
                   weights=(), init_from=None) -> Stage:
    """A `Stage` whose metrics are `train.metrics` scored on `outputs` and whose loss is `train.loss`, a
    name of `liverseg.nn.objectives`, unless `loss` (a factory) builds the paper's own."""
    from liverseg.nn.objectives import make_loss, make_metrics

    outputs = tuple(outputs)
    return Stage(name=name, build_model=build_model, sources=tuple(sources), train=train,
                 loss=loss or (lambda: make_loss(train.loss)), metrics=lambda: make_metrics(train.metrics, outputs),
                 augment=augment, weights=tuple(weights), init_from=dict(init_from or {}))


__all__ = ["Stage", "training_stage"]
