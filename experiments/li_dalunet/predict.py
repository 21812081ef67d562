"""Li's networks on whole CT volumes (the runner's test volumes and `liverseg predict --run RUN_DIR
[--variant V]`). Variants: "dalunet" (default, the paper's method), "unet", "aunet", "aunet_ds".

Each slice is preprocessed as in training (III-A), predicted, resized to the CT's in-plane size and
thresholded: the U-Net by overlap-tile on its `cfg.net.unet_tile` core (III-C, Ronneberger's
tiles), the deeply supervised networks by their main head only.
"""
from __future__ import annotations

import numpy as np

from liverseg.infer.predict import predict_slices
from liverseg.infer.slice_predictor import SlicePredictor, network_input

from experiments.li_dalunet.config import LiConfig
from experiments.li_dalunet.model import UNET_CORE, build_unet_tile


class LiPredictor(SlicePredictor):
    """One trained variant: slices -> probabilities of `cfg.outputs` -> LiTS labels."""

    def __init__(self, cfg: LiConfig, model, variant: str, batch_size: int = 8):
        super().__init__(cfg, model, variant, batch_size)
        self.tile = None
        if variant == "unet":  # III-C: the 572 x 572 -> 388 x 388 core with the trained weights
            self.tile = build_unet_tile(cfg)
            self.tile.set_weights(model.get_layer(UNET_CORE).get_weights())

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices -> (Z, S, S, K) probabilities of the main output; the U-Net's by
        overlap-tile, the others' as the shared slice predictor's."""
        from liverseg.infer.tiles import overlap_tile_predict
        from liverseg.nn.valid_unet import valid_geometry

        if self.tile is None:
            return super().probabilities(slices)
        x = network_input(slices)
        tile_in = self.cfg.net.unet_tile
        shrink, align = valid_geometry(self.cfg.net.depth)
        return overlap_tile_predict(lambda t: predict_slices(self.tile, t, batch_size=self.batch_size), x,
                                    tile_in, tile_in - shrink, align)
