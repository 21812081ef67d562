"""`liverseg prep`: write a paper's preprocessed slice cache (see `liverseg.data.cache_builder`)."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from liverseg.data.cache_builder import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Build the cache; a LiversegError propagates to `liverseg.cli.main`, which prints it as one line."""
    from liverseg.data.cache_builder import run_args

    return run_args(args)
