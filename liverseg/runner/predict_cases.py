"""`liverseg predict`: a trained run's predictor on one CT or a folder of them, with a progress bar,
skipping what is already predicted, optional probabilities, DICOM SEG output and per-case statistics.

Outputs (`-o` a file for one case, else a folder):

    <name>.nii.gz | <name>.dcm          labels 0/1/2 in the input's own geometry (NIfTI) or a DICOM SEG
    <stem>_probabilities.npz            --save-probabilities: `probabilities` (stored layout, (..., K)
                                        float32), `channels` (their names), `affine` (voxel -> RAS mm)
    statistics.csv, statistics.json     --statistics: one row per case (`liverseg.evaluation.statistics`)

Names in a folder: `volume-N` -> `segmentation-N.nii.gz`, `test-volume-N` -> `test-segmentation-N.nii.gz`,
any other case `<case id>.nii.gz`; `--lits-submission`: `test-segmentation-N.nii` for every case (the
challenge's naming). Everything a user can get wrong (input, output, variant, options) is refused
before the first file is written.
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liverseg.errors import InputError, OptionError
from liverseg.io.atomic import atomic_path, atomic_write_json, check_output_folder, read_json
from liverseg.io.inputs import InputCase, find_inputs, read_input

OUTPUT_TYPES = ("nifti", "dicom-seg")
STATISTICS = ("statistics.csv", "statistics.json")
_LITS_VOLUME = re.compile(r"^(test-)?volume-(\d+)$")


@dataclass(frozen=True)
class Job:
    case: InputCase
    output: Path  # the label file
    probabilities: Path | None  # with --save-probabilities


def output_name(case: InputCase, output_type: str = "nifti", lits_submission: bool = False) -> str:
    """The file name of `case`'s labels in an output folder (see the module doc)."""
    if lits_submission:
        if case.number is None:
            raise InputError(case.path, "--lits-submission needs a case number in the name (volume-N, "
                                        "test-volume-N, 3Dircadb1.N, ...)")
        return f"test-segmentation-{case.number}.nii"
    if output_type == "dicom-seg":
        return f"{case.case_id}.dcm"
    match = _LITS_VOLUME.match(case.case_id)
    if match:
        return f"{match.group(1) or ''}segmentation-{int(match.group(2))}.nii.gz"
    return f"{case.case_id}.nii.gz"


def _probabilities_path(label_path: Path) -> Path:
    name = label_path.name
    for suffix in (".nii.gz", ".nii", ".dcm"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return label_path.with_name(f"{name}_probabilities.npz")


def plan(input_path, output, output_type: str = "nifti", lits_submission: bool = False,
         save_probabilities: bool = False) -> tuple[list[Job], Path]:
    """(the jobs, the output folder) for `-i input_path -o output`; InputError / OptionError for what
    cannot be done, before anything is written."""
    if output_type not in OUTPUT_TYPES:
        raise OptionError(f"--output-type {output_type}: choose one of {', '.join(OUTPUT_TYPES)}")
    if lits_submission and output_type != "nifti":
        raise OptionError("--lits-submission writes NIfTI files (test-segmentation-N.nii); it does not go "
                          "with --output-type dicom-seg")
    cases = find_inputs(input_path)
    if output_type == "dicom-seg":
        for case in cases:
            if not case.is_dicom:
                raise InputError(case.path, "--output-type dicom-seg needs a DICOM input (a DICOM series or "
                                            "3D-IRCADb patient folder); this is a NIfTI file")
    output = Path(output)
    suffixes = (".dcm",) if output_type == "dicom-seg" else (".nii.gz", ".nii")
    as_file = output.name.endswith(suffixes) and not output.is_dir()
    if as_file:
        if len(cases) != 1:
            raise InputError(output, f"-o names one file but -i {input_path} holds {len(cases)} cases; give a folder")
        if lits_submission:
            raise OptionError("--lits-submission names the files itself: give -o a folder")
        folder = check_output_folder(output.parent, "-o/--output")
        files = [output]
    else:
        if output.name.endswith((".nii.gz", ".nii", ".dcm")) and not output.is_dir():
            wanted = "a .dcm file" if output_type == "dicom-seg" else "a .nii / .nii.gz file"
            raise InputError(output, f"-o/--output: --output-type {output_type} writes {wanted} or a folder")
        folder = check_output_folder(output, "-o/--output")
        files = [output / output_name(c, output_type, lits_submission) for c in cases]
    seen: dict[Path, InputCase] = {}
    for case, path in zip(cases, files):
        if path in seen:
            raise InputError(case.path, f"would write {path.name}, as {seen[path].path} does; rename one of them")
        seen[path] = case
        if path.exists() and not path.is_file():
            raise InputError(path, "-o/--output: exists and is not a file")
    jobs = [Job(c, p, _probabilities_path(p) if save_probabilities else None) for c, p in zip(cases, files)]
    return jobs, folder


def _done(job: Job) -> bool:
    return job.output.is_file() and (job.probabilities is None or job.probabilities.is_file())


def _write_probabilities(path: Path, prediction, volume) -> None:
    probs = prediction.probability_maps()
    if probs is None:
        raise OptionError("--save-probabilities: this run's predictor keeps no probabilities")
    stored = volume.to_original(probs)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, probabilities=stored, channels=np.array(prediction.channels or ()),
                                affine=volume.original_affine)


