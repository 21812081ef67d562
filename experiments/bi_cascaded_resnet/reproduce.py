"""Reproduce Bi et al. end to end on the paper runner; every stage is resumable and skipped when done.

    python -m experiments.bi_cascaded_resnet.reproduce --profile cpu                          # phantom, 2 CPU cores
    python -m experiments.bi_cascaded_resnet.reproduce --profile paper --data-dir LITS_DIR    # GPU, LiTS
    python -m experiments.bi_cascaded_resnet.reproduce --profile paper --data-dir LITS_DIR --weights rn38.weights.h5
    python -m experiments.bi_cascaded_resnet.reproduce --profile smoke --run-dir /tmp/run     # seconds, tests

Stages: prepare -> vgg_fcn -> resnet -> cascade -> whole-volume inference of Table 2's rows (VGG-FCN,
ResNet, cascaded ResNet single-scale and with multi-scale fusion) -> evaluation (LiTS protocol) -> report.
`--weights FILE` (a Keras .weights.h5 of `model.build_resnet`) starts the ResNets from a user's weights
(ImageNet ones, as the paper, cannot be downloaded here): the same as `--set weights=FILE`.
"""
import sys

from liverseg.runner.run import reproduce

from experiments.bi_cascaded_resnet.spec import PAPER


def weights_as_set(argv: list[str]) -> list[str]:
    """`--weights FILE` / `--weights=FILE` -> `--set weights=FILE` (recorded in the run's config)."""
    out, args = [], iter(argv)
    for arg in args:
        if arg == "--weights":
            out.append(f"--set=weights={next(args, '')}")
        elif arg.startswith("--weights="):
            out.append("--set=weights=" + arg.split("=", 1)[1])
        else:
            out.append(arg)
    return out


def main(argv=None) -> int:
    return reproduce(PAPER, weights_as_set(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
