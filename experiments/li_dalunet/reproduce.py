"""Reproduce Li, Pan, Lin end to end on the paper runner; every stage is resumable and skipped when done.

    python -m experiments.li_dalunet.reproduce --profile cpu                                  # phantom, 2 CPU cores
    python -m experiments.li_dalunet.reproduce --profile paper --data-dir 3Dircadb1 --dataset ircadb   # GPU
    python -m experiments.li_dalunet.reproduce --profile smoke --run-dir /tmp/run             # seconds, tests

Stages: prepare -> unet -> aunet -> aunet_ds -> dalunet -> whole-volume inference of the four
networks on the test patients -> evaluation (LiTS protocol) -> report (Table I, Fig. 8).
"""
import sys

from liverseg.runner.run import reproduce

from experiments.li_dalunet.spec import PAPER


def main(argv=None) -> int:
    return reproduce(PAPER, argv)


if __name__ == "__main__":
    sys.exit(main())
