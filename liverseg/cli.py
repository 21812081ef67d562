"""The `liverseg` console script.

    liverseg prep      --dataset {lits,msd,ircadb,phantom} --input DIR --output DIR --paper NAME
    liverseg evaluate  --pred DIR --truth DIR --out DIR
    liverseg predict   --run RUN_DIR --input CT --output SEG.nii.gz
    liverseg phantom   --output DIR --cases N --seed S [--size 512]

Every error a user can cause ends as one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from liverseg.errors import LiversegError

COMMANDS = {
    "prep": ("liverseg.commands.prep", "prepare a slice cache with a paper's preprocessing recipe"),
    "evaluate": ("liverseg.commands.evaluate", "score LiTS-named predictions against the truth (LiTS protocol)"),
    "predict": ("liverseg.commands.predict", "segment a CT volume with a trained run's whole pipeline"),
    "phantom": ("liverseg.commands.phantom", "write the synthetic CT phantom (LiTS naming)"),
}
NEEDS_TENSORFLOW = {"predict"}


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
        import keras  # noqa: F401
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
    return _invoke(prog, run, args)


def _invoke(prog: str, run, args) -> int:
    try:
        return int(run(args) or 0)
    except LiversegError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="liverseg", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).configure(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    if args.command in NEEDS_TENSORFLOW:
        preload_tensorflow()
    return _invoke(f"liverseg {args.command}", importlib.import_module(args._module).run, args)


if __name__ == "__main__":
    sys.exit(main())
