"""Liu et al. (2019): R-U-Net and the two-level CR-U-Net cascade with morphological intermediate
processing and the MDice loss, liver only (Table I).

`spec.PAPER` (a `liverseg.runner.paper.Paper`) is what the runner reads."""
