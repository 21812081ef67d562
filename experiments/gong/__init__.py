"""Gong et al. (2021): coarse U-Net -> tumour-centred crop -> multi-scale-fusion U-Net, on LiTS.

`spec.PAPER` (a `liverseg.runner.paper.Paper`) is what the runner reads."""
