"""The options of every `reproduce` command (`python -m liverseg reproduce <paper>` and
`liverseg reproduce <paper>` share them) and the resolved config they give."""
from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from liverseg.config import override
from liverseg.errors import OptionError

DATASETS = ("lits", "msd", "ircadb")


def runs_root() -> Path:
    """Where run directories go: `$LIVERSEG_RUNS_DIR`, else `runs/` in the working directory (never
    beside the installed package, which may be site-packages)."""
    return Path(os.environ.get("LIVERSEG_RUNS_DIR") or "runs")


def add_arguments(parser: argparse.ArgumentParser, spec) -> argparse.ArgumentParser:
    accepted = ", ".join(d for d in spec.datasets if d != "phantom")
    parser.add_argument("--profile", choices=spec.profiles, default="cpu",
                        help="paper (the paper's settings, GPU), cpu (2 CPU cores, minutes; default), smoke (tests)")
    parser.add_argument("--data-dir", type=Path, help=f"real dataset folder ({accepted}); default: the phantom")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="layout of --data-dir: lits (volume-N / segmentation-N), msd (Task03_Liver: "
                             "imagesTr / labelsTr), ircadb (3D-IRCADb patient folders); default lits")
    parser.add_argument("--run-dir", type=Path, help="default: the newest unfinished run with the same "
                        f"configuration (a resume), else a new <runs>/{spec.name}/<profile>-<timestamp>")
    parser.add_argument("--seed", type=int, default=0, help="training seed (the phantom stays fixed)")
    parser.add_argument("--split", type=Path, metavar="FILE",
                        help="patient split to use instead of the paper's (JSON with train / val / test case ids, "
                             "e.g. compare/split.json, so that `make compare` reuses the run)")
    parser.add_argument("--folds", type=int, default=None, metavar="K",
                        help="K >= 2: K-fold cross-validation by patient, one run per fold and the mean over the folds "
                             "(folds.csv, folds_summary.csv in --run-dir, default <runs>/<paper>/<profile>-folds<K>); "
                             "0: one run; default: the profile's (Liu's paper profile: 10)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set coarse_train.epochs=3")
    parser.add_argument("--protocol", choices=("liverseg", "lits"), default="liverseg",
                        help="summary conventions of the volume scores: liverseg (the project's; default) or lits "
                             "(the official LiTS scorer's figures; see `liverseg evaluate --help`)")
    parser.add_argument("--dry-run", action="store_true",
                        help="build the models, print their summaries and the config, train nothing")
    return parser


def resolve_config(spec, args):
    """The paper's profile config with the data source, seed and `--set` overrides applied."""
    if args.dataset and not args.data_dir:
        raise OptionError(f"--dataset {args.dataset} needs --data-dir (the folder that holds it)")
    dataset = args.dataset or ("lits" if args.data_dir else "phantom")
    if dataset not in spec.datasets:
        raise OptionError(f"{spec.name} does not accept dataset {dataset!r} "
                          f"(it accepts: {', '.join(spec.datasets)})")
    data_dir = str(args.data_dir.resolve()) if args.data_dir else ""
    if args.data_dir and not args.data_dir.is_dir():
        raise OptionError(f"{args.data_dir}: --data-dir is not a folder")
    cfg = replace(spec.get_config(args.profile), seed=args.seed, dataset=dataset, data_dir=data_dir)
    if getattr(args, "folds", None) is not None:
        cfg = replace(cfg, folds=int(args.folds))
    cfg = override(cfg, args.set)
    if cfg.folds == 1 or cfg.folds < 0:
        raise OptionError(f"--folds {cfg.folds}: need at least 2 folds (0: one run on the paper's split)")
    return cfg


__all__ = ["DATASETS", "runs_root", "add_arguments", "resolve_config"]
