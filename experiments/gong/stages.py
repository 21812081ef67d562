"""The stages `reproduce` wires together; each one skips itself when its output is complete."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd

from liverseg.data.cache import SliceCache
from liverseg.io.atomic import atomic_write_json

from experiments.gong import data
from experiments.gong.config import GongConfig
from experiments.gong.paper import ABLATION, PAPER_RESULTS, TITLE

VARIANTS = {"crop": "fine", "whole": "fine_whole"}  # cascade variant -> fine stage it uses


def prepare(cfg: GongConfig, dataset: str, data_dir: Path, run_dir: Path) -> SliceCache:
    """2.1 preprocessing of every case into the run's slice cache (skipped when up to date)."""
    from liverseg.data.cache_builder import prepare as prep

    cache_dir = run_dir / "cache"
    # The cache belongs to this run: one left half-written by a killed run is rebuilt, not refused.
    rebuild = cache_dir.is_dir() and not (cache_dir / "manifest.csv").is_file()
    prep(dataset, data_dir, cache_dir, paper="gong", profile=cfg.profile, quiet=True, recipe=cfg.preprocess,
         overwrite=rebuild)
    return SliceCache(cache_dir)


def split(cache: SliceCache, cfg: GongConfig, run_dir: Path) -> dict:
    path = run_dir / "split.json"
    if path.is_file():
        return json.loads(path.read_text())
    result = data.choose_split(cache, cfg, cfg.seed)
    atomic_write_json(path, result)
    print(f"split ({result['mode']}): train {len(result['train'])}, val {len(result['val'])}, "
          f"test {len(result['test'])} {result['note']}")
    return result


def _loss_and_metrics(n_outputs: int):
    from liverseg.nn.losses import DiceBCELoss
    from liverseg.nn.metrics import DiceCoefficient

    metrics = [DiceCoefficient(name="dice"), DiceCoefficient(threshold=None, name="soft_dice")]
    if n_outputs == 2:
        metrics += [DiceCoefficient(channel=0, name="liver_dice"), DiceCoefficient(channel=1, name="tumour_dice")]
    return DiceBCELoss(), metrics


def train(cache: SliceCache, cfg: GongConfig, split: dict, stage: str, run_dir: Path):
    from liverseg.train.fit import fit, set_seed

    from experiments.gong.model import build_coarse, build_fine

    if stage == "coarse":
        train_cfg, n_out = cfg.coarse_train, len(cfg.coarse_model.outputs)
        build = lambda: build_coarse(cfg.coarse_model, cfg.preprocess.size)  # noqa: E731
    else:
        train_cfg, n_out = cfg.fine_train, len(cfg.fine_model.outputs)
        size = cfg.fine_data.crop_size if stage == "fine" else cfg.preprocess.size
        build = lambda: build_fine(cfg.fine_model, size)  # noqa: E731
    if (run_dir / stage / "done.json").is_file():
        print(f"skipping {stage}: already done")
        return None
    set_seed(cfg.seed)  # before the datasets: tf.data derives unseeded op seeds from the global state
    train_ds, val_ds, steps, val_steps = data.stage_datasets(cache, cfg, split, stage, cfg.seed)
    if train_cfg.steps_per_epoch:
        steps = min(steps, train_cfg.steps_per_epoch)
    loss, metrics = _loss_and_metrics(n_out)
    return fit(build, train_ds, val_ds, stage=stage, run_dir=run_dir, train=train_cfg, loss=loss,
               metrics=metrics, seed=cfg.seed, steps_per_epoch=steps, validation_steps=val_steps)


def case_number(case_id: str) -> str:
    match = re.search(r"(\d+)$", case_id)
    return match.group(1) if match else case_id


def _read_test_case(cache: SliceCache, case_id: str):
    from liverseg.io.volumes import read_case

    meta = cache.meta(case_id)
    return read_case(meta["source_image"], meta["source_label"], case_id=case_id)


def infer(cache: SliceCache, cfg: GongConfig, split: dict, run_dir: Path) -> None:
    """Cascade inference on every test volume, both variants; LiTS-named label volumes per case."""
    from liverseg.io.volumes import write_label_volume

    from experiments.gong.pipeline import GongCascade

    for variant, stage in VARIANTS.items():
        out_dir = run_dir / "predictions" / variant
        todo = [c for c in split["test"] if not (out_dir / f"segmentation-{case_number(c)}.nii.gz").is_file()]
        if not todo:
            print(f"skipping inference ({variant}): already done")
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        cascade = GongCascade.from_run(run_dir, fine_stage=stage)
        boxes = {}
        for case_id in todo:
            case = _read_test_case(cache, case_id)
            start = time.perf_counter()
            result = cascade.run(case.image)
            labels = case.image.to_original(result.labels)
            write_label_volume(labels, case.image.original_affine, out_dir / f"segmentation-{case_number(case_id)}.nii.gz")
            boxes[case_id] = {str(z): list(map(int, b)) for z, b in result.boxes.items()}
            print(f"inference ({variant}) {case_id}: {time.perf_counter() - start:.1f} s")
        if variant == "crop":
            atomic_write_json(out_dir / "crop_boxes.json", boxes)


