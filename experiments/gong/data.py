"""Gong section 3: which patients, how they are split, and what each training stage sees."""
from __future__ import annotations

import numpy as np
import pandas as pd

from liverseg.data.splits import split_patients

from experiments.gong.config import GongConfig

# Below this many tumour patients a patient-level train/val/test split is impossible: the runner
# then trains on all of them and validates on held-out slice blocks (the report says so).
MIN_PATIENTS_FOR_SPLIT = 3
STRATA = ("large", "small")


def size_classes(table: pd.DataFrame) -> dict[str, str]:
    """3: large:small tumour burden. CHOICE: "large" = tumour volume above the median of the tumour
    patients (the paper gives no threshold)."""
    median = table.tumour_mm3.median()
    return {c: ("large" if v > median else "small") for c, v in zip(table.case_id, table.tumour_mm3)}


def draw_strata(size_class: dict[str, str], n: int, seed: int) -> list[str]:
    """`n` patients drawn with the seed, half from each stratum (the larger half to the fuller
    stratum when n is odd; a short stratum gives all it has and the other fills up)."""
    rng = np.random.default_rng(seed)
    members = {s: sorted(c for c, k in size_class.items() if k == s) for s in STRATA}
    want = {"large": n // 2, "small": n - n // 2}
    if len(members["large"]) > len(members["small"]):
        want = {"large": n - n // 2, "small": n // 2}
    for s, other in (("large", "small"), ("small", "large")):
        short = max(0, want[s] - len(members[s]))
        want[s] -= short
        want[other] += short
    chosen = []
    for s in STRATA:
        chosen += list(rng.permutation(members[s])[: want[s]])
    return sorted(chosen)


def choose_split(table: pd.DataFrame, cfg: GongConfig, seed: int) -> dict | None:
    """3: tumour patients only, 40 train / 20 test, large:small 1:1 in each; validation from train.

    The patients are drawn per stratum with the seed (not cut from a sorted list), then split by
    `split_patients` stratified by size class. None when there are too few tumour patients.
    """
    tumour = table[table.tumour_mm3 > 0]
    if len(tumour) < MIN_PATIENTS_FOR_SPLIT:
        return None
    size_class = size_classes(tumour)
    wanted = cfg.train_patients + cfg.test_patients
    chosen = draw_strata(size_class, min(wanted, len(tumour)), seed)
    outer = split_patients(chosen, val_fraction=0.0, test_fraction=cfg.test_patients / wanted, seed=seed,
                           stratify=size_class)
    inner = split_patients(outer["train"], val_fraction=cfg.coarse_data.val_fraction, test_fraction=0.0,
                           seed=seed, stratify=size_class)
    return {"train": inner["train"], "val": inner["val"], "test": outer["test"],
            "size_class": {c: size_class[c] for c in chosen}}


def strata_counts(split: dict) -> dict[str, dict[str, int]]:
    """Per side of the split, how many large and small tumour patients it holds."""
    classes = split.get("size_class", {})
    return {part: {s: sum(classes.get(c) == s for c in split[part]) for s in STRATA} for part in ("train", "val", "test")}
