"""Score a folder of LiTS-named predictions against a folder of truth label volumes."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from liverseg.evaluation.volume_metrics import aggregate, evaluate_case
from liverseg.io.atomic import atomic_path, json_default
from liverseg.errors import InputError, OptionError
from liverseg.io.naming import index_by_case_number
from liverseg.evaluation.surface import SURFACE_DEFINITIONS

# Accepted file names in both folders: segmentation-N, test-segmentation-N, prediction-N,
# each .nii or .nii.gz; N is the case number.
CASE_NAME = re.compile(r"^(?:test-segmentation|segmentation|prediction)-(\d+)\.nii(?:\.gz)?$")
ACCEPTED = "segmentation-N, test-segmentation-N or prediction-N with .nii or .nii.gz"
SPACING_ATOL_MM = 1e-3
TABLE_COLUMNS = (
    "liver_dice", "liver_assd", "liver_msd", "tumour_dice", "lesion_num_truth",
    "lesion_tp_50", "lesion_fp_50", "tumour_burden_error",
)


def find_cases(folder) -> dict[int, Path]:
    """Case number -> file for the LiTS-named label files in `folder` (other files are ignored).

    InputError when the folder is missing or holds two files for one case number.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "not a directory")
    return index_by_case_number(folder.iterdir(), CASE_NAME)


def _read_labels(path):
    from liverseg.io.volumes import read_volume

    return read_volume(path, kind="label")


def _same_geometry(pred, truth, pred_path, truth_path) -> None:
    if pred.array.shape != truth.array.shape:
        raise InputError(
            pred_path, f"shape {tuple(pred.array.shape)} differs from the truth shape {tuple(truth.array.shape)} of {truth_path}"
        )
    if not np.allclose(pred.spacing, truth.spacing, rtol=0.0, atol=SPACING_ATOL_MM):
        raise InputError(
            pred_path,
            f"voxel spacing {tuple(round(s, 4) for s in pred.spacing)} mm differs from the truth spacing "
            f"{tuple(round(s, 4) for s in truth.spacing)} mm of {truth_path}",
        )


def _write_outputs(out_dir: Path, frame, summary: dict) -> None:
    """Write per_case.csv and summary.json together: both appear, or neither (and no new folder)."""
    created = not out_dir.exists()
    try:
        with atomic_path(out_dir / "per_case.csv") as csv_tmp, atomic_path(out_dir / "summary.json") as json_tmp:
            frame.to_csv(csv_tmp, index=False, lineterminator="\n")
            json_tmp.write_text(json.dumps(summary, indent=2, default=json_default) + "\n", encoding="utf-8")
    except BaseException:
        if created:
            try:
                out_dir.rmdir()
            except OSError:
                pass
        raise


def evaluate_folders(pred_dir, truth_dir, out_dir, assd: str = "lits", quiet: bool = False) -> dict:
    """Evaluate every truth case against the prediction with the same case number.

    Both folders hold files named segmentation-N, test-segmentation-N or prediction-N
    (.nii or .nii.gz); other files are ignored, and predictions without a truth file are left
    out. Each file is read with `liverseg.io.volumes.read_volume(path, kind="label")`; the truth
    spacing is used. Errors (InputError): a folder missing or without LiTS-named truth files,
    two files for one case, truth cases without a prediction (all listed), a prediction whose
    shape or spacing (within 0.001 mm) differs from its truth, unreadable files.

    Writes `out_dir`/per_case.csv (column ``case`` = N, then every `evaluate_case` key) and
    `out_dir`/summary.json (`aggregate` keys plus ``assd_definition`` and ``cases``; NaN and
    +inf written as the JSON extensions NaN / Infinity that Python and pandas read back), only
    after every case has been scored, so an error leaves nothing behind. Unless `quiet`, prints
    a per-case table and the summary. Returns the summary dict.
    """
    import pandas as pd

    if assd not in SURFACE_DEFINITIONS:
        raise OptionError(f"unknown ASSD definition {assd!r}; choose one of {', '.join(SURFACE_DEFINITIONS)}")
    truth_cases = find_cases(truth_dir)
    if not truth_cases:
        raise InputError(truth_dir, f"no truth label files named {ACCEPTED}")
    pred_cases = find_cases(pred_dir)
    missing = sorted(set(truth_cases) - set(pred_cases))
    if missing:
        raise InputError(
            pred_dir, f"no prediction for truth case(s) {', '.join(map(str, missing))} of {truth_dir} (expected {ACCEPTED})"
        )
    rows = []
    for number, truth_path in sorted(truth_cases.items()):
        pred_path = pred_cases[number]
        truth = _read_labels(truth_path)
        pred = _read_labels(pred_path)
        _same_geometry(pred, truth, pred_path, truth_path)
        rows.append({"case": number, **evaluate_case(pred.array, truth.array, truth.spacing, assd=assd)})
    frame = pd.DataFrame(rows)
    # plain Python numbers (NaN and inf stay floats), so the printed table and the caller see what the JSON holds
    summary = {k: json_default(v) if isinstance(v, np.generic) else v for k, v in aggregate(frame).items()}
    summary["assd_definition"] = assd
    summary["cases"] = [int(n) for n in frame["case"]]
    _write_outputs(Path(out_dir), frame, summary)
    if not quiet:
        print(frame[["case", *TABLE_COLUMNS]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        numbers = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        table = pd.Series(numbers, dtype=object).map(
            lambda v: f"{v:.4f}" if isinstance(v, float) and math.isfinite(v) else str(v)
        )
        print(table.to_string())
    return summary
