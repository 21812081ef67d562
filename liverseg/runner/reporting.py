"""The run's report: the paper's table beside ours, training curves, per-case bars, overlays, metrics.json."""
from __future__ import annotations

from pathlib import Path

from liverseg.runner.data import read_source_case
from liverseg.runner.predictions import per_case_table, prediction_path

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

    return case_overlays(run_dir, per_case_table(run_dir, variant), load_case, column=column)


def write_run_report(spec, cache, cfg, split: dict, summary: dict, run_dir: Path, stages: list[str],
                     extra_images=()) -> None:
    """report.md and its figures (and the paper's own, `extra_images`), then metrics.json."""
    from liverseg.evaluation import PROTOCOLS
    from liverseg.report.plots import plot_history, plot_per_case_dice
    from liverseg.report.tables import write_metrics, write_report

    variant = spec.default_variant
    images = [
        plot_history([run_dir / s / "history.csv" for s in stages], run_dir / "training_curves.png",
                     title=f"{spec.name}: training curves"),
        plot_per_case_dice(per_case_table(run_dir, variant), run_dir / "per_case_dice.png"),
        *extra_images,
        *_overlays(run_dir, cache, variant, spec.overlay_column),
    ]
    protocol = summary.get(variant, {}).get("protocol", "liverseg")
    notes = [f"Profile `{cfg.profile}`, dataset `{cfg.dataset}`, seed {cfg.seed}, split mode `{split['mode']}`. "
             f"{split['note']}", *COMMON_NOTES, f"Volume scores: protocol `{protocol}`, {PROTOCOLS[protocol]}.",
             *spec.notes(cfg, split)]
    write_report(run_dir, title=f"Reproduction of {spec.title}", paper_rows=list(spec.paper_rows),
                 our_rows=spec.our_rows(cfg, summary, split), notes=notes, images=images)
    write_metrics(run_dir, {"paper": spec.name, "profile": cfg.profile, "dataset": cfg.dataset,
                            "default_variant": variant, **summary})


__all__ = ["write_run_report"]
