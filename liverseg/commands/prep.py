"""`liverseg prep`: write a paper's preprocessed slice cache (see `data_prep.prepare`)."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from data_prep.prepare import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Build the cache; a LiversegError propagates to `liverseg.cli`, which prints it as one line."""
    from data_prep.prepare import run_args

    return run_args(args)
