"""Liu III-B: ten-fold cross-validation. Runs the whole pipeline once per fold (each fold's test
patients are one tenth of the patients, permuted with the seed) and writes the per-fold and mean
LiTS measures of every variant.

    python -m experiments.liu_crunet.folds --profile paper --data-dir LITS_DIR [--folds 10] [--run-dir DIR]

    DIR/fold-K/               a complete run of fold K (resumable, skipped when done)
    DIR/folds.csv             variant, fold, the LiTS measures of that fold (means over its test patients)
    DIR/folds_summary.csv     variant, mean and standard deviation over the folds
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from experiments.liu_crunet.paper import COLUMNS

MEASURES = ("liver_dice_per_case", "liver_dice_global", *COLUMNS[1:])


def fold_table(root: Path, folds: int) -> pd.DataFrame:
    """Per-variant, per-fold measures read from each fold's evaluation summaries."""
    from liverseg.io.atomic import read_json

    from experiments.liu_crunet.config import TABLE_ORDER

    rows = []
    for k in range(folds):
        for variant in TABLE_ORDER:
            summary = read_json(root / f"fold-{k}" / "evaluation" / variant / "summary.json")
            rows.append({"variant": variant, "fold": k, **{m: summary.get(m) for m in MEASURES}})
    return pd.DataFrame(rows)


def write_tables(root: Path, folds: int) -> pd.DataFrame:
    from liverseg.io.atomic import atomic_path

    table = fold_table(root, folds)
    summary = table.drop(columns="fold").groupby("variant", sort=False).agg(["mean", "std"])
    summary.columns = [f"{m}_{s}" for m, s in summary.columns]
    for name, frame, index in (("folds.csv", table, False), ("folds_summary.csv", summary, True)):
        with atomic_path(root / name) as tmp:
            frame.to_csv(tmp, index=index)
    return summary


def main(argv=None) -> int:
    import argparse

    from liverseg.commands import OneLineParser
    from liverseg.runner.options import runs_root
    from liverseg.runner.run import reproduce

    from experiments.liu_crunet.spec import PAPER

    parser = OneLineParser(prog="python -m experiments.liu_crunet.folds", add_help=True)
    parser.add_argument("--folds", type=int, default=10, help="number of folds (III-B: 10)")
    parser.add_argument("--run-dir", type=Path, help="folder of the folds (default <runs>/liu_crunet/<profile>-folds)")
    parser.add_argument("--profile", default="paper")
    args, rest = parser.parse_known_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    root = args.run_dir or runs_root() / "liu_crunet" / f"{args.profile}-folds"
    for k in range(args.folds):
        print(f"== fold {k + 1} of {args.folds} ({time.strftime('%H:%M:%S')})", flush=True)
        code = reproduce(PAPER, [*rest, "--profile", args.profile, "--run-dir", str(root / f"fold-{k}"),
                                 "--set", f"folds={args.folds}", "--set", f"fold={k}"])
        if code:
            return code
    summary = write_tables(root, args.folds)
    print(summary.round(4).to_string())
    print(f"done: {root / 'folds_summary.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
