"""`liverseg evaluate --pred DIR --truth DIR --out DIR [--assd {lits,medpy,chaos}]`: LiTS-protocol scores."""
from __future__ import annotations

import argparse

from liverseg.evaluation.surface import SURFACE_DEFINITIONS


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of `liverseg evaluate` to `parser`."""
    parser.add_argument("--pred", required=True, metavar="DIR",
                        help="predicted label volumes: segmentation-N / test-segmentation-N / prediction-N .nii[.gz]")
    parser.add_argument("--truth", required=True, metavar="DIR",
                        help="truth label volumes with the same LiTS names (0 background, 1 liver, 2 tumour)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder for per_case.csv and summary.json (written only on success)")
    parser.add_argument("--assd", choices=sorted(SURFACE_DEFINITIONS), default="lits",
                        help="surface definition of ASSD / RMSD / MSD / HD95: lits (18-neighbourhood, the LiTS "
                             "scorer; default), medpy (6-neighbourhood, medpy.metric.binary) or chaos")


def run(args: argparse.Namespace) -> int:
    """Score the predictions, write the outputs, print the tables; 0 on success."""
    from liverseg.evaluation import evaluate_folders

    evaluate_folders(args.pred, args.truth, args.out, assd=args.assd)
    return 0
