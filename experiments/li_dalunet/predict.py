"""Li's networks on whole CT volumes (the runner's test volumes and `liverseg predict --run RUN_DIR
[--variant V]`). Variants: "dalunet" (default, the paper's method), "unet", "aunet", "aunet_ds".

Each slice is preprocessed as in training (III-A), predicted, resized to the CT's in-plane size and
thresholded: the U-Net by overlap-tile on its `cfg.net.unet_tile` core (III-C, Ronneberger's
tiles), the deeply supervised networks by their main head only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from liverseg.infer.postprocess import largest_component
from liverseg.infer.predict import labels_from_probs, predict_slices
from liverseg.runner.slice_predictor import SlicePredictor

from experiments.li_dalunet.config import VARIANTS, LiConfig
from experiments.li_dalunet.model import UNET_CORE, build_unet_tile


def load_variant(run_dir, variant: str):
    """The best checkpoint of a variant's stage (safe mode)."""
    import liverseg.nn.deep_supervision  # noqa: F401  (registers the layers the checkpoints use)
    import liverseg.nn.valid_unet  # noqa: F401
    from liverseg.io.checkpoints import load_model

    return load_model(Path(run_dir) / variant / "best.keras")


class LiPredictor(SlicePredictor):
    """One trained variant: slices -> probabilities of `cfg.outputs` -> LiTS labels."""

    def __init__(self, cfg: LiConfig, model, variant: str, batch_size: int = 8):
        super().__init__(cfg, model, variant, batch_size)
        self.tile = None
        if variant == "unet":  # III-C: the 572 x 572 -> 388 x 388 core with the trained weights
            self.tile = build_unet_tile(cfg)
            self.tile.set_weights(model.get_layer(UNET_CORE).get_weights())

    @classmethod
    def from_run(cls, run_dir, cfg: LiConfig, variant: str) -> "LiPredictor":
        return cls(cfg, load_variant(run_dir, variant), variant)

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices -> (Z, S, S, K) probabilities of the main output."""
        from liverseg.infer.tiles import overlap_tile_predict
        from liverseg.nn.valid_unet import valid_geometry

        x = np.asarray(slices, np.float32)[..., None]
        k = len(self.cfg.outputs)
        if self.tile is None:
            return predict_slices(self.model, x, batch_size=self.batch_size)[..., :k]
        tile_in = self.cfg.net.unet_tile
        shrink, align = valid_geometry(self.cfg.net.depth)
        return overlap_tile_predict(lambda t: predict_slices(self.tile, t, batch_size=self.batch_size), x,
                                    tile_in, tile_in - shrink, align)

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """Liver >= threshold, tumour >= threshold inside the liver; CHOICE: the liver is its largest 3D
        connected component (slice-wise networks leave stray liver in other organs' slices)."""
        labels = labels_from_probs(probs, self.cfg.outputs, self.cfg.threshold, tumour_in_liver=True)
        labels[~largest_component(labels >= 1)] = 0
        return labels



def predictor(run_dir, cfg: LiConfig, variant: str) -> LiPredictor:
    if variant not in VARIANTS:
        from liverseg.errors import OptionError

        raise OptionError(f"li_dalunet has no variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return LiPredictor.from_run(run_dir, cfg, variant)
