"""Volume metrics of the LiTS protocol under the project's conventions (protocol "liverseg") for
one mask pair, per case (liver, tumour, lesions) and aggregated over cases. The official scorer's
exact figures (protocol "lits") are in `liverseg.evaluation.lits_scorer`; `aggregate` gives
either. NumPy / SciPy only; `liverseg.evaluation` is the public entry.
"""
from __future__ import annotations

import math

import numpy as np

from liverseg.errors import OptionError
from liverseg.evaluation.lesions import lesion_detection, tumour_burden
from liverseg.evaluation.surface import SURFACE_DEFINITIONS, surface_distances, union_box

VOLUME_METRICS = ("dice", "jaccard", "voe", "rvd", "assd", "rmsd", "msd", "hd95")
DISTANCE_METRICS = VOLUME_METRICS[4:]
COUNT_KEYS = ("pred_voxels", "truth_voxels", "intersection_voxels")
STRUCTURES = ("liver", "tumour")
DETECTION_LEVELS = ("50", "any")
# summary protocols of `aggregate` (the per-case rows carry the columns of both)
PROTOCOLS = {
    "liverseg": "the project's conventions: RVD = (|P| - |G|) / |G|, tumour burden max = largest absolute "
                "error, empty masks as in volume_metrics (default)",
    "lits": "the official LiTS scorer's figures, exactly: RVD = (|G| - |P|) / |P|, 9001 penalties for a "
            "prediction without label 1, tumour metrics over detected lesions, signed burden max "
            "(liverseg.evaluation.lits_scorer)",
}


def volume_metrics(pred, truth, spacing, assd: str = "lits") -> dict:
    """Overlap and surface-distance metrics of a binary prediction against a binary truth.

    Keys (P = prediction voxels, G = truth voxels; distances in mm):

    - ``dice`` = 2|P∩G| / (|P|+|G|); ``jaccard`` = |P∩G| / |P∪G|; ``voe`` = 1 - jaccard;
    - ``rvd`` = (|P| - |G|) / |G| (signed: > 0 is over-segmentation). The LiTS scorer calls
      ``medpy.metric.ravd(reference, prediction)``, i.e. (|G| - |P|) / |P|; here the truth
      volume is the reference, the usual definition of a relative volume difference (the
      scorer's value is the per-case column ``liver_rvd_lits``, `liverseg.evaluation.lits_scorer`);
    - ``assd``: mean of the distances from every surface voxel of P to the nearest surface voxel
      of G and from every surface voxel of G to the nearest of P, pooled over the points of both
      surfaces: sum(d) / (|S(P)| + |S(G)|) (LiTS ``get_average_symmetric_surface_distance``);
    - ``rmsd``: sqrt of the mean of the squared pooled distances (LiTS);
    - ``msd``: maximum symmetric surface distance = Hausdorff distance, the largest pooled
      distance (LiTS);
    - ``hd95``: 95th percentile (numpy linear interpolation) of the pooled distances, as
      ``medpy.metric.binary.hd95``; MONAI's ``compute_hausdorff_distance(percentile=95)`` takes
      the larger of the two directed 95th percentiles instead, which is >= this value;
    - ``pred_voxels``, ``truth_voxels``, ``intersection_voxels``: counts for a global Dice.

    `assd` picks the surface definition used by every distance metric (see `liverseg.evaluation.surface`):

    - ``"lits"``: mask XOR its erosion by the 18-neighbourhood, volume border = background
      (LiTS scorer);
    - ``"medpy"``: 6-neighbourhood erosion, volume border = background, pooled mean
      (``medpy.metric.binary.assd`` of MedPy >= 0.5; MedPy 0.4 returned the mean of the two
      directed means, mean(asd(P, G), asd(G, P)), which weights the smaller surface more);
    - ``"chaos"``: 6-neighbourhood erosion with ``border_value=1``, pooled mean (CHAOS scorer).

    The 18-neighbourhood surface is thicker: it adds the voxels that touch background only
    through an edge, one layer inside the 6-neighbourhood surface. On the real liver of
    segmentation-0 (0.57 x 0.57 x 1.6 mm) against copies dilated by 1 voxel, eroded by 2,
    shifted by (2, 2, 1) voxels, or dilated by 2 and shifted by 3, the LiTS ASSD is 27%, 14%,
    11% and 12% smaller than the medpy / CHAOS one (those two agree unless a mask touches the
    volume border; pooled and directed-mean ASSD differ by < 0.1% there, as both surfaces have
    about the same size). Compare ASSD values only within one definition.

    Empty masks (LiTS conventions, "one empty" following the scorer's penalty):

    - both empty: dice = jaccard = 1, voe = 0; rvd and every distance are NaN (undefined: the
      scorer computes nothing for such a case, and `aggregate` leaves NaN out of the means);
    - one empty: dice = jaccard = 0, voe = 1, every distance is +inf (the scorer's "maximum
      penalty": its mean over cases is then infinite too); rvd = -1 when P is empty and +inf
      when G is empty. (The scorer itself skips a case whose prediction is empty.)

    Everything is computed inside the bounding box of P∪G (one-voxel margin), so the cost
    follows the size of the objects, not of the volume.
    """
    pred, truth = _binary_pair(pred, truth, assd)
    box = union_box(pred, truth, margin=1)
    if box is None:
        return {**_empty_metrics(0, 0), **dict.fromkeys(COUNT_KEYS, 0)}
    p, g = pred[box], truth[box]
    counts = dict(zip(COUNT_KEYS, (int(np.count_nonzero(m)) for m in (p, g, p & g))))
    if counts["pred_voxels"] == 0 or counts["truth_voxels"] == 0:
        return {**_empty_metrics(counts["pred_voxels"], counts["truth_voxels"]), **counts}
    return {**_overlap_metrics(**counts), **_distance_metrics(p, g, spacing, assd), **counts}


