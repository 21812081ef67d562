"""What a paper package tells the runner about itself: `PaperSpec` and its training `Stage`s.

A paper package fills one `PaperSpec` (its `spec.py`) and registers it in the `liverseg.papers`
entry-point group; `liverseg.runner.run.reproduce(spec, argv)` does everything else. The spec
holds functions of the resolved config so that profiles change sizes, never the code path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

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


@dataclass
class Prediction:
    """A whole-volume result: canonical (X, Y, Z) labels 0/1/2 and what the method wants kept per case
    (e.g. crop boxes), JSON-able; the runner merges `record` into `predictions/<variant>/records.json`."""

    labels: np.ndarray
    record: dict = field(default_factory=dict)
    # the per-voxel probabilities behind `labels`, canonical (X, Y, Z, K) float32, named by `channels`
    # (e.g. ("liver", "tumour")); an array, or a function that computes them when asked
    # (`liverseg predict --save-probabilities`); None when the predictor keeps none
    probabilities: Any = None
    channels: tuple[str, ...] = ()

    def probability_maps(self) -> np.ndarray | None:
        """`probabilities` as an (X, Y, Z, K) array (computed now when it is a function), or None."""
        probs = self.probabilities() if callable(self.probabilities) else self.probabilities
        return None if probs is None else np.asarray(probs, dtype=np.float32)


class Predictor(Protocol):
    def __call__(self, volume) -> Prediction: ...


@dataclass(frozen=True)
class PaperSpec:
    """A paper as the runner sees it.

    split(table, cfg, seed) -> {"train", "val", "test": case ids, "note": str, ...} or None when the
    data hold too few patients for a patient split (the runner then holds out slice blocks).
    predictor(run_dir, cfg, variant) -> a callable Volume -> Prediction.
    our_rows(cfg, summary, split) -> rows of the report table beside `paper_rows` (and ablations).
    """

    name: str
    title: str
    config_class: type
    get_config: Callable[[str], Any]
    profiles: tuple[str, ...]
    datasets: tuple[str, ...]
    stages: Callable[[Any], Sequence[Stage]]
    split: Callable[..., dict | None]
    predictor: Callable[[Path, Any, str], Predictor]
    variants: tuple[str, ...]
    paper_rows: Sequence[dict]
    our_rows: Callable[[Any, dict, dict], list[dict]]
    expected_path: Path
    notes: Callable[[Any, dict], list[str]] = lambda cfg, split: []
    # paper-specific steps: `calibrate(cache, cfg, split, run_dir)` after training and before
    # inference (e.g. thresholds chosen on validation slices, read by the predictor);
    # `extra_evaluation(cache, cfg, split, run_dir) -> (summary, images)` after the volume
    # evaluation (e.g. metrics on 2D test slices): its summary is `summary["extra"]` for `our_rows`
    calibrate: Callable[..., None] | None = None
    extra_evaluation: Callable[..., tuple[dict, list]] | None = None
    overlay_column: str = "tumour_dice"
    # variant_stages(cfg, variant) -> the stages whose checkpoints the variant's predictor loads (the
    # runner adds the stages they warm-start from); None: every stage. `liverseg compare` trains only
    # the default variant's stages.
    variant_stages: Callable[[Any, str], tuple[str, ...]] | None = None
    # the paper's own headline numbers for its method (the default variant), under our metric keys
    # where the measure is the same: {"data": where they were measured, "<key>": value, ...}
    claimed: dict = field(default_factory=dict)
    # what the method segments: ("liver",) for a liver-only paper (its tumour scores are not shown)
    structures: tuple[str, ...] = ("liver", "tumour")
    expected_keys: tuple[str, ...] = ("liver_dice_per_case", "liver_dice_global",
                                      "tumour_dice_per_case", "tumour_dice_global")

    @property
    def default_variant(self) -> str:
        return self.variants[0]


__all__ = ["Stage", "Prediction", "Predictor", "PaperSpec"]
