"""The paper runner: everything between a paper's description (its `Paper`) and its report.

    run directory (config.json, versions.json) -> phantom or real data -> slice cache -> split.json
    -> each training stage (skipped when done) -> per-case inference of every variant (skipped
    per case) -> evaluation/<variant>/ -> report.md + figures -> metrics.json -> done.json (last)

A run is finished only when `done.json` exists. Re-running the same command resumes the newest
unfinished run with the same configuration. Under `TF_CONFIG` (multi-worker) the strategy is
created before anything else, every worker trains, and only the chief writes the run directory
and goes on to inference and the report.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from liverseg.config import to_dict
from liverseg.io.atomic import atomic_write_json
from liverseg.io.run_layout import RunDir
from liverseg.runner import data as run_data
from liverseg.runner.options import add_arguments, resolve_config, runs_root
from liverseg.runner.predictions import evaluate_variant, predict_variant
from liverseg.runner.run_log import RunLog, StageTimes, plural, resume_command


class Progress:
    """Stage lines with elapsed time: `[3/7] fine: ...` and `fine done in 48 s (total 2:10)`."""

    def __init__(self, names: list[str], expected_minutes: float | None, times=None):
        self.names, self.start, self.times = names, time.perf_counter(), times
        plan = " -> ".join(names)
        tail = f"; expected about {expected_minutes:g} min on 2 CPU cores" if expected_minutes else ""
        print(f"stages: {plan}{tail}", flush=True)

    def begin(self, name: str, detail: str = "") -> float:
        print(f"[{self.names.index(name) + 1}/{len(self.names)}] {name}{': ' + detail if detail else ''}", flush=True)
        return time.perf_counter()

    def end(self, name: str, began: float) -> None:
        total, took = time.perf_counter() - self.start, time.perf_counter() - began
        if self.times is not None:
            self.times.add(name, took)
        print(f"{name} done in {took:.0f} s (total {int(total // 60)}:{int(total % 60):02d})",
              flush=True)


def choose_run_dir(spec, cfg, run_dir: Path | None) -> Path:
    from liverseg.runner.run_dir import create_run_dir, latest_unfinished_run

    root = runs_root()
    if run_dir is None:
        run_dir = latest_unfinished_run(spec.name, cfg.profile, to_dict(cfg), root=root)
        if run_dir is not None:
            print(f"resuming unfinished run {run_dir} (same configuration; pass --run-dir for a new one)")
    return create_run_dir(spec.name, cfg.profile, run_dir, root=root)


def train_stage(cache, split: dict, stage, cfg, run_dir: Path) -> None:
    from liverseg.train.distribution import worker_count
    from liverseg.train.fit import fit, set_seed

    if RunDir(run_dir).stage(stage.name).done.is_file():
        print(f"skipping {stage.name}: already done", flush=True)
        return
    set_seed(cfg.seed)  # before the datasets: input pipelines derive unseeded op seeds from it
    train, val, steps = run_data.stage_datasets(cache, split, stage, cfg.seed, workers=worker_count())
    fit(_initialised(stage, run_dir), train, val, stage=stage.name, run_dir=run_dir, train=stage.train, loss=stage.loss(),
        metrics=stage.metrics(), seed=cfg.seed, steps_per_epoch=steps)


def _initialised(stage, run_dir: Path):
    """The stage's model builder, warm-started from the earlier stages named in `stage.init_from`."""
    if not stage.init_from:
        return stage.build_model

    def build():
        from liverseg.train.warm_start import warm_start

        sources = {part: RunDir(run_dir).checkpoint(name) for part, name in stage.init_from.items()}
        return warm_start(stage.build_model(), sources)

    return build


def stages_for(spec, cfg, variants) -> list:
    """The training stages `variants` need, in the paper's order: the stages their predictors load
    (`spec.variant_stages`) and, transitively, the stages those warm-start from."""
    ctx = spec.context(cfg)
    stages = list(spec.stages(ctx))
    by_name = {s.name: s for s in stages}
    needed, todo = set(), [name for v in variants for name in spec.variant_stages(ctx, v)]
    while todo:
        name = todo.pop()
        if name not in by_name:
            raise ValueError(f"{spec.name}: variant_stages names {name!r}, which is not a stage")
        if name not in needed:
            needed.add(name)
            todo.extend(by_name[name].init_from.values())
    return [s for s in stages if s.name in needed]


def dry_run(spec, cfg) -> int:
    for stage in spec.stages(spec.context(cfg)):
        print(f"\n== {stage.name} ==")
        stage.build_model().summary()
    print(json.dumps(to_dict(cfg), indent=1))
    print("dry run: models built, nothing trained or written")
    return 0


def _val_fraction_and_gap(stages) -> tuple[float, int]:
    if not stages or not stages[0].sources:  # a method that trains nothing
        return 0.15, 0
    first = stages[0].sources[0]
    return first.val_fraction, max(s.context for stage in stages for s in stage.sources)


