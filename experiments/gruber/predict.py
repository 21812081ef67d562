"""Gruber's models on slices and on whole CT volumes (2.1, 2.3).

Variants of the whole-volume inference (used by the runner on the test volumes and by
`liverseg predict --run RUN_DIR [--variant V]` on any CT):
- "sequential" (default): A -> M -> B fine-tuned with `cfg.default_alpha`; labels 2 where
  M = T = 1, 1 where M = 1 and T = 0, else 0 (2.3);
- "onestep": the 3-class U-Net after its balanced fine-tuning (2.1, 2.4), arg max of the classes;
- "joint": A and B trained together on eq. 2.1.
"""
from __future__ import annotations


import numpy as np

from liverseg.data.preprocess import preprocess_slices
from liverseg.infer.postprocess import largest_component
from liverseg.infer.predict import predict_slices, resize_probs
from liverseg.infer.prediction import Prediction
from liverseg.io.atomic import read_json
from liverseg.io.run_layout import RunDir

from experiments.gruber.config import GruberConfig
from experiments.gruber.stages import tumour_stage

VARIANTS = ("sequential", "onestep", "joint")
THRESHOLDS = "thresholds"  # RunDir.calibration: the tumour threshold per chained stage (calibrate)


def variant_stage(cfg: GruberConfig, variant: str) -> str:
    """The training stage whose checkpoint a variant applies."""
    stages = {"sequential": tumour_stage(cfg.default_alpha), "onestep": "onestep_balanced", "joint": "joint"}
    return stages[variant]


def chain_labels(liver: np.ndarray, tumour: np.ndarray, liver_threshold: float, tumour_threshold: float) -> np.ndarray:
    """2.3: 2 where M = T = 1, 1 where M = 1 and T = 0, 0 elsewhere (uint8, same shape)."""
    mask = liver > liver_threshold
    labels = mask.astype(np.uint8)
    labels[mask & (tumour >= tumour_threshold)] = 2
    return labels


def onestep_labels(probs: np.ndarray) -> np.ndarray:
    """2.1: arg max over (tumour, liver, other) -> labels 2 / 1 / 0."""
    return np.array([2, 1, 0], np.uint8)[np.argmax(probs, axis=-1)]


class GruberPredictor:
    """The trained model of one stage, with its tumour threshold (one-step stages: arg max)."""

    def __init__(self, cfg: GruberConfig, model, stage: str, tumour_threshold: float = 0.5, batch_size: int = 8):
        self.cfg, self.model, self.stage = cfg, model, stage
        self.onestep = stage.startswith("onestep")
        self.tumour_threshold, self.batch_size = float(tumour_threshold), batch_size

    @classmethod
    def from_stage(cls, run_dir, cfg: GruberConfig, stage: str, threshold: float = 0.5) -> "GruberPredictor":
        """The best checkpoint of one training stage."""
        import liverseg.nn.masking  # noqa: F401  (registers the mask and window layers the checkpoints use)
        from liverseg.io.checkpoints import load_model

        return cls(cfg, load_model(RunDir(run_dir).checkpoint(stage)), stage, threshold)

    @classmethod
    def from_run(cls, run_dir, cfg: GruberConfig, variant: str) -> "GruberPredictor":
        stage = variant_stage(cfg, variant)
        thresholds = RunDir(run_dir).calibration(THRESHOLDS)
        threshold = read_json(thresholds).get(stage, 0.5) if thresholds.is_file() else 0.5
        return cls.from_stage(run_dir, cfg, stage, threshold)

    def with_threshold(self, tumour_threshold: float) -> "GruberPredictor":
        """The same model with another tumour threshold (no reload)."""
        return GruberPredictor(self.cfg, self.model, self.stage, tumour_threshold, self.batch_size)

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices -> (Z, S, S, K): one-step (tumour, liver, other) softmax, or
        (A(X), B(w(M X)) M) for the chained models (B's probability is 0 outside the mask)."""
        probs = predict_slices(self.model, slices[..., None], batch_size=self.batch_size)
        if self.onestep:
            return probs
        mask = probs[..., 0] > self.cfg.liver_threshold
        return np.stack([probs[..., 0], probs[..., 1] * mask], axis=-1)

    def labels(self, probs: np.ndarray) -> np.ndarray:
        if self.onestep:
            return onestep_labels(probs)
        return chain_labels(probs[..., 0], probs[..., 1], self.cfg.liver_threshold, self.tumour_threshold)

    def __call__(self, volume) -> Prediction:
        """Whole volume: probabilities resized to the CT's in-plane size, labelled; CHOICE (volume
        only, not the 2D Table 1 metrics): the liver is its largest 3D connected component, as
        the paper's slice-wise networks leave stray liver in other organs' slices."""
        x, y, _ = volume.array.shape
        probs = resize_probs(self.probabilities(preprocess_slices(volume.array, self.cfg.preprocess)), x, y)
        labels = self.labels(probs)
        labels[~largest_component(labels >= 1)] = 0
        record = {"stage": self.stage, "tumour_threshold": self.tumour_threshold}
        channels = ("tumour", "liver", "other") if self.onestep else ("liver", "tumour")
        return Prediction(np.ascontiguousarray(labels.transpose(1, 2, 0)), record,
                          probabilities=probs.transpose(1, 2, 0, 3), channels=channels)
