"""Gruber's patient split (3.1, by patient), the slice caps, and the label rules of 2.1 / 2.3."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from liverseg.data.sampling import cap_slices
from liverseg.errors import OptionError

from experiments.gruber.config import get_config
from experiments.gruber.paper import PAPER
from experiments.gruber.predict import chain_labels, onestep_labels


def choose_split(table, cfg, seed):
    """The paper's split hook (the runner's default policy) on `table` with `seed`."""
    return PAPER.split(PAPER.context(replace(cfg, seed=seed)), table)


def _table(n: int, with_tumour: int) -> pd.DataFrame:
    ids = [f"lits-{i}" for i in range(n)]
    return pd.DataFrame({"case_id": ids, "patient_id": ids, "tumour_mm3": [1000.0 * (i < with_tumour) for i in range(n)],
                         "liver_slices": 40})


def test_split_keeps_patients_apart_and_puts_tumours_in_every_part():
    cfg = get_config("paper")
    split = choose_split(_table(131, 118), cfg, seed=0)
    parts = [set(split[p]) for p in ("train", "val", "test")]
    assert sum(map(len, parts)) == 131 and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(split["test"]) == round(0.2 * 131) and len(split["val"]) == round(0.1 * 131)
    tumour = {f"lits-{i}" for i in range(118)}
    assert all(p & tumour for p in parts)
    assert choose_split(_table(131, 118), cfg, seed=1) != split
    assert choose_split(_table(3, 3), cfg, seed=0) is None  # too few: the runner holds out slice blocks


def test_cap_slices_is_one_seeded_draw():
    rows = pd.DataFrame({"case_id": ["a"] * 1000, "slice_index": range(1000)})
    first, again = cap_slices(rows, 765, 0), cap_slices(rows, 765, 0)
    assert len(first) == 765 and first.equals(again)
    assert list(first.slice_index) == sorted(first.slice_index)  # order kept
    assert not first.equals(cap_slices(rows, 765, 1))
    assert cap_slices(rows, 0, 0) is rows and len(cap_slices(rows, 5000, 0)) == 1000
    with pytest.raises(OptionError, match="max_slices"):
        cap_slices(rows, -1, 0)


def test_chain_labels_follow_2_3():
    liver = np.array([[0.9, 0.9, 0.2, 0.2]])
    tumour = np.array([[0.8, 0.1, 0.8, 0.1]])
    # 2 where M = T = 1, 1 where M = 1 and T = 0, 0 elsewhere (tumour outside the mask is dropped)
    assert chain_labels(liver, tumour, 0.5, 0.3).tolist() == [[2, 1, 0, 0]]
    assert chain_labels(liver, tumour, 0.5, 0.05).tolist() == [[2, 2, 0, 0]]


def test_onestep_labels_are_the_arg_max_of_tumour_liver_other():
    probs = np.array([[[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]]])
    assert onestep_labels(probs).tolist() == [[2, 1, 0]]
