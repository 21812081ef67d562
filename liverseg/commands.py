"""What every command-line entry shares: one-line usage errors, one-line user errors, quiet TensorFlow start-up.

Stand-alone commands (`python -m data_prep.phantom`, `python -m liverseg reproduce <paper>`)
and the `liverseg` console script both go through `run_command` / `invoke`: a `LiversegError`
becomes one line on stderr and exit status 2, Ctrl-C exit status 130.
"""
from __future__ import annotations

import argparse
import os
import sys

from liverseg.errors import LiversegError


def preload_tensorflow() -> None:
    """Import TensorFlow and Keras with file descriptor 2 muted: TensorFlow's C++ start-up notices
    (oneDNN, CPU features) are written before TF_CPP_MIN_LOG_LEVEL applies and would break the
    one-line error contract. Python exceptions are unaffected."""
    if "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def run_command(prog: str, add_arguments, run, argv=None, description: str = "",
                tensorflow: bool = False) -> int:
    """Entry of a stand-alone command (`python -m ...`): parse, run, and turn a LiversegError into
    one line on stderr with exit status 2 (Ctrl-C: exit status 130)."""
    parser = add_arguments(OneLineParser(prog=prog, description=description))
    args = parser.parse_args(argv)
    if tensorflow:
        preload_tensorflow()
    return invoke(prog, run, args)


def invoke(prog: str, run, args) -> int:
    try:
        return int(run(args) or 0)
    except LiversegError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
