"""Gong's patient split (section 3) on synthetic case tables: strata 1:1, seeded, patients kept apart."""
import numpy as np
import pandas as pd
import pytest

from experiments.gong.config import get_config
from experiments.gong.data import choose_split, draw_strata, size_classes, strata_counts


def _table(n_tumour: int, n_free: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"lits-{i}" for i in range(n_tumour + n_free)]
    volumes = np.concatenate([rng.lognormal(10, 1.5, n_tumour), np.zeros(n_free)])
    return pd.DataFrame({"case_id": ids, "patient_id": ids, "tumour_mm3": volumes, "liver_slices": 50})


def test_paper_split_is_40_train_20_test_with_large_small_one_to_one():
    cfg = get_config("paper")
    table = _table(118)
    split = choose_split(table, cfg, seed=0)
    counts = strata_counts(split)
    assert len(split["train"]) + len(split["val"]) == 40 and len(split["test"]) == 20
    assert counts["test"] == {"large": 10, "small": 10}
    assert counts["train"]["large"] + counts["val"]["large"] == 20
    assert counts["train"]["small"] + counts["val"]["small"] == 20
    assert len(split["val"]) == 8 and counts["val"]["large"] == counts["val"]["small"]
    free = set(table.case_id[table.tumour_mm3 == 0])
    parts = [set(split[p]) for p in ("train", "val", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert not free & set().union(*parts)  # 3: only patients with tumours


def test_patients_are_drawn_with_the_seed_not_cut_from_the_sorted_ids():
    cfg = get_config("paper")
    table = _table(118)
    a, b = choose_split(table, cfg, seed=0), choose_split(table, cfg, seed=1)
    assert set(a["test"]) != set(b["test"]) and set(a["train"]) != set(b["train"])
    assert choose_split(table, cfg, seed=0) == a
    chosen = set(a["train"]) | set(a["val"]) | set(a["test"])
    first_ids = set(sorted(table.case_id[table.tumour_mm3 > 0])[:60])
    assert chosen != first_ids


def test_draw_strata_fills_from_the_other_stratum_when_one_is_short():
    classes = {f"c{i}": "large" for i in range(3)} | {f"s{i}": "small" for i in range(10)}
    chosen = draw_strata(classes, 8, seed=0)
    assert len(chosen) == 8 and sum(c.startswith("c") for c in chosen) == 3


def test_median_defines_the_size_classes():
    table = _table(10)
    classes = size_classes(table[table.tumour_mm3 > 0])
    assert list(classes.values()).count("large") == 5


def test_too_few_tumour_patients_hand_over_to_the_runner():
    assert choose_split(_table(2), get_config("paper"), seed=0) is None


@pytest.mark.parametrize("n", [7, 13])
def test_small_data_keep_the_ratio_of_train_to_test(n):
    cfg = get_config("cpu")
    split = choose_split(_table(n), cfg, seed=3)
    assert len(split["test"]) == round(n * cfg.test_patients / (cfg.train_patients + cfg.test_patients))
    assert split["val"] and split["train"]
