"""Reproduce Liu et al. end to end on the paper runner; every stage is resumable and skipped when done.

    python -m experiments.liu_crunet.reproduce --profile cpu                          # phantom, 2 CPU cores
    python -m experiments.liu_crunet.reproduce --profile paper --data-dir LITS_DIR --set fold=0   # one fold
    python -m experiments.liu_crunet.folds --profile paper --data-dir LITS_DIR        # ten folds, averaged
    python -m experiments.liu_crunet.reproduce --profile smoke --run-dir /tmp/run     # seconds, tests

Stages: prepare -> unet -> runet -> crunet_a -> crunet_b -> runet_dice -> crunet_c -> crunet_d ->
whole-volume inference of the six Table I rows -> evaluation (LiTS protocol) -> report.
"""
import sys

from liverseg.runner.run import reproduce

from experiments.liu_crunet.spec import PAPER


def main(argv=None) -> int:
    return reproduce(PAPER, argv)


if __name__ == "__main__":
    sys.exit(main())
