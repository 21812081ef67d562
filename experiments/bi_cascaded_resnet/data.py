"""Bi 2.1: LiTS' 131 training studies split by patient, 118 to train and 13 to score (seeded)."""
from __future__ import annotations

import pandas as pd

from liverseg.data.splits import split_patients

from experiments.bi_cascaded_resnet.config import BiConfig

MIN_PATIENTS_FOR_SPLIT = 4  # below: the runner trains on all patients and validates on slice blocks


def choose_split(table: pd.DataFrame, cfg: BiConfig, seed: int) -> dict | None:
    """`cfg.test_patients` of the patients (13 of 131) to test; CHOICE: `cfg.val_patients` of the rest
    for the checkpoint monitor (the paper keeps the last epoch of its fixed schedule)."""
    patients = list(table.case_id)
    if len(patients) < MIN_PATIENTS_FOR_SPLIT:
        return None
    test_fraction = cfg.test_patients
    val_fraction = cfg.val_patients * (1.0 - test_fraction)
    parts = split_patients(patients, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    note = (f"{len(parts['train'])} / {len(parts['val'])} / {len(parts['test'])} patients (seed {seed}); "
            "the paper: 118 train, 13 scored")
    return {"train": parts["train"], "val": parts["val"], "test": parts["test"], "note": note}