def evaluate(cache: SliceCache, cfg: GongConfig, split: dict, run_dir: Path) -> dict:
    """LiTS protocol on the test volumes: per case and global Dice for liver and tumour, both variants."""
    from liverseg.evaluation import aggregate, evaluate_case
    from liverseg.io.volumes import read_volume

    out = run_dir / "evaluation"
    summary_path = out / "summary.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    out.mkdir(exist_ok=True)
    summary = {}
    for variant in VARIANTS:
        rows = []
        for case_id in split["test"]:
            truth = read_volume(cache.meta(case_id)["source_label"], kind="label")
            pred = read_volume(run_dir / "predictions" / variant / f"segmentation-{case_number(case_id)}.nii.gz",
                               kind="label")
            rows.append({"case": case_id, **evaluate_case(pred.array, truth.array, truth.spacing)})
        frame = pd.DataFrame(rows)
        frame.to_csv(out / f"per_case_{variant}.csv", index=False)
        summary[variant] = aggregate(frame)
    crop, whole = summary["crop"]["tumour_dice_per_case"], summary["whole"]["tumour_dice_per_case"]
    summary["ablation_relative_gain"] = float(crop / whole - 1.0) if whole else None
    atomic_write_json(summary_path, summary)
    return summary


def report(cfg: GongConfig, split: dict, summary: dict, run_dir: Path, dataset: str) -> None:
    from liverseg.report.tables import case_overlays, write_metrics, write_report
    from liverseg.report.plots import plot_history, plot_per_case_dice
    from liverseg.io.volumes import read_case

    crop = summary["crop"]
    per_case = pd.read_csv(run_dir / "evaluation" / "per_case_crop.csv", dtype={"case": str})
    images = [plot_history([run_dir / s / "history.csv" for s in ("coarse", "fine", "fine_whole")],
                           run_dir / "training_curves.png", title="Gong: training curves"),
              plot_per_case_dice(per_case, run_dir / "per_case_dice.png")]

    def load_case(case_id):
        meta = json.loads((run_dir / "cache" / "cases" / case_id / "meta.json").read_text())
        case = read_case(meta["source_image"], meta["source_label"], case_id=case_id)
        from liverseg.io.volumes import read_volume

        pred = read_volume(run_dir / "predictions" / "crop" / f"segmentation-{case_number(case_id)}.nii.gz",
                           kind="label")
        return case.image.array, case.label.array, pred.array

    images += case_overlays(run_dir, per_case, load_case)
    ours = [{"method": f"liverseg, profile {cfg.profile} on {dataset} ({len(split['test'])} test cases)",
             "tumour_dice_per_case": crop["tumour_dice_per_case"],
             "tumour_dice_global": crop["tumour_dice_global"],
             "liver_dice_per_case": crop["liver_dice_per_case"],
             "liver_dice_global": crop["liver_dice_global"]}]
    gain = summary.get("ablation_relative_gain")
    paper_ablation = {"method": "Gong et al. section 3: fine stage on the crop vs on the whole scan",
                      "relative_gain": ABLATION["relative_gain"]}
    ablation = [{"method": f"liverseg ablation: tumour Dice per case crop {crop['tumour_dice_per_case']:.3f} vs "
                           f"whole {summary['whole']['tumour_dice_per_case']:.3f}", "relative_gain": gain}]
    notes = [
        f"Profile `{cfg.profile}`, dataset `{dataset}`, seed {cfg.seed}, split mode `{split['mode']}`. {split['note']}",
        "Dice per case = mean over test cases; global Dice = one Dice over all test voxels (LiTS protocol).",
        "relative_gain = tumour Dice per case of the cascade with the fine stage on the tumour-centred crop, "
        "divided by that of the same fine network trained and applied on whole slices, minus 1.",
        "The phantom and the cpu profile check that the pipeline works end to end; only the paper "
        "profile on LiTS is comparable with Table 1.",
    ]
    write_report(run_dir, title=f"Reproduction of {TITLE}", paper_rows=[*PAPER_RESULTS, paper_ablation],
                 our_rows=ours + ablation,
                 notes=notes, images=images)
    write_metrics(run_dir, {"paper": "gong", "profile": cfg.profile, "dataset": dataset, **summary})
