"""Score a folder of LiTS-named predictions against a folder of truth label volumes."""
from __future__ import annotations

import contextlib
import json
import math
import re
from pathlib import Path

import numpy as np
from nibabel import orientations as nio

from liverseg.evaluation.cases import same_orientation, score_volumes
from liverseg.evaluation.lits_scorer import scores_txt, scores_txt_values
from liverseg.evaluation.volume_metrics import PROTOCOLS, aggregate
from liverseg.io.atomic import atomic_path, json_default
from liverseg.errors import InputError, OptionError
from liverseg.io.naming import index_by_case_number
from liverseg.io.run_layout import PER_CASE, SUMMARY
from liverseg.io.volumes import AFFINE_LINEAR_ATOL, AFFINE_ORIGIN_ATOL_MM, format_mm
from liverseg.evaluation.surface import SURFACE_DEFINITIONS

# Accepted file names in both folders: segmentation-N, test-segmentation-N, prediction-N,
# each .nii or .nii.gz; N is the case number.
CASE_NAME = re.compile(r"^(?:test-segmentation|segmentation|prediction)-(\d+)\.nii(?:\.gz)?$")
ACCEPTED = "segmentation-N, test-segmentation-N or prediction-N with .nii or .nii.gz"
SPACING_ATOL_MM = 1e-3
TABLE_COLUMNS = {
    "liverseg": ("liver_dice", "liver_assd", "liver_msd", "tumour_dice", "lesion_num_truth",
                 "lesion_tp_50", "lesion_fp_50", "tumour_burden_error"),
    "lits": ("liver_dice_lits", "liver_assd_lits", "liver_msd_lits", "tumour_dice", "lesion_num_truth",
             "lesion_tp_50_lits", "lesion_fp_50_lits", "tumour_burden_error_lits"),
}


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


def _axis_codes(volume) -> str:
    return "".join(nio.aff2axcodes(volume.original_affine))


def _same_geometry(pred, truth, pred_path, truth_path) -> None:
    """A prediction scored against its truth must lie on the truth's voxel grid, as stored: the same
    orientation (axis codes of the affine), shape, spacing and affine (float noise allowed:
    `AFFINE_LINEAR_ATOL` per direction entry, `AFFINE_ORIGIN_ATOL_MM` on the origin). A mirrored or
    shifted prediction is refused, never scored."""
    if not np.array_equal(nio.io_orientation(pred.original_affine), nio.io_orientation(truth.original_affine)):
        raise InputError(
            pred_path, f"stored in another orientation ({_axis_codes(pred)}) than its truth {truth_path} "
                       f"({_axis_codes(truth)}): a mirrored or reoriented prediction is not scored; write it "
                       "with the truth's affine")
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
    lin = float(np.abs(pred.original_affine[:3, :3] - truth.original_affine[:3, :3]).max())
    org = float(np.abs(pred.original_affine[:3, 3] - truth.original_affine[:3, 3]).max())
    if lin > AFFINE_LINEAR_ATOL or org > AFFINE_ORIGIN_ATOL_MM:
        raise InputError(
            pred_path, f"affine differs from its truth {truth_path} (direction by {lin:.4g}, origin by {org:.4g} mm): "
                       f"prediction origin {format_mm(pred.original_affine[:3, 3])}, truth origin "
                       f"{format_mm(truth.original_affine[:3, 3])}; write it with the truth's affine")


def _lits_checks(pred, truth, pred_path, truth_path) -> None:
    """What `--protocol lits` refuses: a case the scorer cannot score, or would score misplaced."""
    if not np.any(truth.array >= 1):
        raise InputError(truth_path, "has no liver (no label 1 or 2): the LiTS scorer cannot score it (its tumour "
                                     "burden divides by zero); score it with --protocol liverseg")
    if not same_orientation(pred, truth):
        raise InputError(pred_path, f"stores its voxels in another orientation than its truth {truth_path}; the LiTS "
                                    "scorer compares the stored arrays: write the prediction with the truth's affine")


def _write_outputs(out_dir: Path, frame, summary: dict, scores: str | None = None) -> None:
    """Write per_case.csv, summary.json (and scores.txt when given) together: all appear, or none
    (and no new folder)."""
    created = not out_dir.exists()
    try:
        with contextlib.ExitStack() as files:
            csv_tmp = files.enter_context(atomic_path(out_dir / PER_CASE))
            json_tmp = files.enter_context(atomic_path(out_dir / SUMMARY))
            frame.to_csv(csv_tmp, index=False, lineterminator="\n")
            json_tmp.write_text(json.dumps(summary, indent=2, default=json_default) + "\n", encoding="utf-8")
            if scores is not None:
                files.enter_context(atomic_path(out_dir / "scores.txt")).write_text(scores, encoding="utf-8")
        if scores is None:
            (out_dir / "scores.txt").unlink(missing_ok=True)  # a LiTS scores.txt of an earlier run would mislead
    except BaseException:
        if created:
            try:
                out_dir.rmdir()
            except OSError:
                pass
        raise


