"""Reproduce Gong et al. end to end on the paper runner; every stage is resumable and skipped when done.

    python -m experiments.gong.reproduce --profile cpu                         # phantom, 2 CPU cores
    python -m experiments.gong.reproduce --profile paper --data-dir LITS_DIR   # LiTS, GPU
    python -m experiments.gong.reproduce --profile smoke --run-dir /tmp/run    # seconds, tests

Stages: prepare -> coarse -> fine (crop) -> fine_whole (ablation) -> cascade inference on the test
volumes -> evaluation (LiTS protocol) -> report.
"""
import sys

from liverseg.runner.run import reproduce

from experiments.gong.spec import PAPER


def main(argv=None) -> int:
    return reproduce(PAPER, argv)


if __name__ == "__main__":
    sys.exit(main())
