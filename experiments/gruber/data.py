"""Gruber 3.1: which patients give the training, validation and test slices."""
from __future__ import annotations

import pandas as pd

from liverseg.data.splits import split_patients

from experiments.gruber.config import GruberConfig

# Below this many patients no patient keeps validation and test apart from training: the runner
# then trains on all of them and validates on held-out slice blocks (the report says so).
MIN_PATIENTS_FOR_SPLIT = 4


def choose_split(table: pd.DataFrame, cfg: GruberConfig, seed: int) -> dict | None:
    """3.1 draws 765 / 50 / 50 slices; CHOICE: from patients kept apart (the paper does not say it
    splits by patient; slices of one patient on both sides would leak). Patients are split with
    the seed, stratified by whether they have tumour, so validation and test hold tumour slices."""
    if len(table) < MIN_PATIENTS_FOR_SPLIT:
        return None
    has_tumour = {c: ("tumour" if v > 0 else "none") for c, v in zip(table.case_id, table.tumour_mm3)}
    parts = split_patients(list(table.case_id), val_fraction=cfg.val_patients, test_fraction=cfg.test_patients,
                           seed=seed, stratify=has_tumour)
    return {"train": parts["train"], "val": parts["val"], "test": parts["test"]}
