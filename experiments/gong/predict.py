"""Gong 2.2 cascade on a whole CT volume: coarse U-Net -> tumour-centred crop -> fine net -> paste back.

Used by the runner on the test volumes and by `liverseg predict --run RUN_DIR` on any CT. The
decisions here are Gong's; the crop/paste geometry, batched prediction and label making are the
library's (`CropBox`, `predict_in_boxes`, `predict_slices`, `labels_from_probs`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liverseg.data.preprocess import preprocess_slices
from liverseg.infer.cascade import CropBox, predict_in_boxes
from liverseg.infer.postprocess import largest_component
from liverseg.infer.predict import labels_from_probs, predict_slices, resize_probs
from liverseg.infer.prediction import Prediction
from liverseg.io.run_layout import RunDir

from experiments.gong.config import GongConfig

VARIANTS = {"crop": "fine", "whole": "fine_whole"}  # cascade variant -> fine stage it uses


@dataclass
class CascadeOutput:
    slices: np.ndarray  # (Z, S, S) preprocessed input
    coarse: np.ndarray  # (Z, S, S, 2) liver / tumour probabilities of the coarse U-Net
    fine: np.ndarray  # (Z, S, S) fine tumour probability pasted back, zeros outside the crops
    boxes: list  # per slice: the CropBox of the fine stage, or None
    labels: np.ndarray  # (X, Y, Z) uint8 0/1/2 in the volume's canonical layout


class GongCascade:
    """The two trained stages and the config that made them; `variant` "crop" (the method) or
    "whole" (the ablation: the fine network on every liver slice, no crop)."""

    def __init__(self, cfg: GongConfig, coarse, fine, *, variant: str = "crop", batch_size: int = 8):
        self.cfg, self.coarse, self.fine, self.variant, self.batch_size = cfg, coarse, fine, variant, batch_size

    @classmethod
    def from_run(cls, run_dir, cfg: GongConfig, variant: str = "crop") -> "GongCascade":
        from liverseg.io.checkpoints import load_model

        run_dir = Path(run_dir)
        coarse = load_model(RunDir(run_dir).checkpoint("coarse"))
        fine = load_model(RunDir(run_dir).checkpoint(VARIANTS[variant]))
        return cls(cfg, coarse, fine, variant=variant)

    def _predict(self, model, x: np.ndarray) -> np.ndarray:
        return predict_slices(model, x, batch_size=self.batch_size)

    def _boxes(self, tumour: np.ndarray, liver: np.ndarray) -> list:
        """2.2: a crop centred on the centre of the four boundary points of the coarse tumour, per
        slice; with `crop_on_liver`, on those of the coarse liver where no tumour was found."""
        size = self.cfg.fine_data.crop_size
        boxes = [CropBox.around(t, size, z=z) for z, t in enumerate(tumour)]
        if self.cfg.crop_on_liver:
            boxes = [b if b is not None else CropBox.around(l, size, z=z) for z, (b, l) in enumerate(zip(boxes, liver))]
        return boxes

    def run(self, volume) -> CascadeOutput:
        cfg = self.cfg
        slices = preprocess_slices(volume.array, cfg.preprocess)
        coarse = self._predict(self.coarse, slices[..., None])
        # 2.2: the coarse liver excludes tumour predictions outside the liver organ. CHOICE: the
        # largest 3D connected component of the liver (the paper does not say how the mask is cleaned).
        liver = largest_component(coarse[..., 0] > cfg.threshold)
        tumour = (coarse[..., 1] > cfg.crop_threshold) & liver
        if self.variant == "crop":
            boxes = self._boxes(tumour, liver)
            fine = predict_in_boxes(lambda x: self._predict(self.fine, x), slices[..., None], boxes)[..., 0]
        else:
            boxes = [None] * len(slices)
            fine = np.zeros(slices.shape, np.float32)
            rows = np.flatnonzero(liver.reshape(len(liver), -1).any(axis=1))
            if len(rows):
                fine[rows] = self._predict(self.fine, slices[rows][..., None])[..., 0]
        labels = self.labels(volume, coarse[..., 0], fine)
        return CascadeOutput(slices, coarse, fine, boxes, labels)

    def labels(self, volume, liver_prob: np.ndarray, tumour_prob: np.ndarray) -> np.ndarray:
        """Probabilities back to the volume's in-plane size, thresholded: liver 1 (largest component),
        tumour 2 only inside that liver."""
        x, y, _ = volume.array.shape
        probs = resize_probs(np.stack([liver_prob, tumour_prob], axis=-1), x, y)  # (Z, X, Y, 2)
        labels = labels_from_probs(probs, ("liver", "tumour"), self.cfg.threshold, tumour_in_liver=True)
        labels[~largest_component(labels >= 1)] = 0
        return np.ascontiguousarray(labels.transpose(1, 2, 0))

    def __call__(self, volume) -> Prediction:
        out = self.run(volume)
        boxes = {str(b.z): list(b.box) for b in out.boxes if b is not None}
        x, y, _ = volume.array.shape

        def probabilities():  # coarse liver and fine tumour, at the CT's in-plane size, when asked
            return resize_probs(np.stack([out.coarse[..., 0], out.fine], axis=-1), x, y).transpose(1, 2, 0, 3)

        return Prediction(out.labels, {"crop_boxes": boxes} if self.variant == "crop" else {},
                          probabilities=probabilities, channels=("liver", "tumour"))
