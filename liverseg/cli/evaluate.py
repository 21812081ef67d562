"""`liverseg evaluate --pred DIR --truth DIR --out DIR [--protocol {liverseg,lits}] [--assd {lits,medpy,chaos}]
[--cases N,M | --predicted-only]`:
LiTS-protocol scores, under the project's conventions or exactly as the official LiTS scorer computes them."""
from __future__ import annotations

import argparse

from liverseg.evaluation.surface import SURFACE_DEFINITIONS
from liverseg.evaluation.volume_metrics import PROTOCOLS

DESCRIPTION = """\
Score LiTS-named label volumes (0 background, 1 liver, 2 tumour) against the truth.

Writes OUT/per_case.csv (one row per case, with the columns of both protocols: the project's,
and the official scorer's as <name>_lits wherever they differ), OUT/summary.json (the summary of
the chosen protocol; "protocol" names it) and, with --protocol lits, OUT/scores.txt as the
official scorer writes it.

--protocol liverseg (default): the project's conventions. RVD = (|P| - |G|) / |G| (> 0 means
  over-segmentation); tumour burden error = |burden(P) - burden(G)|, its max the largest absolute
  error; an empty mask gives +inf distances; tumour Jaccard / VOE / RVD / distances are per case,
  all lesions together; lesion precision / recall NaN when undefined.
--protocol lits: every figure as the official LiTS challenge scorer (lits-challenge-scoring,
  program/evaluate.py) computes it, the numbers to set beside a paper's LiTS table:
  RVD = medpy ravd(reference, prediction) = (|G| - |P|) / |P|; a prediction without label 1 (even
  one holding tumour) has no liver: Dice 0, VOE 1, RVD / ASSD / RMSD / MSD 9001, tumour burden
  9001; tumour burden max = the largest signed error burden(G) - burden(P); tumour Dice /
  Jaccard / VOE / RVD / ASSD / RMSD / MSD over the detected lesions (IoU > 0.5) of all cases, by
  the scorer's lesion matching (tumour Dice per case and global Dice are the same in both
  protocols); precision / recall 0 when undefined. summary.json also lists the
  figures under the scorer's names ("scores_txt"). Refused: a truth without liver (the scorer
  cannot score it).

Either protocol refuses a prediction whose orientation, shape, spacing or affine differs from its
truth's (a left-right mirrored prediction is not scored; float noise in the affine is accepted).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of `liverseg evaluate` to `parser`."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--pred", required=True, metavar="DIR",
                        help="predicted label volumes: segmentation-N / test-segmentation-N / prediction-N .nii[.gz]")
    parser.add_argument("--truth", required=True, metavar="DIR",
                        help="truth label volumes with the same LiTS names (0 background, 1 liver, 2 tumour)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder for per_case.csv and summary.json (written only on success)")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default="liverseg",
                        help="summary conventions: liverseg (the project's; default) or lits (the official LiTS "
                             "scorer's figures, exactly, plus scores.txt); see above")
    parser.add_argument("--cases", type=case_numbers, default=None, metavar="N,M,...",
                        help="score only these truth cases (case numbers; ranges such as 3-5 allowed)")
    parser.add_argument("--predicted-only", action="store_true",
                        help="score only the truth cases that have a prediction (default: every truth case "
                             "must have one)")
    parser.add_argument("--assd", choices=sorted(SURFACE_DEFINITIONS), default=None,
                        help="surface definition of ASSD / RMSD / MSD / HD95 under --protocol liverseg: lits "
                             "(18-neighbourhood, the LiTS scorer; default), medpy (6-neighbourhood, "
                             "medpy.metric.binary) or chaos; --protocol lits always uses lits")


def case_numbers(text: str) -> list[int]:
    """`--cases 3,10,12` (or ranges `3-5`) -> [3, 10, 12]."""
    numbers = []
    for part in (p.strip() for p in text.split(",")):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise argparse.ArgumentTypeError(f"{text!r}: expected case numbers such as 3,10 or 3-5")
        numbers.extend(range(int(lo), int(hi or lo) + 1))
    return numbers


def run(args: argparse.Namespace) -> int:
    """Score the predictions, write the outputs, print the tables; 0 on success."""
    from liverseg.evaluation import evaluate_folders

    protocol = getattr(args, "protocol", "liverseg")
    from liverseg.io.atomic import check_output_folder

    check_output_folder(args.out, "--out")
    evaluate_folders(args.pred, args.truth, args.out, assd=args.assd or "lits", protocol=protocol,
                     cases=getattr(args, "cases", None), predicted_only=getattr(args, "predicted_only", False))
    return 0
