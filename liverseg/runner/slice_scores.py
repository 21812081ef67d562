"""A slice-level tumour score of a run's variants on the test volumes, beside the LiTS volume scores.

`tumour_free_slice_specificity`: over the test patients' axial slices that hold liver and no tumour in
the truth, the fraction on which the variant predicts no tumour voxel. It measures the tumour channel's
false positives where the volume Dice cannot (a patient's Dice mixes them with its lesions); on smoke
profiles whose networks learn no phantom tumour in seconds (Li, Bi) it is the tumour score the
regression check can guard (it drops when a wrong channel or head is read as tumour, or the threshold
breaks).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SPECIFICITY = "tumour_free_slice_specificity"


def tumour_free_slices(truth: np.ndarray) -> np.ndarray:
    """Axial indices (last axis) with liver and no tumour in a label volume (X, Y, Z)."""
    liver = (truth >= 1).any(axis=(0, 1))
    tumour = (truth == 2).any(axis=(0, 1))
    return np.flatnonzero(liver & ~tumour)


def specificity(cases: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Fraction of tumour-free liver slices with no predicted tumour, over (truth, prediction) pairs;
    NaN when no such slice exists."""
    clean = total = 0
    for truth, pred in cases:
        index = tumour_free_slices(truth)
        total += len(index)
        clean += int((~(pred[..., index] == 2).any(axis=(0, 1))).sum())
    return clean / total if total else float("nan")


def variant_scores(cache, split: dict, run_dir: Path, variants) -> dict[str, dict[str, float]]:
    """{variant: {SPECIFICITY: value}} over the test patients, for each of `variants`."""
    from liverseg.io.volumes import read_volume
    from liverseg.runner.data import read_source_case
    from liverseg.runner.predictions import prediction_path

    truths = {c: np.asarray(read_source_case(cache, c).label.array) for c in split["test"]}
    out = {}
    for variant in variants:
        pairs = [(truth, np.asarray(read_volume(prediction_path(run_dir, variant, c), kind="label").array))
                 for c, truth in truths.items()]
        out[variant] = {SPECIFICITY: specificity(pairs)}
    return out


__all__ = ["SPECIFICITY", "tumour_free_slices", "specificity", "variant_scores"]
