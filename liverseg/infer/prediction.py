"""What a whole-volume predictor returns: labels in the canonical layout, the probabilities behind them
(when kept) and a JSON-able record of the case (e.g. crop boxes)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


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


__all__ = ["Prediction", "Predictor"]
