"""Train / validation / test splits at patient level, with a slice-block fallback for tiny data sets.

Slices of one patient are strongly correlated, so every split is made over patients: a patient's
slices are all on one side. `split_patients` does that, optionally stratified (e.g. large- vs
small-tumour patients kept 1:1 in every split, Gong et al. section 3).

With only a handful of cases (the two real samples in `shared/data`, a smoke-test phantom) there
are not enough patients for a validation side. `split_slices_within` then falls back to holding out
one contiguous block of slices per case (placed inside the case's liver extent, so it contains
liver), with `gap` slices dropped on each side of the block so that 2.5D inputs of training slices
never contain a held-out slice (use `gap >= DataConfig.context`). Validation scores from that mode
are optimistic (same patients); the returned `SliceSplit.mode` and `.note` say which mode was used.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from liverseg.errors import OptionError

SPLITS = ("train", "val", "test")


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise OptionError(f"val_fraction={val_fraction}, test_fraction={test_fraction}: need both >= 0 and sum < 1")


def _counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """Patients for (val, test): rounded shares, at least one for a positive fraction, one left to train."""
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    while n_val + n_test > n - 1 and (n_val > 1 or n_test > 1):
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test


def patients_needed(val_fraction: float, test_fraction: float) -> int:
    """Fewest patients that give every split with a positive fraction at least one patient."""
    return 1 + int(val_fraction > 0) + int(test_fraction > 0)


def _apportion(total: int, sizes: list[int]) -> list[int]:
    """Split `total` over groups in proportion to `sizes` (largest remainder), never above a size."""
    whole = sum(sizes)
    exact = [total * s / whole for s in sizes]
    out = [min(int(np.floor(e)), s) for e, s in zip(exact, sizes)]
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order * 2:
        if sum(out) >= total:
            break
        if out[i] < sizes[i]:
            out[i] += 1
    return out


def _strata(patients: list[str], stratify: Mapping[str, Hashable] | None) -> dict:
    """{stratum: patients in it} (one stratum `None` without `stratify`); every patient needs one."""
    if stratify is None:
        return {None: patients}
    missing = [p for p in patients if p not in stratify]
    if missing:
        raise OptionError(f"stratify: no stratum for patient(s) {', '.join(missing[:5])}")
    groups: dict = {}
    for p in patients:
        groups.setdefault(stratify[p], []).append(p)
    return groups


def split_patients(patient_ids: Sequence[str], val_fraction: float, test_fraction: float, seed: int,
                   stratify: Mapping[str, Hashable] | None = None) -> dict[str, list[str]]:
    """Deterministic patient-level split: `{"train": [...], "val": [...], "test": [...]}` (sorted lists).

    Duplicate ids count once; the input order does not matter. Each split whose fraction is > 0
    gets at least one patient and train keeps at least one; with fewer patients than that
    (`patients_needed`) an `OptionError` is raised (use `split_slices_within`). `stratify` maps
    every patient to a stratum; val and test then take the same share of each stratum (counts
    apportioned by largest remainder), so stratum ratios hold in every split.
    """
    _check_fractions(val_fraction, test_fraction)
    patients = sorted({str(p) for p in patient_ids})
    n = len(patients)
    if n < patients_needed(val_fraction, test_fraction):
        raise OptionError(
            f"{n} patient(s) cannot fill train/val/test with fractions {val_fraction}/{test_fraction}; "
            f"need at least {patients_needed(val_fraction, test_fraction)} (or use split_slices_within)")
    rng = np.random.default_rng(seed)
    n_val, n_test = _counts(n, val_fraction, test_fraction)
    groups = _strata(patients, stratify)
    keys = sorted(groups, key=repr)
    sizes = [len(groups[k]) for k in keys]
    val_per = _apportion(n_val, sizes)
    test_per = _apportion(n_test, [s - v for s, v in zip(sizes, val_per)])
    out = {name: [] for name in SPLITS}
    for key, nv, nt in zip(keys, val_per, test_per):
        members = list(rng.permutation(groups[key]))
        out["val"] += members[:nv]
        out["test"] += members[nv:nv + nt]
        out["train"] += members[nv + nt:]
    return {name: sorted(ids) for name, ids in out.items()}


def patient_folds(patient_ids: Sequence[str], folds: int, seed: int, val_fraction: float = 0.15,
                  stratify: Mapping[str, Hashable] | None = None) -> list[dict[str, list[str]]]:
    """K-fold cross-validation over patients: `folds` splits `{"train", "val", "test"}` (sorted lists)
    whose test sides partition the patients (each patient is tested in exactly one fold and trains or
    validates in the others, never in its own).

    Seeded and order-free like `split_patients`. With `stratify`, each stratum is shuffled and dealt
    round robin over the folds, continuing where the previous stratum stopped, so every fold holds
    its share of each stratum and the fold sizes differ by at most one. Each fold's validation side is
    `split_patients(rest, val_fraction, 0, seed + fold, stratify)` of its non-test patients. Fewer
    patients than folds (or too few left to train and validate) raise one `OptionError`.
    """
    folds = int(folds)
    patients = sorted({str(p) for p in patient_ids})
    n = len(patients)
    if folds < 2:
        raise OptionError(f"--folds {folds}: need at least 2 folds (the single split is the default)")
    if n < folds:
        raise OptionError(f"--folds {folds}: only {n} patient(s), fewer than the {folds} folds")
    rest = n - -(-n // folds)  # patients outside the largest test fold
    need = patients_needed(val_fraction, 0.0)
    if rest < need:
        raise OptionError(f"--folds {folds}: {n} patients leave {rest} outside a test fold, fewer than the "
                          f"{need} needed to train and validate")
    rng = np.random.default_rng(seed)
    groups = _strata(patients, stratify)
    test: list[list[str]] = [[] for _ in range(folds)]
    at = 0
    for key in sorted(groups, key=repr):
        for p in rng.permutation(groups[key]):
            test[at % folds].append(str(p))
            at += 1
    out = []
    for k in range(folds):
        held = set(test[k])
        others = [p for p in patients if p not in held]
        inner = split_patients(others, val_fraction, 0.0, seed + k,
                               None if stratify is None else {p: stratify[p] for p in others})
        out.append({"train": inner["train"], "val": inner["val"], "test": sorted(held)})
    return out


@dataclass(frozen=True)
class SliceSplit:
    """Manifest rows per split and how they were chosen.

    mode: "patients" (whole patients per split) or "slice_blocks" (held-out contiguous slice
    blocks inside each case: the fallback for too few patients). note: one human-readable line.
    """

    mode: str
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    note: str
    patients: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return getattr(self, name)


def _block(rows: pd.DataFrame, fraction: float, used: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of a contiguous block of about `fraction` of the case's liver slices, avoiding `used`."""
    z = len(rows)
    liver = np.flatnonzero(rows["liver_pixels"].to_numpy() > 0)
    lo, hi = (int(liver[0]), int(liver[-1]) + 1) if len(liver) else (0, z)
    size = max(1, round(fraction * (hi - lo)))
    starts = [s for s in range(lo, hi - size + 1) if not used[s:s + size].any()]
    if not starts:  # liver extent already taken: any free place in the case
        starts = [s for s in range(0, z - size + 1) if not used[s:s + size].any()]
    mask = np.zeros(z, bool)
    if starts:
        start = starts[int(rng.integers(len(starts)))]
        mask[start:start + size] = True
    return mask


