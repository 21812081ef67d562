"""`liverseg phantom`: the synthetic CT phantom in LiTS naming (same as `python -m data_prep.phantom`)."""
from __future__ import annotations

from pathlib import Path


def configure(parser) -> None:
    parser.add_argument("--output", required=True, type=Path, help="output folder")
    parser.add_argument("--cases", required=True, type=int, help="number of cases")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--size", type=int, default=512, help="in-plane size in pixels (default 512)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from data_prep.phantom import write_phantom

    write_phantom(args.output, args.cases, args.seed, args.size, progress=not args.quiet)
    return 0
