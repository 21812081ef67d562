"""Liu's networks on whole CT volumes (the runner's test volumes and `liverseg predict --run RUN_DIR
[--variant V]`). Variants: "crunet_d" (default, the method), "unet", "runet", "crunet_a", "crunet_b",
"crunet_c"; each applies the best checkpoint of its stage (a cascade holds both levels and the
intermediate processing in one model). "crunet_b_all_components" / "crunet_d_all_components": rows b
and d without the largest-component step (II-A argues the processing between the levels against it)."""
from __future__ import annotations

import numpy as np

from liverseg.infer.postprocess import largest_component
from liverseg.infer.predict import predict_slices
from liverseg.infer.slice_predictor import SlicePredictor, network_input

from experiments.liu_crunet.config import ALL_COMPONENTS


class LiuPredictor(SlicePredictor):
    """One trained variant: slices -> liver probability -> labels (liver 1; Liu segments no tumour)."""

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices -> (Z, S, S, 1) liver probability."""
        return predict_slices(self.model, network_input(slices), batch_size=self.batch_size)

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """CHOICE: liver where p >= threshold, its largest 3D connected component (the paper names no
        post-processing after level 2; slice-wise networks leave stray liver in other organs)."""
        liver = probs[..., 0] >= self.cfg.threshold
        if self.variant.endswith(ALL_COMPONENTS):
            return liver.astype(np.uint8)
        return largest_component(liver).astype(np.uint8)
