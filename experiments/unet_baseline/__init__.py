"""A plain 2D U-Net baseline (Ronneberger et al. 2015) with nnU-Net-2D-like training defaults (Isensee
et al. 2021): liver and tumour, Dice + cross-entropy. The smallest method of the suite; `spec.PAPER`
is what the runner reads."""
