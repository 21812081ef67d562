"""The `liverseg` console script.

    liverseg prep      --dataset {lits,msd,ircadb,phantom} --input DIR --output DIR --paper NAME
    liverseg evaluate  --pred DIR --truth DIR --out DIR
    liverseg predict   --run RUN_DIR -i CT|FOLDER -o SEG.nii.gz|FOLDER [--statistics] [--output-type dicom-seg]
    liverseg phantom   --output DIR --cases N --seed S [--size 512]
    liverseg reproduce PAPER [--profile cpu] [--data-dir DIR --dataset lits|msd|ircadb] [--run-dir DIR]
    liverseg compare   [--profile cpu] [--papers a,b] [--out compare] [--data-dir DIR --dataset lits] [--folds K]

Every error a user can cause ends as one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from liverseg.commands import OneLineParser, invoke, preload_tensorflow

COMMANDS = {
    "prep": ("liverseg.cli.prep", "prepare a slice cache with a paper's preprocessing recipe"),
    "evaluate": ("liverseg.cli.evaluate", "score LiTS-named predictions against the truth (LiTS protocol)"),
    "predict": ("liverseg.cli.predict", "segment a CT volume with a trained run's whole pipeline"),
    "phantom": ("liverseg.cli.phantom", "write the synthetic CT phantom (LiTS naming)"),
    "reproduce": ("liverseg.cli.reproduce", "reproduce a paper end to end (same options as python -m liverseg reproduce <paper>)"),
    "compare": ("liverseg.cli.compare", "every paper's default variant on one common split and test set"),
    "export": ("liverseg.cli.export", "write a run's networks as ONNX or TensorFlow SavedModel"),
}
# commands that load Keras (a paper package, a model): TensorFlow starts with its C++ notices muted
NEEDS_TENSORFLOW = {"predict", "prep", "reproduce", "compare", "export"}


def build_parser() -> argparse.ArgumentParser:
    from liverseg import __version__

    parser = OneLineParser(prog="liverseg", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"liverseg {__version__}")
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
    return invoke(f"liverseg {args.command}", importlib.import_module(args._module).run, args)


if __name__ == "__main__":
    sys.exit(main())
