"""Liu's networks on whole CT volumes (the runner's test volumes and `liverseg predict --run RUN_DIR
[--variant V]`). Variants: "crunet_d" (default, the method), "unet", "runet", "crunet_a", "crunet_b",
"crunet_c"; each applies the best checkpoint of its stage (a cascade holds both levels and the
intermediate processing in one model). "crunet_b_all_components" / "crunet_d_all_components": rows b
and d without the largest-component step (II-A argues the processing between the levels against it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from liverseg.errors import OptionError
from liverseg.infer.postprocess import largest_component
from liverseg.infer.predict import predict_slices
from liverseg.runner.slice_predictor import SlicePredictor

from experiments.liu_crunet.config import ALL_COMPONENTS, VARIANTS, LiuConfig, variant_stage


class LiuPredictor(SlicePredictor):
    """One trained variant: slices -> liver probability -> labels (liver 1; Liu segments no tumour)."""

    @classmethod
    def from_run(cls, run_dir, cfg: LiuConfig, variant: str) -> "LiuPredictor":
        import liverseg.nn.morphology  # noqa: F401  (registers the layer the cascades use)
        from liverseg.io.checkpoints import load_model

        return cls(cfg, load_model(Path(run_dir) / variant_stage(variant) / "best.keras"), variant)

    def probabilities(self, slices: np.ndarray) -> np.ndarray:
        """(Z, S, S) preprocessed slices -> (Z, S, S, 1) liver probability."""
        return predict_slices(self.model, np.asarray(slices, np.float32)[..., None], batch_size=self.batch_size)

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """CHOICE: liver where p >= threshold, its largest 3D connected component (the paper names no
        post-processing after level 2; slice-wise networks leave stray liver in other organs)."""
        liver = probs[..., 0] >= self.cfg.threshold
        if self.variant.endswith(ALL_COMPONENTS):
            return liver.astype(np.uint8)
        return largest_component(liver).astype(np.uint8)



def predictor(run_dir, cfg: LiuConfig, variant: str) -> LiuPredictor:
    if variant not in VARIANTS:
        raise OptionError(f"liu_crunet has no variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return LiuPredictor.from_run(run_dir, cfg, variant)
