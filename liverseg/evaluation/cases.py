"""One case's per-case row from its two label `Volume`s: the columns of both protocols.

`score_volumes` gives the project's columns (`evaluate_case`, on the canonical RAS arrays) and
the LiTS scorer's ``*_lits`` columns (`lits_case`, on the arrays laid out as the truth file
stores them, with the truth file's voxel spacing, as the scorer reads them: its lesion matching
depends on the raster order of the lesions). Every per-case row carries both, so a summary under
either protocol (`aggregate(rows, protocol=...)`) never needs the volumes again.
"""
from __future__ import annotations

import numpy as np
from nibabel import orientations as nio

from liverseg.evaluation.lits_scorer import lits_case
from liverseg.evaluation.volume_metrics import evaluate_case


def stored_spacing(volume) -> tuple[float, ...]:
    """mm per axis of the array as stored in `volume`'s source file (its header's zooms)."""
    ornt = nio.io_orientation(volume.original_affine)
    return tuple(float(s) for s in np.asarray(volume.spacing)[ornt[:, 0].astype(int)])


def same_orientation(a, b) -> bool:
    """Whether two volumes' files store their voxels along the same axes in the same directions
    (then the scorer, which compares stored arrays, compares what lies at the same place)."""
    return bool(np.array_equal(nio.io_orientation(a.original_affine), nio.io_orientation(b.original_affine)))


def score_volumes(pred, truth, assd: str = "lits") -> dict:
    """All per-case columns of a prediction against its truth (both `Volume`s of one canonical shape).

    The ``*_lits`` columns see the prediction placed in the truth file's layout; when both files
    store their voxels the same way (`same_orientation`) that is the prediction file's own array,
    exactly what the scorer compares.
    """
    row = evaluate_case(pred.array, truth.array, truth.spacing, assd=assd)
    row.update(lits_case(truth.to_original(pred.array), truth.to_original(truth.array), stored_spacing(truth)))
    return row


__all__ = ["same_orientation", "score_volumes", "stored_spacing"]
