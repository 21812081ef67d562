"""`liverseg prep`: write a paper's preprocessed slice cache (the work is `liverseg.data.cache_builder`).

    liverseg prep --dataset lits --input LITS_DIR --output cache/gong --paper gong
    python -m liverseg.cli.main prep --dataset ircadb --input 3Dircadb1 --output cache/li --paper li_dalunet --jobs 4
"""
from __future__ import annotations

import argparse
from pathlib import Path

PROFILES = ("paper", "cpu", "smoke")


def configure(parser: argparse.ArgumentParser) -> None:
    from data_prep.sources import DATASETS

    parser.add_argument("--dataset", required=True, metavar="{" + ",".join(DATASETS) + "}",
                        help="source layout: LiTS / phantom (volume-N + segmentation-N), msd (Task03_Liver), "
                             "ircadb (3D-IRCADb patient folders)")
    parser.add_argument("--input", required=True, type=Path, help="folder with the source data")
    parser.add_argument("--output", required=True, type=Path, help="slice cache folder to write")
    parser.add_argument("--paper", required=True, help="paper whose recipe to apply (experiments/<paper>)")
    parser.add_argument("--profile", default="paper", metavar="{" + ",".join(PROFILES) + "}",
                        help="config profile: paper (default; the paper's preprocessing at full size), cpu or smoke")
    parser.add_argument("--cases", type=int, default=None, help="use only the first N cases")
    parser.add_argument("--jobs", type=int, default=1, help="cases processed in parallel (default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="rebuild the cache in --output even if it was made with another recipe or other cases")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    """Build the cache; a LiversegError propagates to `liverseg.cli.main`, which prints it as one line."""
    from liverseg.data.cache_builder import prepare
    from liverseg.io.atomic import check_output_folder

    check_output_folder(args.output, "--output")
    prepare(args.dataset, args.input, args.output, args.paper, profile=args.profile, cases=args.cases,
            jobs=args.jobs, quiet=args.quiet, overwrite=args.overwrite)
    return 0
