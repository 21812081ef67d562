"""`liverseg compare`: the default variant of every paper, trained on one common patient split and
scored on the same test volumes by the same LiTS-protocol scorer.

    <out>/split.json              the common split: patients, seeded, stratified by tumour presence
    <out>/runs/<paper>/           a run of the paper's default variant on that split (only the stages
                                  the variant needs); `compared.json` in it, written last, marks it done
    <out>/report.md, metrics.json, per_case.csv, per_case_dice.png, same_slice.png   (compare_report)

Every paper reads the same source: the profile's phantom (one for all papers) or `--data-dir`. A
finished compare run with the same configuration and split is reused; so is a finished run of
`make reproduce-<paper>` with the same configuration whose test cases hold the common test cases and
which trained and validated on none of them (its scores are then taken on the common cases only).
"""
from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from liverseg.config import to_dict
from liverseg.errors import OptionError
from liverseg.io.atomic import atomic_write_json, read_json

MARKER = "compared.json"


@dataclass(frozen=True)
class CompareOptions:
    out: Path
    papers: tuple[str, ...]
    profile: str = "cpu"
    data_dir: Path | None = None
    dataset: str | None = None
    seed: int = 0
    val_fraction: float = 0.15  # CHOICE: about 70 / 15 / 15 % of the patients, and at least one of each
    test_fraction: float = 0.25  # CHOICE: a quarter, so that the 16-case cpu phantom tests 4 patients
    reuse_paper_runs: bool = True
    protocol: str = "liverseg"  # summary conventions of the report: liverseg or lits (liverseg.evaluation.PROTOCOLS)


@dataclass
class PaperRun:
    """One paper's compared run: where it is and whether this call trained it."""

    spec: object
    cfg: object
    run_dir: Path
    variant: str
    reused: str  # "" (trained now), "compare run" or "paper run"


def paper_configs(options: CompareOptions) -> dict:
    """{paper: (spec, cfg)}: every paper's profile on the same source and seed; on the phantom the
    first paper's phantom for all (the profiles share one; a paper whose profile differs is moved to it)."""
    from liverseg.registry import paper
    from liverseg.runner.options import resolve_config

    args = argparse.Namespace(dataset=options.dataset, data_dir=options.data_dir, seed=options.seed, set=[])
    out: dict = {}
    for name in options.papers:
        spec = paper(name)
        if options.profile not in spec.profiles:
            raise OptionError(f"{name} has no profile {options.profile!r} (it has {', '.join(spec.profiles)})")
        cfg = resolve_config(spec, argparse.Namespace(**vars(args), profile=options.profile))
        out[name] = (spec, cfg)
    phantom = next(iter(out.values()))[1].phantom
    return {name: (spec, replace(cfg, phantom=phantom)) for name, (spec, cfg) in out.items()}


