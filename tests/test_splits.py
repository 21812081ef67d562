"""Patient-level splits and the slice-block fallback for tiny data sets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liverseg.data.splits import split_patients, split_slices_within
from liverseg.errors import OptionError


def ids(n):
    return [f"p{i:03d}" for i in range(n)]


def test_no_patient_on_two_sides_and_all_used():
    out = split_patients(ids(50), 0.2, 0.1, seed=0)
    sets = [set(out[k]) for k in ("train", "val", "test")]
    assert sum(len(s) for s in sets) == 50 and set.union(*sets) == set(ids(50))
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert (len(out["val"]), len(out["test"])) == (10, 5)


def test_deterministic_order_free_and_seed_dependent():
    a = split_patients(ids(30), 0.2, 0.2, seed=4)
    b = split_patients(list(reversed(ids(30))) + ids(3), 0.2, 0.2, seed=4)  # order and duplicates ignored
    c = split_patients(ids(30), 0.2, 0.2, seed=5)
    assert a == b
    assert a["val"] != c["val"]


def test_small_counts_keep_every_positive_split_non_empty():
    out = split_patients(ids(3), 0.05, 0.05, seed=1)
    assert [len(out[k]) for k in ("train", "val", "test")] == [1, 1, 1]
    out = split_patients(ids(4), 0.2, 0.0, seed=1)
    assert len(out["val"]) == 1 and out["test"] == [] and len(out["train"]) == 3
    with pytest.raises(OptionError):
        split_patients(ids(2), 0.2, 0.2, seed=0)
    with pytest.raises(OptionError):
        split_patients(ids(10), 0.6, 0.5, seed=0)


def test_stratified_ratio_holds_in_every_split():
    patients = ids(40)
    strata = {p: ("large" if i % 2 else "small") for i, p in enumerate(patients)}
    out = split_patients(patients, 0.2, 0.25, seed=3, stratify=strata)
    for name, expected in (("val", 4), ("test", 5), ("train", 11)):
        kinds = [strata[p] for p in out[name]]
        assert kinds.count("large") == kinds.count("small") == expected, name
    with pytest.raises(OptionError):
        split_patients(patients, 0.2, 0.0, seed=0, stratify={patients[0]: "a"})


def manifest(cases, z=40, liver=(10, 30)):
    rows = []
    for c in cases:
        for k in range(z):
            rows.append(dict(case_id=c, patient_id=c, slice_index=k,
                             liver_pixels=100 if liver[0] <= k < liver[1] else 0, tumour_pixels=0))
    return pd.DataFrame(rows)


def test_enough_patients_use_patient_mode():
    m = manifest([f"c{i}" for i in range(6)], z=5)
    split = split_slices_within(m, 0.2, 0.2, seed=0)
    assert split.mode == "patients" and "patient-level" in split.note
    assert split.patients == split_patients(m["patient_id"], 0.2, 0.2, seed=0)
    for name in ("train", "val", "test"):
        assert set(split[name]["patient_id"]) == set(split.patients[name])
        assert len(split[name]) == 5 * len(split.patients[name])


def test_two_cases_fall_back_to_contiguous_slice_blocks():
    m = manifest(["a", "b"], z=40, liver=(10, 30))
    split = split_slices_within(m, 0.2, 0.1, seed=2, gap=2)
    assert split.mode == "slice_blocks" and "slice blocks" in split.note
    for case in ("a", "b"):
        val = np.sort(split.val[split.val.case_id == case].slice_index.to_numpy())
        test = np.sort(split.test[split.test.case_id == case].slice_index.to_numpy())
        train = set(split.train[split.train.case_id == case].slice_index)
        assert len(val) == 4 and len(test) == 2  # 20 % and 10 % of the 20 liver slices
        for block in (val, test):
            assert np.all(np.diff(block) == 1)  # contiguous
            assert 10 <= block[0] and block[-1] < 30  # inside the liver extent
            near = set(range(block[0] - 2, block[-1] + 3))
            assert not (near & train)  # the gap keeps 2.5D neighbours out of train
        assert not set(val) & set(test)
        assert len(train) == 40 - len(set().union(*[set(range(b[0] - 2, b[-1] + 3)) & set(range(40))
                                                      for b in (val, test)]))
    again = split_slices_within(m, 0.2, 0.1, seed=2, gap=2)
    pd.testing.assert_frame_equal(again.val, split.val)


def test_interleaved_validation_blocks_cover_the_whole_case():
    from liverseg.data.splits import split_slices_within

    rows = []
    for k in range(80):
        rows.append(dict(case_id="c1", patient_id="p1", slice_index=k, liver_pixels=int(20 <= k < 60),
                         tumour_pixels=0))
    manifest = pd.DataFrame(rows)
    split = split_slices_within(manifest, 0.2, 0.0, seed=0, gap=1, interleave=8)
    held = sorted(split.val.slice_index)
    assert held == [k for k in range(80) if (k // 8) % 5 == 4]  # blocks 4 and 9: liver and no liver
    train = set(split.train.slice_index)
    assert not train & set(held) and 31 not in train and 40 not in train  # the gap either side
    assert "every 5th block of 8 slices" in split.note


@pytest.mark.parametrize("depth, held", [(16, [12, 13, 14]), (3, [2])])
def test_interleaved_validation_holds_out_slices_of_a_short_case(depth, held):
    """A 16-slice DICOM slab: blocks of 8 with period 5 would hold out nothing (and the stage would
    validate on no slice); the blocks shrink to 3 slices, or the last slice is held out."""
    from liverseg.data.splits import split_slices_within

    manifest = pd.DataFrame([dict(case_id="c1", patient_id="p1", slice_index=k, liver_pixels=1, tumour_pixels=0)
                             for k in range(depth)])
    split = split_slices_within(manifest, 0.2, 0.0, seed=0, gap=0, interleave=8)
    assert sorted(split.val.slice_index) == held and len(split.train) == depth - len(split.val)
