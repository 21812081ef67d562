"""`liverseg compare`: the default variant of every paper, trained on one common patient split and
scored on the same test volumes by the same LiTS-protocol scorer.

    <out>/split.json              the common split: patients, seeded, stratified by tumour presence
    <out>/runs/<paper>/           a run of the paper's default variant on that split (only the stages
                                  the variant needs); `compared.json` in it, written last, marks it done
    <out>/report.md, metrics.json, per_case.csv, per_case_dice.png, same_slice.png,
          rank_stability.png, significance.png   (compare.report; statistics: evaluation.paired_stats)

`--folds K` (`options.folds`) replaces the single split by K patient folds (`liverseg.data.splits.
patient_folds`: seeded, stratified by tumour presence, each case in exactly one test fold), so that every
case is scored once by every method, by a network that never trained or validated on it:

    <out>/folds.json              the K splits
    <out>/caches/<paper>/cache/   the paper's slice cache, built once and linked into each fold's runs
    <out>/fold-<k>/runs/<paper>/  the paper's run on fold k (reused and resumed as in the single split)

The default phantom compare (cpu profile) runs on a larger phantom than the papers' own cpu runs
(`PHANTOM_CASES`) with its own fractions (`PHANTOM_FRACTIONS`) so that it tests at least 10 cases.

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
from liverseg.io.run_layout import CompareDir, FoldsDir, RunDir



@dataclass(frozen=True)
class CompareOptions:
    out: Path
    papers: tuple[str, ...]
    profile: str = "cpu"
    data_dir: Path | None = None
    dataset: str | None = None
    seed: int = 0
    val_fraction: float | None = None  # None: PHANTOM_FRACTIONS of the profile on the phantom, else FRACTIONS
    test_fraction: float | None = None  # the same; unused with folds (each fold tests about 1 / folds)
    reuse_paper_runs: bool = True
    protocol: str = "liverseg"  # summary conventions of the report: liverseg or lits (liverseg.evaluation.PROTOCOLS)
    folds: int = 0  # 0: the single split; K >= 2: K patient folds, every case tested once (out-of-fold)
    phantom_cases: int | None = None  # None: PHANTOM_CASES of the profile (else the first paper's phantom)


# CHOICE: about 70 / 15 / 15 % of the patients (and at least one of each), a quarter tested: on real data
FRACTIONS = (0.15, 0.25)
# CHOICE: the default phantom compare tests 10 cases (the 4 test cases of a 16-case phantom could not separate
# anything; see the report's reading aid). 24 cases: 12 train, 2 validation, 10 test; training is capped in steps,
# so the 8 more cases cost caching and inference only. The smoke profile keeps its 8-case phantom.
PHANTOM_CASES = {"cpu": 24}
PHANTOM_FRACTIONS = {"cpu": (0.1, 0.42)}


def resolve_options(options: CompareOptions) -> CompareOptions:
    """The options with the defaults that depend on the source and profile filled in (idempotent)."""
    phantom = options.data_dir is None
    val, test = PHANTOM_FRACTIONS.get(options.profile, FRACTIONS) if phantom else FRACTIONS
    cases = options.phantom_cases if options.phantom_cases is not None else (
        PHANTOM_CASES.get(options.profile) if phantom else None)
    return replace(options, val_fraction=val if options.val_fraction is None else options.val_fraction,
                   test_fraction=test if options.test_fraction is None else options.test_fraction,
                   phantom_cases=cases)


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
    if options.phantom_cases is not None:
        phantom = replace(phantom, cases=int(options.phantom_cases))
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

    options = resolve_options(options)
    path = CompareDir(options.out).split
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


def check_fold_count(configs: dict, options: CompareOptions) -> None:
    """Before anything is written: enough cases for `options.folds` (one OptionError line otherwise),
    counted from the phantom's size or the dataset folder's listing."""
    from liverseg.data.splits import patient_folds
    from liverseg.runner.folds import count_cases

    n = count_cases(next(iter(configs.values()))[1])
    patient_folds([str(i) for i in range(n)], options.folds, options.seed, options.val_fraction)


def fold_splits(cache, options: CompareOptions) -> list[dict]:
    """`<out>/folds.json` (`liverseg.runner.folds.make_folds`): `options.folds` patient folds of the cache's
    cases, stratified by tumour in their source labels, made once."""
    from liverseg.runner.folds import make_folds

    options = resolve_options(options)
    return make_folds(cache, options.folds, options.seed, options.val_fraction, FoldsDir(options.out).folds)


def _finished_paper_run(spec, cfg, split: dict, variant: str) -> Path | None:
    """A finished `make reproduce-<paper>` run with the same configuration whose test cases hold the
    common test cases, none of them trained or validated on, with the variant's predictions."""
    from liverseg.runner.options import runs_root

    wanted = to_dict(cfg)
    for done in sorted((runs_root() / spec.name).glob("*/done.json"), reverse=True):
        run_dir = done.parent
        try:
            same = read_json(RunDir(run_dir).config).get("config") == wanted
            own = read_json(RunDir(run_dir).split)
        except (OSError, ValueError):
            continue
        test = set(split["test"])
        if (same and own.get("mode") == "patients" and test <= set(own["test"])
                and not test & (set(own["train"]) | set(own["val"]))
                and RunDir(run_dir).per_case(variant).is_file()):
            return run_dir
    return None


