"""Bi's networks on whole CT volumes (the runner's test volumes and `liverseg predict --run RUN_DIR
[--variant V]`). Variants: "cascade_ms" (default: the cascade with multi-scale fusion, the paper's
submission), "vgg_fcn", "resnet", "cascade" (single scale).

2.4: each slice is preprocessed as in training (2.2), predicted whole (at every size of
`cfg.test_sizes` for "cascade_ms", probabilities averaged), resized to the CT's in-plane size and
thresholded; then holes are filled per axial slice, "no other post-processing".
"""
from __future__ import annotations

import numpy as np

from liverseg.infer.postprocess import fill_holes_per_slice
from liverseg.infer.predict import labels_from_probs, multiscale_predict, predict_slices
from liverseg.infer.slice_predictor import SlicePredictor, network_input

STAGE_OF = {"vgg_fcn": "vgg_fcn", "resnet": "resnet", "cascade": "cascade", "cascade_ms": "cascade"}
GRID = {"vgg_fcn": 32, "resnet": 8, "cascade": 8, "cascade_ms": 8}  # output strides of the networks


def pad_to_grid(x: np.ndarray, grid: int) -> np.ndarray:
    """(N, H, W, C) zero-padded at the bottom and right to multiples of `grid` (the FCNs' strides)."""
    h, w = x.shape[1:3]
    ph, pw = -h % grid, -w % grid
    return x if not (ph or pw) else np.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)))


def fill_holes(labels: np.ndarray, axis: int = 0) -> np.ndarray:
    """2.4: holes of the liver (label >= 1) and of the lesions (label 2), filled in every axial slice;
    a filled hole of the liver becomes liver, one of a lesion becomes lesion."""
    out = labels.copy()
    liver = fill_holes_per_slice(labels >= 1, axis=axis)
    out[liver & (out == 0)] = 1
    out[fill_holes_per_slice(labels == 2, axis=axis)] = 2
    return out


class BiPredictor(SlicePredictor):
    """One trained variant: slices -> liver and lesion probabilities -> LiTS labels."""

    def _predict(self, x: np.ndarray) -> np.ndarray:
        h, w = x.shape[1:3]
        probs = predict_slices(self.model, pad_to_grid(x, GRID[self.variant]), batch_size=self.batch_size)
        return probs[:, :h, :w]

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices -> (Z, S, S, 2) liver and lesion probabilities."""
        x = network_input(slices)
        if self.variant == "cascade_ms":
            return multiscale_predict(self._predict, x, self.cfg.test_sizes)
        return self._predict(x)

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """Liver >= threshold, lesion >= threshold inside the liver, holes filled per axial slice."""
        return fill_holes(labels_from_probs(probs, self.cfg.net.outputs, self.cfg.threshold, tumour_in_liver=True))
