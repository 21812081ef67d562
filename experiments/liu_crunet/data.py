"""Liu III-B: ten-fold cross-validation by patient (the paper profile, one fold per run), or one seeded
train / validation / test split (cpu and smoke profiles)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from liverseg.data.splits import split_patients
from liverseg.errors import OptionError

from experiments.liu_crunet.config import LiuConfig

MIN_PATIENTS_FOR_SPLIT = 4  # below: the runner trains on all patients and validates on slice blocks


def fold_test_patients(patients: list[str], folds: int, fold: int, seed: int) -> list[str]:
    """The test patients of `fold` (0-based) of `folds`: the patients permuted with the seed, cut in
    `folds` near-equal parts; every patient is tested in exactly one fold."""
    if not 0 <= fold < folds:
        raise OptionError(f"fold {fold} outside 0..{folds - 1}")
    if folds > len(patients):
        raise OptionError(f"{folds} folds need at least {folds} patients, got {len(patients)}")
    order = np.random.default_rng(seed).permutation(sorted(patients))
    return sorted(str(p) for p in np.array_split(order, folds)[fold])


def choose_split(table: pd.DataFrame, cfg: LiuConfig, seed: int) -> dict | None:
    patients = list(table.case_id)
    if len(patients) < MIN_PATIENTS_FOR_SPLIT:
        return None
    if cfg.fold >= 0 and cfg.folds > 1:
        test = fold_test_patients(patients, cfg.folds, cfg.fold, seed)
        rest = [p for p in patients if p not in test]
        parts = split_patients(rest, val_fraction=cfg.val_patients, test_fraction=0.0, seed=seed)
        note = f"fold {cfg.fold + 1} of {cfg.folds} (seed {seed}): {len(test)} test patients"
        return {"train": parts["train"], "val": parts["val"], "test": test, "note": note}
    parts = split_patients(patients, val_fraction=cfg.val_patients, test_fraction=cfg.test_patients, seed=seed)
    return {"train": parts["train"], "val": parts["val"], "test": parts["test"],
            "note": f"one seeded split (seed {seed}); the paper profile runs ten folds"}
