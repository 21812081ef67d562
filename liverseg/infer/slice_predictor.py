"""The whole-volume predictor of a paper whose networks read whole axial slices (Li, Liu, Bi): each
slice preprocessed as in training, the network's probabilities resized back to the CT's in-plane size,
turned into labels, returned in the canonical (X, Y, Z) layout. The defaults fit a network with one
sigmoid channel per name of `cfg.outputs` (liver, tumour): its probabilities, thresholded at
`cfg.threshold`, tumour inside the liver, the liver's largest 3D component. A paper overrides
`probabilities` and `labels` where its own differ; crop cascades (Gong) and 2D slice protocols
(Gruber) keep their own `__call__`.

The network part runs `chunk` slices at a time (preprocessed, predicted, resized into the volume's
probabilities): `probabilities` must treat slices independently (a 2D network, multi-scale or
overlap-tile on each slice), so the result equals one call on the whole volume, while memory for
the network's inputs, outputs and rescaled copies (Bi's multi-scale: 640 x 640 per slice) stays
that of one chunk whatever the number of slices."""
from __future__ import annotations

import numpy as np

from liverseg.data.preprocess import preprocess_slices
from liverseg.infer.postprocess import largest_component
from liverseg.infer.predict import labels_from_probs, predict_slices, resize_probs, stack_context
from liverseg.infer.prediction import Prediction


def network_input(slices: np.ndarray) -> np.ndarray:
    """(Z, S, S) slices -> (Z, S, S, 1) float32; (Z, S, S, C) 2.5D stacks as they are."""
    x = np.asarray(slices, np.float32)
    return x[..., None] if x.ndim == 3 else x


class SlicePredictor:
    """`cfg.preprocess` is the paper's slice recipe; `variant` is recorded with every case."""

    def __init__(self, cfg, model, variant: str, batch_size: int = 8, chunk: int = 64):
        self.cfg, self.model, self.variant, self.batch_size = cfg, model, variant, batch_size
        self.chunk = max(1, int(chunk))

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices (or (Z, S, S, C) 2.5D stacks) -> (Z, S, S, K) probabilities of the
        network's first K channels (K = len(cfg.outputs); a deeply supervised network's main head first)."""
        probs = predict_slices(self.model, network_input(slices), batch_size=self.batch_size)
        return probs[..., :len(self.cfg.outputs)]

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """(Z, X, Y, K) probabilities -> (Z, X, Y) labels 0 / 1 / 2: liver >= threshold, tumour >=
        threshold inside the liver; the liver is its largest 3D connected component (slice-wise
        networks leave stray liver in other organs' slices)."""
        labels = labels_from_probs(probs, self.cfg.outputs, self.cfg.threshold, tumour_in_liver=True)
        labels[~largest_component(labels >= 1)] = 0
        return labels

    def volume_probabilities(self, array: np.ndarray) -> np.ndarray:
        """(X, Y, Z) HU -> (Z, X, Y, K) probabilities, `chunk` slices at a time. With a 2.5D config
        (`cfg.data.context` = c > 0) each slice goes in with its c neighbours on each side as channels,
        as in training (`liverseg.data`), the end slices repeated beyond the volume."""
        x, y, z = array.shape
        context = int(getattr(getattr(self.cfg, "data", None), "context", 0) or 0)
        probs = None
        for start in range(0, z, self.chunk):
            stop = min(start + self.chunk, z)
            lo, hi = max(0, start - context), min(z, stop + context)
            slices = preprocess_slices(array[:, :, lo:hi], self.cfg.preprocess)
            if context:
                slices = stack_context(slices, context, np.arange(start, stop) - lo)
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


__all__ = ["SlicePredictor", "network_input"]