def _interleaved(rows: pd.DataFrame, fraction: float, block: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """(held out, used) masks: every round(1 / fraction)-th block of `block` slices through the whole case,
    and those blocks widened by `gap` slices each side. A case shorter than `period` blocks gets shorter
    blocks (at least one held out); one shorter than `period` slices holds out its last slice."""
    period = max(2, round(1.0 / fraction))
    index = np.arange(len(rows))
    block = max(1, min(int(block), len(rows) // period))
    held = (index // block) % period == period - 1
    if not held.any() and len(rows) > 1:
        held[-1] = True
    used = held.copy()
    for i in np.flatnonzero(held):
        used[max(0, i - gap):i + gap + 1] = True
    return held, used


def split_slices_within(manifest: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int,
                        stratify: Mapping[str, Hashable] | None = None, gap: int = 0,
                        min_patients: int | None = None, interleave: int = 0) -> SliceSplit:
    """Split manifest rows by patient when there are enough patients, else by slice blocks per case.

    Patient mode is used when the manifest has at least `min_patients` patients (default:
    `patients_needed(...)`). Otherwise each case (ordered by `slice_index`) gives a val block of
    about `val_fraction` of its liver slices and a test block of `test_fraction`, at seeded random
    positions; `gap` slices either side of each held-out block are dropped from train.
    `interleave` = n > 0 (validation only, `test_fraction` 0): instead of one block in the liver,
    every round(1 / val_fraction)-th block of n slices through the whole case is held out, so that
    validation sees liver and liver-free slices from the whole volume, as whole-volume inference does.
    """
    if interleave and test_fraction:
        raise OptionError("split_slices_within: interleave holds out validation blocks only (test_fraction 0)")
    _check_fractions(val_fraction, test_fraction)
    need = patients_needed(val_fraction, test_fraction) if min_patients is None else int(min_patients)
    patients = sorted(set(manifest["patient_id"].astype(str)))
    if len(patients) >= need:
        split = split_patients(patients, val_fraction, test_fraction, seed, stratify)
        pid = manifest["patient_id"].astype(str)
        parts = {name: manifest[pid.isin(split[name])].reset_index(drop=True) for name in SPLITS}
        note = (f"patient-level split of {len(patients)} patients: "
                + ", ".join(f"{k} {len(v)}" for k, v in split.items()))
        return SliceSplit("patients", parts["train"], parts["val"], parts["test"], note, split)
    rng = np.random.default_rng(seed)
    parts = {name: [] for name in SPLITS}
    for case_id in sorted(set(manifest["case_id"].astype(str))):
        rows = manifest[manifest["case_id"].astype(str) == case_id].sort_values("slice_index")
        used = np.zeros(len(rows), bool)
        held = {}
        if interleave and val_fraction > 0:
            held["val"], used = _interleaved(rows, val_fraction, int(interleave), gap)
        for name, fraction in (() if interleave else (("val", val_fraction), ("test", test_fraction))):
            if fraction > 0:
                held[name] = _block(rows, fraction, used, rng)
                idx = np.flatnonzero(held[name])
                if len(idx):
                    used[max(0, idx[0] - gap):idx[-1] + 1 + gap] = True
        for name, mask in held.items():
            parts[name].append(rows[mask])
        parts["train"].append(rows[~used])
    frames = {name: (pd.concat(parts[name]) if parts[name] else manifest.iloc[:0]).reset_index(drop=True)
              for name in SPLITS}
    where = f"every {round(1 / val_fraction)}th block of {interleave} slices" if interleave else "contiguous slice blocks"
    note = (f"only {len(patients)} patient(s) (< {need}): validation/test are held-out {where} inside each "
            f"case (gap {gap}); scores are optimistic")
    return SliceSplit("slice_blocks", frames["train"], frames["val"], frames["test"], note)


__all__ = ["SPLITS", "split_patients", "patient_folds", "patients_needed", "SliceSplit", "split_slices_within"]
