"""Liu et al. (2019): R-U-Net and the two-level CR-U-Net cascade with morphological intermediate
processing and the MDice loss, liver only (Table I).

House names: `get_config(profile)`, `reproduce.main(argv)`, `PAPER_ROWS`, `expected_scores.json`;
`spec.PAPER` is what the paper runner reads.
"""
from experiments.liu_crunet.config import get_config
from experiments.liu_crunet.paper import PAPER_ROWS

__all__ = ["get_config", "PAPER_ROWS"]
