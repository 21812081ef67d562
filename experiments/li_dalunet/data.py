"""Li III-A: which 3D-IRCADb patients train, validate and test (the paper gives no split)."""
from __future__ import annotations

import pandas as pd

from liverseg.data.splits import split_patients

from experiments.li_dalunet.config import LiConfig

# Below this many patients no patient keeps validation and test apart from training: the runner
# then trains on all of them and validates on held-out slice blocks (the report says so).
MIN_PATIENTS_FOR_SPLIT = 4


def choose_split(table: pd.DataFrame, cfg: LiConfig, seed: int) -> dict | None:
    """CHOICE: `cfg.val_patients` / `cfg.test_patients` patients (3 / 3 of 20: 14 / 3 / 3), drawn with
    the seed, stratified by tumour presence; on fewer patients the shares shrink, one left to train."""
    n = len(table)
    if n < MIN_PATIENTS_FOR_SPLIT:
        return None
    has_tumour = {c: ("tumour" if v > 0 else "none") for c, v in zip(table.case_id, table.tumour_mm3)}
    val, test = min(cfg.val_patients / n, 0.45), min(cfg.test_patients / n, 0.45)
    parts = split_patients(list(table.case_id), val_fraction=val, test_fraction=test, seed=seed, stratify=has_tumour)
    note = f"{len(parts['train'])} / {len(parts['val'])} / {len(parts['test'])} patients (seed {seed})"
    return {"train": parts["train"], "val": parts["val"], "test": parts["test"], "note": note}
