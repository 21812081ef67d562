"""Gong et al. (2021): coarse U-Net -> tumour-centred crop -> multi-scale-fusion U-Net, on LiTS.

House names: `get_config(profile)`, `build_models(cfg)`, `reproduce.main(argv)`, `PAPER_RESULTS`,
`expected_scores.json`; `spec.PAPER` is what the paper runner reads. `build_models` is imported
lazily so that reading the config does not load Keras.
"""
from experiments.gong.config import get_config
from experiments.gong.paper import ABLATION, PAPER_RESULTS


def __getattr__(name):
    if name == "build_models":
        from experiments.gong.model import build_models

        return build_models
    raise AttributeError(name)


__all__ = ["get_config", "build_models", "PAPER_RESULTS", "ABLATION"]
