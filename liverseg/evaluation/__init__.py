"""LiTS-protocol evaluation of label volumes in NumPy / SciPy: the public entry point.

- `volume_metrics(pred, truth, spacing, assd="lits")`: Dice, Jaccard, VOE, RVD, ASSD, RMSD,
  MSD, HD95 of one binary pair, in mm, on the LiTS scorer's 18-neighbourhood surfaces (or
  medpy's / CHAOS's with ``assd="medpy"`` / ``"chaos"``), with the LiTS empty-mask conventions;
- `evaluate_case(pred_labels, truth_labels, spacing)`: liver (label >= 1), tumour (label == 2),
  lesion detection and tumour burden of one case;
- `aggregate(per_case)`: per-case and global Dice, means, pooled lesion precision / recall,
  tumour-burden RMSE and maximum error;
- `lesion_detection`, `tumour_burden`: lesion-wise LiTS scores;
- `gruber_metrics(prob, truth)`, `binary_pixel_metrics(pred, truth)`: Gruber et al.'s pixel
  accuracy, IoU, adjusted Rand index (Table 1's RI) beside the classic one, restricted AUC;
  `adjusted_rand_index`, `rand_index`, `ari_from_accuracy_iou`, and the ROC over the pixels
  with 0.01 < p < 0.99: `restricted_auc`, `restricted_roc`, `youden_threshold`;
- `evaluate_folders(pred_dir, truth_dir, out_dir)`: the `liverseg evaluate` command.

The definitions follow the LiTS challenge scorer (lits-challenge-scoring, ``program/evaluate.py``
and ``program/helpers/{calc_metric,surface}.py``); every departure is stated in the docstring
of the function concerned.
"""
from liverseg.evaluation.volume_metrics import VOLUME_METRICS, aggregate, evaluate_case, volume_metrics
from liverseg.evaluation.files import evaluate_folders, find_cases
from liverseg.evaluation.lesions import lesion_detection, tumour_burden
from liverseg.evaluation.pixel_metrics import (
    adjusted_rand_index,
    ari_from_accuracy_iou,
    binary_pixel_metrics,
    gruber_metrics,
    rand_index,
    restricted_auc,
    restricted_pixels,
    restricted_roc,
    youden_threshold,
)
from liverseg.evaluation.surface import SURFACE_DEFINITIONS, surface_distances, surface_mask

__all__ = [
    "SURFACE_DEFINITIONS",
    "VOLUME_METRICS",
    "adjusted_rand_index",
    "aggregate",
    "ari_from_accuracy_iou",
    "binary_pixel_metrics",
    "evaluate_case",
    "evaluate_folders",
    "find_cases",
    "gruber_metrics",
    "lesion_detection",
    "rand_index",
    "restricted_auc",
    "restricted_pixels",
    "restricted_roc",
    "surface_distances",
    "surface_mask",
    "tumour_burden",
    "volume_metrics",
    "youden_threshold",
]