def _binary_pair(pred, truth, assd: str) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as bool arrays of one shape (OptionError for an unknown `assd` definition)."""
    if assd not in SURFACE_DEFINITIONS:
        raise OptionError(f"unknown ASSD definition {assd!r}; choose one of {', '.join(SURFACE_DEFINITIONS)}")
    pred = np.asarray(pred).astype(bool, copy=False)
    truth = np.asarray(truth).astype(bool, copy=False)
    if pred.shape != truth.shape:
        raise ValueError(f"pred shape {pred.shape} differs from truth shape {truth.shape}")
    return pred, truth


def _empty_metrics(n_p: int, n_g: int) -> dict:
    """Overlap and distance metrics (no counts) by the LiTS conventions when P or G (or both) is empty;
    see `volume_metrics`."""
    if n_p == 0 and n_g == 0:
        out = dict(dice=1.0, jaccard=1.0, voe=0.0, rvd=math.nan)
        out.update({name: math.nan for name in DISTANCE_METRICS})
        return out
    out = dict(dice=0.0, jaccard=0.0, voe=1.0, rvd=-1.0 if n_p == 0 else math.inf)
    out.update({name: math.inf for name in DISTANCE_METRICS})
    return out


def _overlap_metrics(pred_voxels: int, truth_voxels: int, intersection_voxels: int) -> dict:
    n_p, n_g, n_i = pred_voxels, truth_voxels, intersection_voxels
    jaccard = n_i / (n_p + n_g - n_i)
    return dict(dice=2.0 * n_i / (n_p + n_g), jaccard=jaccard, voe=1.0 - jaccard, rvd=(n_p - n_g) / n_g)


def _distance_metrics(p: np.ndarray, g: np.ndarray, spacing, assd: str) -> dict:
    """ASSD, RMSD, MSD and HD95 of two non-empty masks, pooled over both surfaces."""
    d_p, d_g = surface_distances(p, g, spacing, definition=assd)
    d = np.concatenate([d_p, d_g])
    return dict(
        assd=float(d.mean()),
        rmsd=float(np.sqrt(np.mean(d * d))),
        msd=float(d.max()),
        hd95=float(np.percentile(d, 95)),
    )


def evaluate_case(pred_labels, truth_labels, spacing, assd: str = "lits") -> dict:
    """All LiTS per-case scores of a label volume (0 background, 1 liver, 2 tumour) against the truth.

    Keys: ``liver_<m>`` (mask label >= 1) and ``tumour_<m>`` (label == 2, all lesions together)
    for every key <m> of `volume_metrics`; ``lesion_<k>`` for every key of `lesion_detection`;
    ``tumour_burden_truth``, ``tumour_burden_pred``, ``tumour_burden_error`` (`tumour_burden`).
    """
    pred_labels = np.asarray(pred_labels)
    truth_labels = np.asarray(truth_labels)
    if pred_labels.shape != truth_labels.shape:
        raise ValueError(f"pred shape {pred_labels.shape} differs from truth shape {truth_labels.shape}")
    # Work on the labelled region only (one-voxel margin keeps every result unchanged).
    box = union_box(pred_labels > 0, truth_labels > 0, margin=1)
    if box is not None:
        pred_labels, truth_labels = pred_labels[box], truth_labels[box]
    out = {}
    for name, (p, g) in {
        "liver": (pred_labels >= 1, truth_labels >= 1),
        "tumour": (pred_labels == 2, truth_labels == 2),
    }.items():
        out.update({f"{name}_{k}": v for k, v in volume_metrics(p, g, spacing, assd=assd).items()})
    lesions = lesion_detection(pred_labels == 2, truth_labels == 2, spacing)
    out.update({f"lesion_{k}": v for k, v in lesions.items()})
    out.update(tumour_burden(pred_labels, truth_labels))
    return out


def _ratio(num: float, den: float, empty: float = math.nan) -> float:
    return float(num) / float(den) if den else empty


def aggregate(per_case, protocol: str = "liverseg") -> dict:
    """Summary over cases (a list of per-case dicts or a DataFrame of them) under `protocol`.

    ``protocol="lits"``: the official LiTS scorer's figures from the rows' ``*_lits`` columns
    (`liverseg.evaluation.lits_scorer.lits_summary`; rows from `score_volumes`, or
    `evaluate_case` merged with `lits_case`). ``"liverseg"`` (default), from `evaluate_case`'s
    columns:

    - ``num_cases``;
    - ``<s>_dice_per_case``: mean of the per-case Dice (both-empty cases count as 1);
      ``<s>_dice_global``: sum over cases of 2|P∩G| / sum of (|P| + |G|) (1 if all are empty),
      for s in liver, tumour;
    - ``<s>_<m>`` for the other volume metrics: mean over cases, NaN (undefined) values left out,
      +inf kept (one infinite case makes the mean infinite, as in the LiTS scorer);
    - ``lesion_tp_<l>``, ``lesion_fp_<l>``, ``lesion_fn_<l>`` summed over cases and
      ``lesion_precision_<l>`` = TP / (TP + FP), ``lesion_recall_<l>`` = TP / (TP + FN) of the
      sums, for l in "50" (IoU > 0.5) and "any" (any overlap); NaN when undefined;
    - ``tumour_burden_rmse`` (root mean square of the per-case burden errors) and
      ``tumour_burden_max`` (largest error), as the LiTS scorer reports them.
    """
    import pandas as pd

    if protocol not in PROTOCOLS:
        raise OptionError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    frame = per_case if isinstance(per_case, pd.DataFrame) else pd.DataFrame(list(per_case))
    if protocol == "lits":
        from liverseg.evaluation.lits_scorer import lits_summary

        return lits_summary(frame)
    out: dict = {"num_cases": int(len(frame))}
    if len(frame) == 0:
        return out

    def column(key):
        return frame[key].to_numpy(dtype=np.float64)

    for s in STRUCTURES:
        out[f"{s}_dice_per_case"] = float(np.mean(column(f"{s}_dice")))
        inter = column(f"{s}_intersection_voxels").sum()
        total = column(f"{s}_pred_voxels").sum() + column(f"{s}_truth_voxels").sum()
        out[f"{s}_dice_global"] = _ratio(2.0 * inter, total, empty=1.0)
        for m in VOLUME_METRICS[1:]:
            values = column(f"{s}_{m}")
            values = values[~np.isnan(values)]
            out[f"{s}_{m}"] = float(values.mean()) if values.size else math.nan
    for level in DETECTION_LEVELS:
        tp, fp, fn = (int(column(f"lesion_{k}_{level}").sum()) for k in ("tp", "fp", "fn"))
        out.update({f"lesion_tp_{level}": tp, f"lesion_fp_{level}": fp, f"lesion_fn_{level}": fn})
        out[f"lesion_precision_{level}"] = _ratio(tp, tp + fp)
        out[f"lesion_recall_{level}"] = _ratio(tp, tp + fn)
    errors = column("tumour_burden_error")
    out["tumour_burden_rmse"] = float(np.sqrt(np.mean(errors**2)))
    out["tumour_burden_max"] = float(np.max(errors))
    return out
