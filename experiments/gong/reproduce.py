"""Reproduce Gong et al. end to end, stage by stage; every stage is resumable and skipped when done.

    python -m experiments.gong.reproduce --profile cpu                         # phantom, 2 CPU cores
    python -m experiments.gong.reproduce --profile paper --data-dir LITS_DIR   # LiTS, GPU
    python -m experiments.gong.reproduce --profile smoke --run-dir /tmp/run    # seconds, tests

Stages: prepare -> train coarse -> train fine (crop) -> train fine_whole (ablation) -> cascade
inference on the test volumes -> evaluate (LiTS protocol) -> report.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from liverseg.config import override, to_dict

from experiments.gong.config import PROFILES, get_config

PAPER = "gong"
REPO = Path(__file__).resolve().parents[2]


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--profile", choices=PROFILES, default="cpu")
    p.add_argument("--data-dir", type=Path, help="LiTS folder (volume-N / segmentation-N); default: the phantom")
    p.add_argument("--dataset", choices=("lits", "msd", "phantom"), default=None,
                   help="layout of --data-dir (default lits)")
    p.add_argument("--run-dir", type=Path, help="default: the newest unfinished run with the same configuration "
                   "(a resume), else a new runs/gong/<profile>-<timestamp>")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set coarse_train.epochs=3")
    p.add_argument("--dry-run", action="store_true", help="build the models, print summaries and config, train nothing")
    return p


def resolve_config(args):
    data_dir = str(args.data_dir.resolve()) if args.data_dir else ""
    dataset = args.dataset or ("lits" if args.data_dir else "phantom")
    cfg = replace(get_config(args.profile), seed=args.seed, dataset=dataset, data_dir=data_dir)
    return override(cfg, args.set)


def phantom_dir(cfg) -> Path:
    """The phantom of a profile, generated once and cached by seed, size and number of cases."""
    from data_prep.phantom import write_phantom

    cache_root = Path(os.environ.get("LIVERSEG_CACHE_DIR", REPO / ".cache"))
    folder = cache_root / "phantom" / f"seed{cfg.phantom_seed}-size{cfg.phantom_size}-cases{cfg.phantom_cases}"
    marker = folder / "complete.json"
    if not marker.is_file():
        print(f"generating phantom: {cfg.phantom_cases} cases at {cfg.phantom_size} px -> {folder}")
        write_phantom(folder, cfg.phantom_cases, cfg.phantom_seed, size=cfg.phantom_size)
        marker.write_text(json.dumps({"cases": cfg.phantom_cases, "seed": cfg.phantom_seed, "size": cfg.phantom_size}))
    return folder


def dry_run(cfg) -> int:
    from experiments.gong.model import build_models

    for name, model in build_models(cfg).items():
        print(f"\n== {name} ==")
        model.summary()
    print(json.dumps(to_dict(cfg), indent=1))
    print("dry run: models built, nothing trained or written")
    return 0


def run(args) -> int:
    from liverseg.runner.run_dir import create_run_dir, latest_unfinished_run, write_config, write_versions

    cfg = resolve_config(args)
    if args.dry_run:
        return dry_run(cfg)
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = latest_unfinished_run(PAPER, cfg.profile, to_dict(cfg))
        if run_dir is not None:
            print(f"resuming unfinished run {run_dir} (same configuration; pass --run-dir for a new one)")
    run_dir = create_run_dir(PAPER, cfg.profile, run_dir)
    print(f"run directory: {run_dir}")
    write_config(run_dir, to_dict(cfg), PAPER, cfg.profile)
    write_versions(run_dir)
    from experiments.gong import stages

    data_dir = Path(cfg.data_dir) if cfg.data_dir else phantom_dir(cfg)
    dataset = cfg.dataset
    cache = stages.prepare(cfg, dataset, data_dir, run_dir)
    split = stages.split(cache, cfg, run_dir)
    for stage in ("coarse", "fine", "fine_whole"):
        stages.train(cache, cfg, split, stage, run_dir)
    stages.infer(cache, cfg, split, run_dir)
    summary = stages.evaluate(cache, cfg, split, run_dir)
    stages.report(cfg, split, summary, run_dir, dataset)
    print(f"done: {run_dir / 'report.md'}")
    return 0


def main(argv=None) -> int:
    from liverseg.cli.entry import run_command

    return run_command("python -m experiments.gong.reproduce", add_arguments, run, argv, __doc__.split("\n\n")[0],
                       tensorflow=True)


if __name__ == "__main__":
    sys.exit(main())
