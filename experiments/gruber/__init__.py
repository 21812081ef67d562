"""Gruber et al. (2019): one-step 3-class U-Net, and U-Net A (liver) -> masked, windowed image ->
U-Net B (tumour), trained one after the other or together on the joint loss (eq. 2.1).

`spec.PAPER` (a `liverseg.runner.paper.Paper`) is what the runner reads."""
