"""The whole-volume predictor of a paper whose networks read whole axial slices (Li, Liu, Bi): each
slice preprocessed as in training, the network's probabilities resized back to the CT's in-plane size,
turned into labels, returned in the canonical (X, Y, Z) layout. A paper supplies `probabilities` and
`labels`; crop cascades (Gong) and 2D slice protocols (Gruber) keep their own `__call__`.

The network part runs `chunk` slices at a time (preprocessed, predicted, resized into the volume's
probabilities): `probabilities` must treat slices independently (a 2D network, multi-scale or
overlap-tile on each slice), so the result equals one call on the whole volume, while memory for
the network's inputs, outputs and rescaled copies (Bi's multi-scale: 640 x 640 per slice) stays
that of one chunk whatever the number of slices."""
from __future__ import annotations

import numpy as np

from liverseg.data.preprocess import preprocess_slices
from liverseg.infer.predict import resize_probs
from liverseg.runner.spec import Prediction


class SlicePredictor:
    """`cfg.preprocess` is the paper's slice recipe; `variant` is recorded with every case."""

    def __init__(self, cfg, model, variant: str, batch_size: int = 8, chunk: int = 64):
        self.cfg, self.model, self.variant, self.batch_size = cfg, model, variant, batch_size
        self.chunk = max(1, int(chunk))

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices -> (Z, S, S, K) probabilities."""
        raise NotImplementedError

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """(Z, X, Y, K) probabilities -> (Z, X, Y) labels 0 / 1 / 2."""
        raise NotImplementedError

    def volume_probabilities(self, array: np.ndarray) -> np.ndarray:
        """(X, Y, Z) HU -> (Z, X, Y, K) probabilities, `chunk` slices at a time."""
        x, y, z = array.shape
        probs = None
        for start in range(0, z, self.chunk):
            slices = preprocess_slices(array[:, :, start:start + self.chunk], self.cfg.preprocess)
            part = resize_probs(self.probabilities(slices), x, y)
            if probs is None:
                probs = np.empty((z, x, y, part.shape[-1]), dtype=np.float32)
            probs[start:start + len(part)] = part
        return probs

    def __call__(self, volume) -> Prediction:
        probs = self.volume_probabilities(volume.array)
        labels = self.labels(probs)  # (Z, X, Y)
        return Prediction(np.ascontiguousarray(labels.transpose(1, 2, 0)), {"variant": self.variant},
                          probabilities=probs.transpose(1, 2, 0, 3), channels=self.channels(probs.shape[-1]))

    def channels(self, k: int) -> tuple[str, ...]:
        """Names of the K probability channels: the config's `outputs` (or `net.outputs`) when it has K
        of them, else ("liver",) for one channel and channel_0 ... otherwise."""
        for owner in (self.cfg, getattr(self.cfg, "net", None)):
            names = tuple(getattr(owner, "outputs", ()) or ())
            if len(names) == k:
                return names
        return ("liver",) if k == 1 else tuple(f"channel_{i}" for i in range(k))


__all__ = ["SlicePredictor"]
