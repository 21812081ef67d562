"""Li, Pan, Lin (2024): U-Net (valid padding, overlap-tile), AU-Net, AU-Net w/DS and DALU-Net on
3D-IRCADb, the four columns of Table I.

`spec.PAPER` (a `liverseg.runner.paper.Paper`) is what the runner reads."""
