"""A run directory of a stub paper whose predictor needs no network: liver where HU > 0 (inside the x
half it keeps), tumour where HU > 100, so `liverseg predict` can be tested on any CT in seconds."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liverseg.registry import register
from liverseg.runner.spec import PaperSpec, Prediction, Stage

NAME = "stub_threshold"


@dataclass(frozen=True)
class StubConfig:
    profile: str = "paper"
    dataset: str = "lits"
    seed: int = 0
    data_dir: str = ""


class StubPredictor:
    def __call__(self, volume) -> Prediction:
        hu = volume.array
        probs = np.stack([(hu > 0).astype(np.float32), (hu > 100).astype(np.float32)], axis=-1)
        labels = np.zeros(hu.shape, np.uint8)
        labels[hu > 0] = 1
        labels[hu > 100] = 2
        return Prediction(labels, {}, probabilities=probs, channels=("liver", "tumour"))


SPEC = PaperSpec(
    name=NAME, title="threshold stub", config_class=StubConfig, get_config=lambda profile: StubConfig(profile),
    profiles=("paper", "cpu", "smoke"), datasets=("lits", "phantom"),
    stages=lambda cfg: [Stage("net", lambda: None, (), None, lambda: None, lambda: [])],
    split=lambda *a, **k: None, predictor=lambda run_dir, cfg, variant: StubPredictor(), variants=("main", "other"),
    paper_rows=(), our_rows=lambda *a: [], expected_path=Path("/nonexistent"))


def make_run(folder: Path, *, profile: str = "paper", dataset: str = "lits", finished: bool = True) -> Path:
    """A run directory of the stub paper (`finished`: its one stage has done.json)."""
    register(SPEC)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"profile": profile, "dataset": dataset, "seed": 0, "data_dir": ""}
    (folder / "config.json").write_text(json.dumps({"paper": NAME, "profile": profile, "config": cfg}))
    (folder / "net").mkdir(exist_ok=True)
    if finished:
        (folder / "net" / "done.json").write_text("{}")
    return folder