def _train_and_predict(spec, cfg, split: dict, run_dir: Path, variant: str, shared_cache: Path | None = None) -> None:
    """The runner's pipeline (`liverseg.runner.run.pipeline`) for one variant on the common split, without
    the paper's report: cache, split, the variant's stages, calibration, inference and evaluation."""
    from liverseg.runner.run import pipeline
    from liverseg.runner.run_log import RunLog

    with RunLog(run_dir):
        pipeline(spec, cfg, run_dir, variants=[variant], split=split, shared_cache=shared_cache, report=False)


def run_paper(spec, cfg, split: dict, options: CompareOptions, shared_cache: Path | None = None) -> PaperRun:
    """The paper's default variant on the common split (of `options.out`, a fold's folder with folds):
    reused when finished, else trained (resumed)."""
    variant = spec.default_variant
    run_dir = CompareDir(options.out).run(spec.name)
    record = {"paper": spec.name, "variant": variant, "config": to_dict(cfg), "split": split_digest(split)}
    marker = RunDir(run_dir).compared
    if marker.is_file():
        done = read_json(marker)
        if {k: done.get(k) for k in record} == record:
            return PaperRun(spec, cfg, run_dir, variant, "compare run")
        raise OptionError(f"{marker}: made with another configuration or split; delete {run_dir} or pass another --out")
    config = RunDir(run_dir).config
    if config.is_file() and read_json(config).get("config") != record["config"]:
        raise OptionError(f"{run_dir}: an unfinished run with another configuration; delete it or pass another --out")
    if options.reuse_paper_runs:
        found = _finished_paper_run(spec, cfg, split, variant)
        if found is not None:
            return PaperRun(spec, cfg, found, variant, "paper run")
    _train_and_predict(spec, cfg, split, run_dir, variant, shared_cache)
    atomic_write_json(marker, record)
    return PaperRun(spec, cfg, run_dir, variant, "")


def _announce(run: PaperRun) -> None:
    if run.reused:
        print(f"{run.spec.name}: reusing the finished {run.reused} {run.run_dir}", flush=True)


def compare(options: CompareOptions) -> list[PaperRun]:
    """Every paper of `options.papers` on the common split (or on each of `options.folds` folds), then the
    report (`compare_report`). Returns the runs, fold after fold."""
    from liverseg.runner import data as run_data
    from liverseg.compare.report import write_compare_report

    options = resolve_options(options)
    configs = paper_configs(options)
    if options.folds:
        check_fold_count(configs, options)
    options.out.mkdir(parents=True, exist_ok=True)
    groups = []
    if not options.folds:
        split = None
        runs = []
        for i, (name, (spec, cfg)) in enumerate(configs.items(), 1):
            if split is None:
                # the first paper's cache lists the cases (every paper reads the same source)
                first_dir = CompareDir(options.out).run(name)
                split = common_split(run_data.prepare_cache(name, cfg, first_dir), options)
                print(f"common split: {split['note']}", flush=True)
            print(f"[{i}/{len(configs)}] {name}: default variant {spec.default_variant}", flush=True)
            runs.append(run_paper(spec, cfg, split, options))
            _announce(runs[-1])
        groups.append((split, runs))
    else:
        name, (spec, cfg) = next(iter(configs.items()))
        out = CompareDir(options.out)
        splits = fold_splits(run_data.prepare_cache(name, cfg, out.shared_cache(name)), options)
        for split in splits:
            fold_options = replace(options, out=out.folds().fold(split["fold"]))
            print(f"{split['note']}", flush=True)
            runs = []
            for i, (name, (spec, cfg)) in enumerate(configs.items(), 1):
                print(f"[fold {split['fold'] + 1}/{len(splits)}, {i}/{len(configs)}] {name}: default variant "
                      f"{spec.default_variant}", flush=True)
                runs.append(run_paper(spec, cfg, split, fold_options, shared_cache=out.shared_cache(name)))
                _announce(runs[-1])
            groups.append((split, runs))
    report = write_compare_report(groups, options)
    print(f"done: {report}", flush=True)
    return [run for _, runs in groups for run in runs]


__all__ = ["FRACTIONS", "PHANTOM_CASES", "PHANTOM_FRACTIONS", "CompareOptions", "PaperRun", "check_fold_count", "compare",
           "common_split", "fold_splits", "paper_configs", "resolve_options", "run_paper", "split_digest"]
