"""Bi et al. (2017): ResNet-38 as an FCN, the cascade on its liver and lesion probability maps,
multi-scale fusion (Table 2), on LiTS.

House names: `get_config(profile)`, `reproduce.main(argv)`, `PAPER_ROWS`, `expected_scores.json`;
`spec.PAPER` is what the paper runner reads.
"""
from experiments.bi_cascaded_resnet.config import get_config
from experiments.bi_cascaded_resnet.paper import PAPER_ROWS

__all__ = ["get_config", "PAPER_ROWS"]
