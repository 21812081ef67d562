"""K-fold cross-validation by patient for any method: `liverseg reproduce <paper> --folds K` (Liu III-B's
ten folds, or any paper's), and the folds of `liverseg compare --folds K`.

    DIR/folds.json            the K splits (seeded, stratified by tumour presence in the source labels;
                              every case tested in exactly one fold, never trained or validated on there)
    DIR/cache/                the slice cache, built once and linked into every fold's run
    DIR/fold-K/               a complete run of fold K (the one pipeline, resumable, skipped when done)
    DIR/folds.csv             variant, fold, the volume scores of that fold (means over its test patients)
    DIR/folds_summary.csv     variant, mean and standard deviation over the folds

DIR is `--run-dir`, else `<runs>/<paper>/<profile>-folds<K>`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from liverseg.errors import OptionError
from liverseg.io.atomic import atomic_path, atomic_write_json, read_json
from liverseg.io.run_layout import FoldsDir, RunDir

# the volume scores of every fold's summaries that the tables hold (a liver-only paper has no tumour ones)
MEASURES = ("liver_dice_per_case", "liver_dice_global", "liver_voe", "liver_rvd", "liver_assd", "liver_msd",
            "tumour_dice_per_case", "tumour_dice_global", "lesion_recall")
VAL_FRACTION = 0.15  # CHOICE: of the patients outside a fold's test fold, for the checkpoint monitor


def make_folds(cache, folds: int, seed: int, val_fraction: float, path: Path) -> list[dict]:
    """`path` (folds.json), made once: `folds` patient folds of the cache's cases, stratified by tumour in
    their source labels; a later call with another fold count, seed or fraction is refused."""
    from liverseg.data.splits import patient_folds
    from liverseg.runner.data import check_split, source_has_tumour

    cases = [str(c) for c in cache.case_ids]
    made = {"folds": folds, "seed": seed, "val_fraction": val_fraction}
    if path.is_file():
        record = read_json(path)
        if {k: record.get(k) for k in made} != made:
            raise OptionError(f"{path}: made with {({k: record.get(k) for k in made})}, not {made}; "
                              "delete it or pass another output folder")
        splits = record["splits"]
    else:
        has_tumour = {c: source_has_tumour(cache, c) for c in cases}
        parts = patient_folds(cases, folds, seed, val_fraction, stratify=has_tumour)
        splits = [{"mode": "patients", **part, "fold": k, "folds": folds, "seed": seed,
                   "note": f"fold {k + 1} of {folds}: {len(part['train'])} / {len(part['val'])} / "
                           f"{len(part['test'])} patients (seed {seed}, stratified by tumour presence)"}
                  for k, part in enumerate(parts)]
        atomic_write_json(path, {**made, "mode": "folds", "splits": splits,
                                 "note": f"{folds} patient folds of {len(cases)} cases: every case tested once, "
                                         "never trained or validated on in its fold"})
    for split in splits:
        check_split(split, cases, path, hint="it was made for other data: delete it or pass another output folder")
    if sorted(c for split in splits for c in split["test"]) != sorted(cases):
        raise OptionError(f"{path}: its test folds do not hold every case exactly once; delete it")
    return splits


def count_cases(cfg) -> int:
    """The number of cases of the config's source, from the dataset folder's listing or the phantom's size."""
    from data_prep.sources import discover

    return len(discover(cfg.dataset, cfg.data_dir)) if cfg.data_dir else int(cfg.phantom.cases)


def run_folds(spec, cfg, args, pipeline) -> int:
    """`liverseg reproduce <paper> --folds K`: one run per fold through `pipeline` (the runner's, resumed and
    skipped when done), then the tables."""
    from liverseg.data.splits import patient_folds
    from liverseg.runner import data as run_data
    from liverseg.runner.options import runs_root
    from liverseg.runner.run_log import RunLog

    k = int(cfg.folds)
    if args.split:
        raise OptionError("--folds makes its own splits: leave out --split")
    patient_folds([str(i) for i in range(count_cases(cfg))], k, cfg.seed, VAL_FRACTION)  # enough cases: else one line
    root = Path(args.run_dir) if args.run_dir else runs_root() / spec.name / f"{cfg.profile}-folds{k}"
    root.mkdir(parents=True, exist_ok=True)
    layout = FoldsDir(root)
    splits = make_folds(run_data.prepare_cache(spec.name, cfg, root), k, cfg.seed, VAL_FRACTION, layout.folds)
    for split in splits:
        run_dir = layout.fold(split["fold"])
        print(f"== {split['note']}", flush=True)
        if RunDir(run_dir).is_done():
            print(f"skipping fold {split['fold'] + 1}: {run_dir} is finished", flush=True)
            continue
        with RunLog(run_dir):
            pipeline(spec, cfg, run_dir, split=split, shared_cache=root, protocol=getattr(args, "protocol", "liverseg"))
    summary = write_fold_tables(root, spec.variants, k)
    print(summary.round(4).to_string())
    print(f"done: {layout.summary}", flush=True)
    return 0


def fold_table(root: Path, variants, folds: int) -> pd.DataFrame:
    """Per variant and fold, the measures of the fold's evaluation summary."""
    rows = []
    for k in range(folds):
        for variant in variants:
            summary = read_json(RunDir(FoldsDir(root).fold(k)).summary(variant))
            rows.append({"variant": variant, "fold": k, **{m: summary.get(m) for m in MEASURES if m in summary}})
    return pd.DataFrame(rows)


def write_fold_tables(root: Path, variants, folds: int) -> pd.DataFrame:
    """folds.csv and folds_summary.csv (mean and standard deviation over the folds) in `root`."""
    table = fold_table(root, variants, folds)
    summary = table.drop(columns="fold").groupby("variant", sort=False).agg(["mean", "std"])
    summary.columns = [f"{m}_{s}" for m, s in summary.columns]
    layout = FoldsDir(root)
    for path, frame, index in ((layout.table, table, False), (layout.summary, summary, True)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=index)
    return summary


__all__ = ["MEASURES", "make_folds", "count_cases", "run_folds", "fold_table", "write_fold_tables"]
