"""`liverseg compare [--profile cpu] [--papers a,b] [--out compare] [--data-dir DIR --dataset lits] [--folds K]`:
every paper's default variant on one common patient split (or K patient folds), scored on the same test
volumes, with paired statistics."""
from __future__ import annotations

from pathlib import Path

from liverseg.errors import OptionError


def configure(parser) -> None:
    parser.add_argument("--profile", default="cpu", choices=("paper", "cpu", "smoke"),
                        help="cpu (default: the phantom on 2 CPU cores), paper (real data on a GPU), smoke (tests)")
    parser.add_argument("--papers", default="", help="comma-separated papers (default: all registered)")
    parser.add_argument("--out", type=Path, default=Path("compare"),
                        help="folder of the comparison: split.json, runs/, report.md, metrics.json, figures")
    parser.add_argument("--data-dir", type=Path, help="real dataset folder; default: the phantom")
    parser.add_argument("--dataset", choices=("lits", "msd", "ircadb"), help="layout of --data-dir (default lits)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the common split and of every training")
    parser.add_argument("--test-fraction", type=float, default=None,
                        help="share of the patients tested (default 0.25; the cpu phantom: 0.42, 10 of its 24 cases)")
    parser.add_argument("--val-fraction", type=float, default=None,
                        help="share of the patients validating (default 0.15; the cpu phantom: 0.1); with --folds, "
                             "of the patients outside the fold's test cases")
    parser.add_argument("--folds", type=int, default=0, metavar="K",
                        help="K >= 2 patient folds instead of one split: every method trains K times and scores "
                             "every case once, out of fold (default: the single split)")
    parser.add_argument("--protocol", choices=("liverseg", "lits"), default="liverseg",
                        help="summary conventions: liverseg (the project's; default) or lits (the official LiTS "
                             "scorer's figures; see `liverseg evaluate --help`)")
    parser.add_argument("--no-reuse-paper-runs", action="store_true",
                        help="do not reuse finished `make reproduce-<paper>` runs, even compatible ones")


def run(args) -> int:
    from liverseg.io.atomic import check_output_folder
    from liverseg.registry import papers
    from liverseg.compare.runs import CompareOptions, compare

    check_output_folder(args.out, "--out")

    known = papers()
    chosen = tuple(p.strip() for p in args.papers.split(",") if p.strip()) or tuple(known)
    unknown = [p for p in chosen if p not in known]
    if unknown:
        raise OptionError(f"--papers: unknown paper(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.folds and args.folds < 2:
        raise OptionError(f"--folds {args.folds}: need at least 2 folds (leave it out for the single split)")
    if len(set(chosen)) != len(chosen):
        raise OptionError(f"--papers: a paper is named twice ({args.papers})")
    options = CompareOptions(out=args.out.resolve(), papers=chosen, profile=args.profile, data_dir=args.data_dir,
                             dataset=args.dataset, seed=args.seed, val_fraction=args.val_fraction,
                             test_fraction=args.test_fraction, reuse_paper_runs=not args.no_reuse_paper_runs,
                             protocol=args.protocol, folds=args.folds)
    compare(options)
    return 0