def _write_labels(job: Job, labels_stored: np.ndarray, volume, output_type: str) -> None:
    if output_type == "dicom-seg":
        from liverseg.io.dicom_seg import write_dicom_seg

        if job.case.kind == "ircadb":
            from liverseg.io.ircadb import patient_dicom

            with patient_dicom(job.case.path) as (series, source):
                write_dicom_seg(labels_stored, series, job.output, source=source)
        else:
            write_dicom_seg(labels_stored, job.case.path, job.output)
        return
    from liverseg.io.volumes import write_label_volume

    write_label_volume(labels_stored, volume.original_affine, job.output)


def _read_existing_labels(job: Job, volume) -> np.ndarray | None:
    """Canonical labels of an already written NIfTI prediction (None for a DICOM SEG)."""
    if not job.output.name.endswith((".nii", ".nii.gz")):
        return None
    from liverseg.io.volumes import read_volume

    labels = read_volume(job.output, kind="label")
    if labels.array.shape != volume.array.shape:
        raise InputError(job.output, f"already written, but its shape {labels.array.shape} differs from the CT "
                                     f"{job.case.path} {volume.array.shape}; remove it or use --overwrite")
    return labels.array


class StatisticsFile:
    """statistics.csv / statistics.json in the output folder: one row per case, merged with the rows an
    earlier call wrote, rewritten (atomically) after every case."""

    def __init__(self, folder: Path):
        self.csv, self.json = folder / STATISTICS[0], folder / STATISTICS[1]
        self.rows: dict[str, dict] = {}
        if self.json.is_file():
            old = read_json(self.json)
            self.rows = {r["case"]: r for r in old.get("cases", []) if isinstance(r, dict) and "case" in r}

    def add(self, case_id: str, row: dict) -> None:
        import pandas as pd

        from liverseg.evaluation.statistics import COLUMNS

        self.rows[case_id] = {"case": case_id, **row}
        rows = [self.rows[k] for k in sorted(self.rows)]
        frame = pd.DataFrame(rows, columns=["case", "input", "output", *COLUMNS])
        with atomic_path(self.csv) as tmp:
            frame.to_csv(tmp, index=False, lineterminator="\n", float_format="%.6g")
        atomic_write_json(self.json, {"units": {"volume": "mL", "hu": "HU", "tumour_burden": "tumour / liver volume"},
                                      "cases": rows})


def _statistics(job: Job, labels: np.ndarray, volume) -> dict:
    from liverseg.evaluation.statistics import label_statistics

    return {"input": str(job.case.path), "output": str(job.output),
            **label_statistics(labels, volume.spacing, volume.array)}


def predict_cases(run_dir, cfg, spec, variant: str, jobs: list[Job], folder: Path, *, output_type: str = "nifti",
                  statistics: bool = False, overwrite: bool = False, quiet: bool = False) -> dict:
    """Predict every job (skipping those already written unless `overwrite`); returns the summary."""
    from tqdm import tqdm

    from liverseg.runner.trained_on import run_warnings, warn_if_trained_on

    for line in run_warnings(run_dir, spec, cfg, variant, [j.case.path for j in jobs]):
        print(f"liverseg predict: warning: {line}", file=sys.stderr, flush=True)
    table = StatisticsFile(folder) if statistics else None
    # a DICOM SEG is not read back: one without a statistics row is predicted again
    todo = [j for j in jobs if overwrite or not _done(j)
            or (table is not None and output_type == "dicom-seg" and j.case.case_id not in table.rows)]
    skipped = [j for j in jobs if j not in todo]
    predictor = spec.predictor(spec.context(cfg, run_dir), variant) if todo else None
    start, seconds = time.perf_counter(), []
    counts = {"liver": 0, "tumour": 0}
    bar = tqdm(jobs, unit="case", desc=f"predict ({variant})", disable=quiet or len(jobs) < 2, file=sys.stderr,
               dynamic_ncols=True)
    for job in bar:
        bar.set_postfix_str(job.case.case_id, refresh=False)
        if job not in todo and (table is None or output_type == "dicom-seg"):
            continue  # nothing to do (a skipped SEG keeps its statistics row)
        volume = read_input(job.case)
        if job in todo:
            warn_if_trained_on(run_dir, volume)
            t0 = time.perf_counter()
            prediction = predictor(volume)
            labels = prediction.labels
            if job.probabilities is not None:
                _write_probabilities(job.probabilities, prediction, volume)
            _write_labels(job, volume.to_original(labels), volume, output_type)
            seconds.append(time.perf_counter() - t0)
            counts["liver"] += int((labels >= 1).sum())
            counts["tumour"] += int((labels == 2).sum())
            if len(jobs) == 1 and not quiet:
                print(f"wrote {job.output}: liver {int((labels == 1).sum())} voxels, tumour "
                      f"{int((labels == 2).sum())} voxels", flush=True)
        else:
            labels = _read_existing_labels(job, volume)
        if table is not None and labels is not None:
            table.add(job.case.case_id, _statistics(job, labels, volume))
    bar.close()
    summary = {"cases": len(jobs), "predicted": len(todo), "skipped": len(skipped),
               "seconds": round(time.perf_counter() - start, 1),
               "seconds_per_case": round(float(np.mean(seconds)), 2) if seconds else None, "output": str(folder)}
    if not quiet:
        parts = [f"{summary['predicted']} predicted"]
        if skipped:
            parts.append(f"{len(skipped)} skipped (already predicted; --overwrite redoes them)")
        per_case = f", {summary['seconds_per_case']} s per case" if seconds else ""
        stats = f"; statistics in {table.csv} and {table.json.name}" if table is not None else ""
        print(f"liverseg predict: {len(jobs)} case(s): {', '.join(parts)} in {summary['seconds']} s{per_case}; "
              f"output {folder}{stats}", flush=True)
    return summary


__all__ = ["OUTPUT_TYPES", "Job", "output_name", "plan", "predict_cases", "StatisticsFile"]