def evaluate_folders(pred_dir, truth_dir, out_dir, assd: str = "lits", quiet: bool = False,
                     protocol: str = "liverseg", cases=None, predicted_only: bool = False) -> dict:
    """Evaluate every truth case against the prediction with the same case number.

    Both folders hold files named segmentation-N, test-segmentation-N or prediction-N
    (.nii or .nii.gz); other files are ignored, and predictions without a truth file are left
    out. Each file is read with `liverseg.io.volumes.read_volume(path, kind="label")`; the truth
    spacing is used. Errors (InputError): a folder missing or without LiTS-named truth files,
    two files for one case, truth cases without a prediction (all listed), a prediction whose
    orientation, shape, spacing (within 0.001 mm) or affine differs from its truth (`_same_geometry`:
    a left-right mirrored prediction is refused, float noise in the affine is not), unreadable files.

    `protocol` (`PROTOCOLS`) chooses the summary: ``"liverseg"`` (default) the project's
    conventions, ``"lits"`` the official LiTS scorer's figures (`liverseg.evaluation.lits_scorer`),
    averaged in the scorer's case order (truth file names sorted as strings). ``"lits"`` also
    refuses (InputError) a truth without liver, which the scorer cannot score, and a prediction
    stored in another orientation than its truth, which the scorer would compare voxel by voxel
    as stored; `assd` must then be ``"lits"`` (OptionError otherwise: the scorer's surfaces are fixed).

    `cases` (case numbers) scores only those truth cases (InputError naming the truth folder for a
    number it lacks); `predicted_only` scores only the truth cases that have a prediction (an
    error when there is none).

    Writes `out_dir`/per_case.csv (column ``case`` = N, then every column of both protocols:
    `score_volumes`), `out_dir`/summary.json (`aggregate` keys plus ``protocol``,
    ``assd_definition`` and ``cases``, and under ``"lits"`` ``scores_txt``: the figures under the
    scorer's own names; NaN and +inf written as the JSON extensions NaN / Infinity that Python and
    pandas read back) and, under ``"lits"``, `out_dir`/scores.txt, the scorer's output file
    (``name: value``, 3 decimals, its order), only after every case has been scored, so an
    error leaves nothing behind. Unless `quiet`, prints a per-case table and the summary. Returns
    the summary dict.
    """
    import pandas as pd

    if protocol not in PROTOCOLS:
        raise OptionError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if assd not in SURFACE_DEFINITIONS:
        raise OptionError(f"unknown ASSD definition {assd!r}; choose one of {', '.join(SURFACE_DEFINITIONS)}")
    if protocol == "lits" and assd != "lits":
        raise OptionError(f"--assd {assd} does not apply to --protocol lits: the LiTS scorer's surfaces are the "
                          "18-neighbourhood ones (--assd lits)")
    truth_cases = find_cases(truth_dir)
    if not truth_cases:
        raise InputError(truth_dir, f"no truth label files named {ACCEPTED}")
    if cases is not None:
        wanted = sorted({int(n) for n in cases})
        absent = [n for n in wanted if n not in truth_cases]
        if absent:
            raise InputError(truth_dir, f"--cases: no truth file for case(s) {', '.join(map(str, absent))} "
                                        f"(expected {ACCEPTED})")
        truth_cases = {n: truth_cases[n] for n in wanted}
    pred_cases = find_cases(pred_dir)
    if predicted_only:
        truth_cases = {n: p for n, p in truth_cases.items() if n in pred_cases}
        if not truth_cases:
            raise InputError(pred_dir, f"no prediction for any truth case of {truth_dir} (expected {ACCEPTED})")
    missing = sorted(set(truth_cases) - set(pred_cases))
    if missing:
        raise InputError(
            pred_dir, f"no prediction for truth case(s) {', '.join(map(str, missing))} of {truth_dir} (expected "
                      f"{ACCEPTED}; --predicted-only scores the predicted cases, --cases chooses them)"
        )
    rows = []
    for number, truth_path in sorted(truth_cases.items()):
        pred_path = pred_cases[number]
        truth = _read_labels(truth_path)
        pred = _read_labels(pred_path)
        _same_geometry(pred, truth, pred_path, truth_path)
        if protocol == "lits":
            _lits_checks(pred, truth, pred_path, truth_path)
        rows.append({"case": number, **score_volumes(pred, truth, assd=assd)})
    frame = pd.DataFrame(rows)
    # the scorer's order (sorted file names) for its means, so that they add up in the same order
    names = [truth_cases[n].name for n in frame["case"]]
    order = sorted(range(len(names)), key=names.__getitem__) if protocol == "lits" else list(range(len(names)))
    summary = aggregate(frame.iloc[order].reset_index(drop=True), protocol=protocol)
    # plain Python numbers (NaN and inf stay floats), so the printed table and the caller see what the JSON holds
    summary = {k: json_default(v) if isinstance(v, np.generic) else v for k, v in summary.items()}
    summary["protocol"] = protocol
    summary["assd_definition"] = assd
    summary["cases"] = [int(n) for n in frame["case"]]
    scores = None
    if protocol == "lits":
        summary["scores_txt"] = scores_txt_values(summary)
        scores = scores_txt(summary)
    _write_outputs(Path(out_dir), frame, summary, scores)
    if not quiet:
        print(f"protocol {protocol}: {PROTOCOLS[protocol]}")
        print(frame[["case", *TABLE_COLUMNS[protocol]]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        numbers = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        table = pd.Series(numbers, dtype=object).map(
            lambda v: f"{v:.4f}" if isinstance(v, float) and math.isfinite(v) else str(v)
        )
        print(table.to_string())
    return summary
