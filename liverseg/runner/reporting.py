"""The run's report: the paper's table beside ours, training curves, per-case bars, overlays, metrics.json."""
from __future__ import annotations

from pathlib import Path

from liverseg.io.run_layout import RunDir
from liverseg.runner.data import read_source_case
from liverseg.runner.predictions import per_case_table, prediction_path, slice_scores

COMMON_NOTES = (
    "Dice per case = mean over test cases; global Dice = one Dice over all test voxels (LiTS protocol).",
    "The phantom and the cpu profile check that the pipeline works end to end; only the paper profile "
    "on the paper's data is comparable with the paper's table.",
)


def _overlays(run_dir: Path, cache, variant: str, column: str) -> list[Path]:
    from liverseg.io.volumes import read_volume
    from liverseg.report.tables import case_overlays

    def load_case(case_id):
        case = read_source_case(cache, case_id)
        pred = read_volume(prediction_path(run_dir, variant, case_id), kind="label")
        return case.image.array, case.label.array, pred.array

    return case_overlays(run_dir, per_case_table(run_dir, variant), load_case, column=column, variant=variant)


def median_case(run_dir: Path, variant: str, cases: list[str], column: str = "liver_dice") -> str:
    """The test case with the median `column` of `variant` (a typical case, not the best)."""
    table = per_case_table(run_dir, variant).sort_values([column, "case"], kind="stable")
    return str(table.case.iloc[len(table) // 2]) if len(table) else cases[0]


def variants_side_by_side(cache, split: dict, run_dir: Path, titles, default: str, out_png: Path, figure: str,
                          window) -> tuple[dict, Path]:
    """The figure every paper with several rows draws (Li Fig. 8, Bi Fig. 3: `figure`): on the median test
    case of `default`, the source, the truth and every variant's prediction side by side
    (`liverseg.report.panels.variants_figure`); `titles`: variant -> panel title, in panel order.
    Returns ({"case", "slice"}, the PNG)."""
    import numpy as np

    from liverseg.io.volumes import read_volume
    from liverseg.report.panels import variants_figure

    case_id = median_case(run_dir, default, list(split["test"]))
    case = read_source_case(cache, case_id)
    preds = {v: read_volume(prediction_path(run_dir, v, case_id), kind="label").array for v in titles}
    z, image = variants_figure(case.image.array, np.asarray(case.label.array), preds, titles, default, out_png,
                               f"{figure}: test patient {case_id}", window)
    return {"case": case_id, "slice": z}, image


def side_by_side_evaluation(ctx, titles: dict, default: str, figure: str, key: str) -> tuple[dict, list[Path]]:
    """The extra evaluation of a paper with several rows (Li Fig. 8, Bi Fig. 3): `variants_side_by_side`
    saved as the run's figure `figure` (titled `key`, e.g. "Fig. 8") and the slice-level tumour-free
    specificity of every variant of `titles` (`liverseg.evaluation.slice_scores`); `default`'s is the
    score checked against `expected_scores.json`. Summary keys: "fig8" for "Fig. 8", "rows", "scores"."""
    shown, image = variants_side_by_side(ctx.cache, ctx.split, ctx.run_dir, titles, default,
                                         RunDir(ctx.run_dir).figure(figure), key, ctx.cfg.preprocess.window)
    rows = slice_scores(ctx.cache, ctx.split, ctx.run_dir, tuple(titles))
    return {key.lower().replace(". ", ""): shown, "rows": rows, "scores": rows[default]}, [image]


VOLUME_COLUMNS = (("dice_per_case", "Dice per case"), ("dice_global", "global Dice"), ("voe", "VOE"),
                  ("rvd", "RVD"), ("assd", "ASSD (mm)"), ("msd", "MSD (mm)"))


def volume_scores_table(spec, summary: dict) -> str:
    """Per variant and structure: Dice beside VOE, RVD, ASSD and MSD (the LiTS volume measures)."""
    from liverseg.report.tables import simple_table

    rows = [[variant, structure, *[summary[variant].get(f"{structure}_{key}") for key, _ in VOLUME_COLUMNS]]
            for variant in spec.variants if isinstance(summary.get(variant), dict)
            for structure in spec.structures]
    return simple_table(["variant", "structure", *[label for _, label in VOLUME_COLUMNS]], rows)


def _minutes(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def run_record(run_dir: Path, stages: list[str]) -> str:
    """What ran, where and how long: command, hardware, versions, epochs run, wall time per stage."""
    import pandas as pd

    from liverseg.io.atomic import read_json
    from liverseg.report.tables import simple_table
    from liverseg.runner.run_log import command_line, hardware, plural, read_timings

    layout = RunDir(run_dir)
    versions = read_json(layout.versions) if layout.versions.is_file() else {}
    gpus = versions.get("gpu_names") or versions.get("gpus") or []
    git = versions.get("git") or {}
    libs = ", ".join(f"{name} {versions[name]}" for name in ("python", "keras", "tensorflow", "jax", "torch", "numpy")
                     if versions.get(name))
    timings = read_timings(run_dir)
    epochs = {}
    for stage in stages:
        history = layout.stage(stage).history
        epochs[stage] = len(pd.read_csv(history)) if history.is_file() else None
    rows = [[name, epochs.get(name) if name in epochs else "", _minutes(seconds)]
            for name, seconds in timings["stages"].items()]
    rows.append(["all stages", sum(e for e in epochs.values() if e) or "", _minutes(sum(timings["stages"].values()))])
    lines = [
        f"- Command: `{command_line()}`",
        f"- Hardware: {hardware()}; GPU: {', '.join(map(str, gpus)) if gpus else 'none'}",
        f"- Versions: {libs}; Keras backend {versions.get('keras_backend', '?')}; code "
        f"{(git.get('commit') or 'unknown')[:12]}{' (uncommitted changes)' if git.get('dirty') else ''}",
        f"- Wall time: {_minutes(timings['total_s'])} in {plural(timings['sessions'], 'session')} "
        "(up to this report; a resumed run adds the earlier sessions)",
        "",
        simple_table(["stage", "epochs run", "wall time (m:ss)"], rows),
    ]
    return "\n".join(lines)


def write_run_report(spec, cache, cfg, split: dict, summary: dict, run_dir: Path, stages: list[str],
                     extra_images=()) -> None:
    """report.md and its figures (and the paper's own, `extra_images`), then metrics.json."""
    from liverseg.evaluation import PROTOCOLS
    from liverseg.report.plots import plot_history, plot_per_case_dice
    from liverseg.report.tables import write_metrics, write_report

    variant, ctx, layout = spec.default_variant, spec.context(cfg, run_dir, cache, split), RunDir(run_dir)
    images = [
        *([plot_history([layout.stage(s).history for s in stages], layout.curves,
                        title=f"{spec.name}: training curves")] if stages else []),  # a method may train nothing
        plot_per_case_dice(per_case_table(run_dir, variant), layout.figure("per_case_dice")),
        *extra_images,
        *_overlays(run_dir, cache, variant, spec.overlay_column),
    ]
    protocol = summary.get(variant, {}).get("protocol", "liverseg")
    notes = [f"Profile `{cfg.profile}`, dataset `{cfg.dataset}`, seed {cfg.seed}, split mode `{split['mode']}`. "
             f"{split['note']}", *COMMON_NOTES, f"Volume scores: protocol `{protocol}`, {PROTOCOLS[protocol]}.",
             *spec.notes(ctx)]
    sections = [("Volume scores per variant", volume_scores_table(spec, summary)),
                ("Run", run_record(run_dir, stages))]
    write_report(layout.report, title=f"Reproduction of {spec.title}", paper_rows=list(spec.paper_rows),
                 our_rows=spec.our_rows(ctx, summary), notes=notes, images=images, sections=sections)
    write_metrics(layout.metrics, {"paper": spec.name, "profile": cfg.profile, "dataset": cfg.dataset,
                            "default_variant": variant, **summary})


__all__ = ["write_run_report", "median_case", "variants_side_by_side"]