def split_digest(split: dict) -> str:
    text = json.dumps({k: sorted(split[k]) for k in ("train", "val", "test")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def common_split(cache, options: CompareOptions) -> dict:
    """`<out>/split.json`, made once from the cases of the first paper's cache, stratified by tumour in
    their source labels (so that no paper's preprocessing decides it); every later paper's cache must hold
    the same cases (it reads the same source)."""
    from liverseg.data.splits import split_patients
    from liverseg.runner.data import check_split, source_has_tumour

    path = options.out / "split.json"
    cases = [str(c) for c in cache.case_ids]
    made = {"seed": options.seed, "val_fraction": options.val_fraction, "test_fraction": options.test_fraction}
    if path.is_file():
        split = read_json(path)
        if {k: split.get(k) for k in made} != made:
            raise OptionError(f"{path}: made with seed {split.get('seed')}, val_fraction {split.get('val_fraction')}, "
                              f"test_fraction {split.get('test_fraction')}, not {made}; delete it or pass another --out")
    else:
        has_tumour = {c: source_has_tumour(cache, c) for c in cases}
        parts = split_patients(cases, options.val_fraction, options.test_fraction, options.seed,
                               stratify=has_tumour)
        split = {"mode": "patients", **parts, **made,
                 "note": f"common split of liverseg compare: {len(parts['train'])} / {len(parts['val'])} / "
                         f"{len(parts['test'])} patients (seed {options.seed}, stratified by tumour presence)"}
        atomic_write_json(path, split)
    check_split(split, cases, path, hint="it was made for other data: delete it or pass another --out")
    return split


def _finished_paper_run(spec, cfg, split: dict, variant: str) -> Path | None:
    """A finished `make reproduce-<paper>` run with the same configuration whose test cases hold the
    common test cases, none of them trained or validated on, with the variant's predictions."""
    from liverseg.runner.options import runs_root

    wanted = to_dict(cfg)
    for done in sorted((runs_root() / spec.name).glob("*/done.json"), reverse=True):
        run_dir = done.parent
        try:
            same = read_json(run_dir / "config.json").get("config") == wanted
            own = read_json(run_dir / "split.json")
        except (OSError, ValueError):
            continue
        test = set(split["test"])
        if (same and own.get("mode") == "patients" and test <= set(own["test"])
                and not test & (set(own["train"]) | set(own["val"]))
                and (run_dir / "evaluation" / variant / "per_case.csv").is_file()):
            return run_dir
    return None


def _train_and_predict(spec, cfg, split: dict, run_dir: Path, variant: str) -> None:
    """The runner's steps for one variant: cache, the common split, the variant's stages, calibration,
    inference and evaluation of the test cases (each step skipped when already done)."""
    from liverseg.runner import data as run_data
    from liverseg.runner.predictions import evaluate_variant, predict_variant
    from liverseg.runner.run import stages_for, train_stage
    from liverseg.runner.run_dir import write_config, write_versions

    write_config(run_dir, to_dict(cfg), spec.name, cfg.profile)
    write_versions(run_dir)
    cache = run_data.prepare_cache(spec.name, cfg, run_dir)
    run_data.check_split(split, cache.case_ids, run_dir / "cache", hint=f"{spec.name} reads other data than the common split's")
    atomic_write_json(run_dir / "split.json", split)
    for stage in stages_for(spec, cfg, [variant]):
        print(f"{spec.name}: stage {stage.name}", flush=True)
        train_stage(cache, split, stage, cfg, run_dir)
    if spec.calibrate is not None:
        spec.calibrate(cache, cfg, split, run_dir)
    predict_variant(spec, cache, cfg, split, run_dir, variant)
    evaluate_variant(cache, split, run_dir, variant)


def run_paper(spec, cfg, split: dict, options: CompareOptions) -> PaperRun:
    """The paper's default variant on the common split: reused when finished, else trained (resumed)."""
    variant = spec.default_variant
    run_dir = options.out / "runs" / spec.name
    record = {"paper": spec.name, "variant": variant, "config": to_dict(cfg), "split": split_digest(split)}
    marker = run_dir / MARKER
    if marker.is_file():
        done = read_json(marker)
        if {k: done.get(k) for k in record} == record:
            return PaperRun(spec, cfg, run_dir, variant, "compare run")
        raise OptionError(f"{marker}: made with another configuration or split; delete {run_dir} or pass another --out")
    if (run_dir / "config.json").is_file() and read_json(run_dir / "config.json").get("config") != record["config"]:
        raise OptionError(f"{run_dir}: an unfinished run with another configuration; delete it or pass another --out")
    if options.reuse_paper_runs:
        found = _finished_paper_run(spec, cfg, split, variant)
        if found is not None:
            return PaperRun(spec, cfg, found, variant, "paper run")
    _train_and_predict(spec, cfg, split, run_dir, variant)
    atomic_write_json(marker, record)
    return PaperRun(spec, cfg, run_dir, variant, "")


def compare(options: CompareOptions) -> list[PaperRun]:
    """Every paper of `options.papers` on the common split, then the report (`compare_report`)."""
    from liverseg.runner import data as run_data
    from liverseg.runner.compare_report import write_compare_report

    configs = paper_configs(options)
    options.out.mkdir(parents=True, exist_ok=True)
    split = None
    runs = []
    for i, (name, (spec, cfg)) in enumerate(configs.items(), 1):
        if split is None:
            # the first paper's cache lists the cases (every paper reads the same source)
            first_dir = options.out / "runs" / name
            split = common_split(run_data.prepare_cache(name, cfg, first_dir), options)
            print(f"common split: {split['note']}", flush=True)
        print(f"[{i}/{len(configs)}] {name}: default variant {spec.default_variant}", flush=True)
        runs.append(run_paper(spec, cfg, split, options))
        if runs[-1].reused:
            print(f"{name}: reusing the finished {runs[-1].reused} {runs[-1].run_dir}", flush=True)
    report = write_compare_report(runs, split, options)
    print(f"done: {report}", flush=True)
    return runs


__all__ = ["CompareOptions", "PaperRun", "compare", "common_split", "paper_configs", "run_paper", "split_digest"]
