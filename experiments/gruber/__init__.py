"""Gruber et al. (2019): one-step 3-class U-Net, and U-Net A (liver) -> masked, windowed image ->
U-Net B (tumour), trained one after the other or together on the joint loss (eq. 2.1).

House names: `get_config(profile)`, `reproduce.main(argv)`, `PAPER_ROWS`, `expected_scores.json`;
`spec.PAPER` is what the paper runner reads.
"""
from experiments.gruber.config import get_config
from experiments.gruber.paper import PAPER_ROWS

__all__ = ["get_config", "PAPER_ROWS"]
