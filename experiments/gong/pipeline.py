"""Gong 2.2 cascade on a whole CT volume: coarse U-Net -> tumour-centred crop -> fine net -> paste back.

Used by `reproduce` (test volumes) and by `liverseg predict --run RUN_DIR` (any CT).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liverseg.infer import cascade
from liverseg.infer import predict as inference
from liverseg.infer import postprocess
from liverseg.config import from_dict
from liverseg.data.preprocess import preprocess_slices

from experiments.gong.config import GongConfig


@dataclass
class CascadeOutput:
    slices: np.ndarray  # (Z, S, S) preprocessed input
    coarse: np.ndarray  # (Z, S, S, 2) liver / tumour probabilities of the coarse U-Net
    fine: np.ndarray  # (Z, S, S) fine tumour probability pasted back, zeros outside the crops
    boxes: dict  # slice index -> (r0, c0, r1, c1) crop box in the S x S grid
    labels: np.ndarray  # (X, Y, Z) uint8 0/1/2 in the volume's canonical layout


class GongCascade:
    """The two trained stages and the config that made them."""

    def __init__(self, cfg: GongConfig, coarse, fine, *, fine_on_crop: bool = True, batch_size: int = 8):
        self.cfg, self.coarse, self.fine = cfg, coarse, fine
        self.fine_on_crop = fine_on_crop
        self.batch_size = batch_size

    @classmethod
    def from_run(cls, run_dir, *, fine_stage: str = "fine") -> "GongCascade":
        from liverseg.io.checkpoints import load_model

        run_dir = Path(run_dir)
        cfg = load_config(run_dir)
        coarse = load_model(run_dir / "coarse" / "best.keras")
        fine = load_model(run_dir / fine_stage / "best.keras")
        return cls(cfg, coarse, fine, fine_on_crop=fine_stage == "fine")

    def run(self, volume) -> CascadeOutput:
        t = self.cfg.threshold
        slices = preprocess_slices(volume.array, self.cfg.preprocess)
        size = slices.shape[1]
        coarse = inference.predict_slices(self.coarse, slices[..., None], batch_size=self.batch_size)
        # 2.2: the coarse liver excludes tumour predictions outside the liver organ. CHOICE: the
        # largest 3D connected component of the liver (the paper does not say how the mask is cleaned).
        liver = postprocess.largest_component(coarse[..., 0] > t)
        tumour = (coarse[..., 1] > self.cfg.crop_threshold) & liver
        fine = np.zeros(slices.shape, np.float32)
        boxes = {}
        if self.fine_on_crop:
            crop = self.cfg.fine_data.crop_size
            patches = []
            for z in np.flatnonzero(tumour.reshape(len(tumour), -1).any(axis=1)):
                centre = cascade.bbox_centre(tumour[z])  # 2.2: centre of the tumour's four boundary points
                boxes[int(z)] = cascade.centred_box(centre, crop, (size, size))
                patches.append(cascade.crop(slices[z], boxes[int(z)]))
            if patches:
                probs = inference.predict_slices(self.fine, np.stack(patches)[..., None], batch_size=self.batch_size)
                for (z, box), p in zip(boxes.items(), probs[..., 0]):
                    fine[z] = cascade.paste(p, box, (size, size))  # 2.2: zeros around the 256x256 prediction
        else:
            rows = np.flatnonzero(liver.reshape(len(liver), -1).any(axis=1))
            if len(rows):
                probs = inference.predict_slices(self.fine, slices[rows][..., None], batch_size=self.batch_size)
                fine[rows] = probs[..., 0]
        labels = self._labels(volume, coarse[..., 0], fine, t)
        return CascadeOutput(slices, coarse, fine, boxes, labels)

    @staticmethod
    def _labels(volume, liver_prob, tumour_prob, t) -> np.ndarray:
        """Probabilities back to the volume's in-plane size, thresholded: liver 1, tumour 2 inside the liver."""
        x, y, _ = volume.array.shape
        probs = np.stack([liver_prob, tumour_prob], axis=-1)
        probs = inference.resize_probs(probs, x, y)  # (Z, X, Y, 2)
        liver = postprocess.largest_component(probs[..., 0] > t)
        tumour = (probs[..., 1] > t) & liver
        labels = liver.astype(np.uint8) + tumour.astype(np.uint8)
        return np.ascontiguousarray(labels.transpose(1, 2, 0))


def load_config(run_dir) -> GongConfig:
    data = json.loads((Path(run_dir) / "config.json").read_text())
    return from_dict(GongConfig, data["config"])


def predict_labels(run_dir, volume) -> np.ndarray:
    """Entry point of `liverseg predict`: canonical (X, Y, Z) labels 0/1/2 for a Volume."""
    return GongCascade.from_run(run_dir).run(volume).labels
