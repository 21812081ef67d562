"""Bi et al. (2017): ResNet-38 as an FCN, the cascade on its liver and lesion probability maps,
multi-scale fusion (Table 2), on LiTS.

`spec.PAPER` (a `liverseg.runner.paper.Paper`) is what the runner reads."""