def run(spec, args) -> int:
    """Reproduce one paper end to end with the parsed options; 0 on success. The console goes to
    `run.log` too; an interrupt names the command that resumes the run. `--folds K`: K runs, one per
    patient fold (`liverseg.runner.folds`)."""
    from liverseg.train.distribution import get_strategy, is_chief, worker_run_dir

    cfg = resolve_config(spec, args)
    if args.dry_run:
        return dry_run(spec, cfg)
    if cfg.folds:
        from liverseg.runner.folds import run_folds

        return run_folds(spec, cfg, args, pipeline)
    get_strategy()  # first: MultiWorkerMirroredStrategy must exist before any other TensorFlow op
    # only the chief picks (or creates) the run directory; other workers train in a scratch folder
    run_dir = worker_run_dir(choose_run_dir(spec, cfg, args.run_dir) if is_chief() else args.run_dir)
    with RunLog(run_dir):
        try:
            pipeline(spec, cfg, run_dir, split_file=args.split, protocol=getattr(args, "protocol", "liverseg"))
            return 0
        except KeyboardInterrupt:
            print(f"interrupted; finished stages are kept. Resume with: {resume_command(run_dir)}",
                  file=sys.stderr, flush=True)
            raise


def pipeline(spec, cfg, run_dir: Path, *, variants=None, split_file: Path | None = None, split: dict | None = None,
             shared_cache: Path | None = None, protocol: str = "liverseg", report: bool = True) -> dict | None:
    """The one pipeline of `reproduce` and `compare`: config and versions, the slice cache, the split,
    the training stages, then (on the chief) calibration, inference and evaluation of `variants`; with
    `report`, the paper's own evaluation, report.md, metrics.json, the expected-score check (only under
    the project's protocol, in which the expected scores were recorded) and `done.json` last. Every step
    is skipped when done. Returns the summaries per variant (None on a worker).

    `variants` (default: all) trains only the stages they need (`stages_for`); `split_file` / `split`: a
    patient split given instead of the paper's policy; `shared_cache`: a folder whose `cache/` is built
    once and linked into the run (the folds of a comparison or a cross-validation)."""
    from liverseg.runner.run_dir import write_config, write_versions
    from liverseg.train.distribution import is_chief

    layout = RunDir(run_dir)
    variants = tuple(spec.variants if variants is None else variants)
    print(f"run directory: {run_dir} (console also in {layout.log})", flush=True)
    write_config(run_dir, to_dict(cfg), spec.name, cfg.profile)
    write_versions(run_dir)
    stages = list(spec.stages(spec.context(cfg, run_dir))) if variants == tuple(spec.variants) else \
        stages_for(spec, cfg, variants)
    names = ["prepare", *[s.name for s in stages], "inference", "evaluation", *(["report"] if report else [])]
    progress = Progress(names, cfg.expected_minutes if report else None, StageTimes(run_dir) if is_chief() else None)
    began = progress.begin("prepare", f"dataset {cfg.dataset}")
    if shared_cache is not None:
        run_data.prepare_cache(spec.name, cfg, shared_cache)
        run_data.link_cache(layout.cache, RunDir(shared_cache).cache)
    cache = run_data.prepare_cache(spec.name, cfg, run_dir)
    split = run_data.make_split(spec, cache, cfg, run_dir, *_val_fraction_and_gap(stages), split_file=split_file,
                                given=split)
    progress.end("prepare", began)
    for stage in stages:
        began = progress.begin(stage.name, plural(stage.train.epochs, "epoch"))
        train_stage(cache, split, stage, cfg, run_dir)
        progress.end(stage.name, began)
    if not is_chief():
        print("worker: training done; the chief writes predictions and the report")
        return None
    ctx = spec.context(cfg, run_dir, cache, split)
    spec.calibrate(ctx)
    began = progress.begin("inference", f"{len(split['test'])} test case(s), variants {', '.join(variants)}")
    for variant in variants:
        predict_variant(spec, cache, cfg, split, run_dir, variant)
    progress.end("inference", began)
    began = progress.begin("evaluation")
    summary = {variant: evaluate_variant(cache, split, run_dir, variant, protocol) for variant in variants}
    if report:
        _report(spec, ctx, summary, stages, progress, began, protocol)
    else:
        progress.end("evaluation", began)
    return summary


def _report(spec, ctx, summary: dict, stages, progress: Progress, began: float, protocol: str) -> None:
    """The paper's own evaluation, the report, the expected-score check and `done.json` (last)."""
    from liverseg.runner.expected import check_expected, run_scores
    from liverseg.runner.reporting import write_run_report

    images, extra = [], spec.extra_evaluation(ctx)
    if extra is not None:
        summary["extra"], images = extra
    progress.end("evaluation", began)
    began = progress.begin("report")
    write_run_report(spec, ctx.cache, ctx.cfg, ctx.split, summary, ctx.run_dir, [s.name for s in stages], images)
    check = check_expected(spec, ctx.cfg, run_scores(spec, summary)) if protocol == "liverseg" else None
    layout = RunDir(ctx.run_dir)
    atomic_write_json(layout.done, {"paper": spec.name, "profile": ctx.cfg.profile, "expected_check": check})
    progress.end("report", began)
    print(f"done: {layout.report}", flush=True)


def reproduce(spec, argv=None) -> int:
    """`python -m liverseg reproduce <paper>`: parse, run, one-line errors (exit 2)."""
    from liverseg.commands import run_command

    return run_command(f"liverseg reproduce {spec.name}", lambda p: add_arguments(p, spec),
                       lambda args: run(spec, args), argv, f"Reproduce {spec.title} end to end.", tensorflow=True)


__all__ = ["run", "reproduce", "pipeline", "train_stage", "stages_for", "choose_run_dir"]
