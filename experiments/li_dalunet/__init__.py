"""Li, Pan, Lin (2024): U-Net (valid padding, overlap-tile), AU-Net, AU-Net w/DS and DALU-Net on
3D-IRCADb, the four columns of Table I.

House names: `get_config(profile)`, `reproduce.main(argv)`, `PAPER_ROWS`, `expected_scores.json`;
`spec.PAPER` is what the paper runner reads.
"""
from experiments.li_dalunet.config import get_config
from experiments.li_dalunet.paper import PAPER_ROWS

__all__ = ["get_config", "PAPER_ROWS"]
