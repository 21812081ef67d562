"""A slice-level tumour score of label volumes, beside the LiTS volume scores (a run's variants:
`liverseg.runner.predictions.slice_scores`).

`tumour_free_slice_specificity`: over the test patients' axial slices that hold liver and no tumour in
the truth, the fraction on which the variant predicts no tumour voxel. It measures the tumour channel's
false positives where the volume Dice cannot (a patient's Dice mixes them with its lesions); on smoke
profiles whose networks learn no phantom tumour in seconds (Li, Bi) it is the tumour score the
regression check can guard (it drops when a wrong channel or head is read as tumour, or the threshold
breaks).
"""
from __future__ import annotations

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


__all__ = ["SPECIFICITY", "tumour_free_slices", "specificity"]
