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
- `lits_case(pred_labels, truth_labels, spacing)`: the official LiTS scorer's per-case values, as
  ``*_lits`` columns (`liverseg.evaluation.lits_scorer`; its lesion matching, quirks included, in
  `liverseg.evaluation.lits_matching`); `score_volumes(pred, truth)`: one case's row with the columns
  of both protocols, from two label Volumes;
- `aggregate(per_case, protocol)`: ``"liverseg"`` (default) the project's conventions, ``"lits"`` the
  scorer's summary figures exactly (`PROTOCOLS`); `scores_txt` writes them as its scores.txt;
- `evaluate_folders(pred_dir, truth_dir, out_dir, protocol=...)`: the `liverseg evaluate` command.

The definitions follow the LiTS challenge scorer (lits-challenge-scoring, ``program/evaluate.py``
and ``program/helpers/{calc_metric,surface}.py``). The project's own protocol departs from it on
purpose in a few places (RVD = (|P| - |G|) / |G|, the largest *absolute* tumour-burden error,
+inf rather than 9001 for an empty mask, tumour metrics per case rather than per detected lesion,
NaN for undefined precision / recall), each stated in the docstring of the function concerned;
``protocol="lits"`` gives the scorer's numbers exactly (see `liverseg.evaluation.lits_scorer`).
"""
from liverseg.evaluation.volume_metrics import PROTOCOLS, VOLUME_METRICS, aggregate, evaluate_case, volume_metrics
from liverseg.evaluation.lits_scorer import LITS_COLUMNS, lits_case, lits_summary, scores_txt
from liverseg.evaluation.cases import score_volumes
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
    "LITS_COLUMNS",
    "PROTOCOLS",
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
    "lits_case",
    "lits_summary",
    "rand_index",
    "restricted_auc",
    "restricted_pixels",
    "restricted_roc",
    "score_volumes",
    "scores_txt",
    "surface_distances",
    "surface_mask",
    "tumour_burden",
    "volume_metrics",
    "youden_threshold",
]
