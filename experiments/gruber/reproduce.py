"""Reproduce Gruber et al. end to end on the paper runner; every stage is resumable and skipped when done.

    python -m experiments.gruber.reproduce --profile cpu                         # phantom, 2 CPU cores
    python -m experiments.gruber.reproduce --profile paper --data-dir LITS_DIR   # LiTS, GPU
    python -m experiments.gruber.reproduce --profile smoke --run-dir /tmp/run    # seconds, tests

Stages: prepare -> onestep -> onestep_balanced -> liver (U-Net A) -> tumour (U-Net B) -> one
fine-tuning of B per alpha -> joint -> thresholds on validation slices -> whole-volume inference
(sequential, onestep, joint) -> evaluation (LiTS protocol, and Table 1 on test slices) -> report.
"""
import sys

from liverseg.runner.run import reproduce

from experiments.gruber.spec import PAPER


def main(argv=None) -> int:
    return reproduce(PAPER, argv)


if __name__ == "__main__":
    sys.exit(main())
