"""A run directory of a stub paper whose predictor needs no network: liver where HU > 0 (inside the x
half it keeps), tumour where HU > 100, so `liverseg predict` can be tested on any CT in seconds."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liverseg.config import RunConfig
from liverseg.registry import register
from liverseg.runner.paper import Paper
from liverseg.infer.prediction import Prediction
from liverseg.runner.stage import Stage

NAME = "stub_threshold"


@dataclass(frozen=True)
class StubConfig(RunConfig):
    dataset: str = "lits"


class StubPredictor:
    def __call__(self, volume) -> Prediction:
        hu = volume.array
        probs = np.stack([(hu > 0).astype(np.float32), (hu > 100).astype(np.float32)], axis=-1)
        labels = np.zeros(hu.shape, np.uint8)
        labels[hu > 0] = 1
        labels[hu > 100] = 2
        return Prediction(labels, {}, probabilities=probs, channels=("liver", "tumour"))


class Stub(Paper):
    name, title, config_class = NAME, "threshold stub", StubConfig
    datasets, variants = ("lits", "phantom"), ("main", "other")

    def get_config(self, profile):
        return StubConfig(profile)

    def stages(self, ctx):
        return [Stage("net", lambda: None, (), None, lambda: None, lambda: [])]

    def predictor(self, ctx, variant):
        return StubPredictor()


SPEC = Stub()


def make_run(folder: Path, *, profile: str = "paper", dataset: str = "lits", finished: bool = True) -> Path:
    """A run directory of the stub paper (`finished`: its one stage has done.json)."""
    register(SPEC)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"profile": profile, "dataset": dataset, "seed": 0, "data_dir": ""}  # the rest: StubConfig's defaults
    (folder / "config.json").write_text(json.dumps({"paper": NAME, "profile": profile, "config": cfg}))
    (folder / "net").mkdir(exist_ok=True)
    if finished:
        (folder / "net" / "done.json").write_text("{}")
    return folder
