"""`liverseg reproduce PAPER [options]`: the same command as `python -m liverseg reproduce <paper>`."""
from __future__ import annotations

import argparse


def configure(parser) -> None:
    from liverseg.registry import papers

    parser.add_argument("paper", choices=papers(), help="the paper to reproduce")
    parser.add_argument("options", nargs=argparse.REMAINDER,
                        help="--profile, --data-dir, --dataset, --run-dir, --seed, --set, --dry-run "
                             "(`liverseg reproduce PAPER --help`)")


def run(args) -> int:
    from liverseg.commands import OneLineParser, preload_tensorflow
    from liverseg.registry import paper
    from liverseg.runner.options import add_arguments
    from liverseg.runner.run import run as run_paper

    preload_tensorflow()
    spec = paper(args.paper)
    parser = add_arguments(OneLineParser(prog=f"liverseg reproduce {spec.name}"), spec)
    options = parser.parse_args(args.options)
    return run_paper(spec, options)
