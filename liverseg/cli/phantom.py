"""`liverseg phantom`: the synthetic CT phantom in LiTS naming (same as `python -m data_prep.phantom`)."""
from __future__ import annotations


def configure(parser) -> None:
    from data_prep.phantom import add_arguments

    add_arguments(parser)


def run(args) -> int:
    from data_prep.phantom import run_args

    return run_args(args)
