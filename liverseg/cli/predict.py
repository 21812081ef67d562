"""`liverseg predict --run RUN_DIR --input CT --output SEG.nii.gz`: a trained run's whole pipeline on one CT."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from liverseg.errors import InputError


def configure(parser) -> None:
    parser.add_argument("--run", required=True, type=Path, help="run directory written by `make reproduce-<paper>`")
    parser.add_argument("--input", required=True, type=Path, help="CT as .nii / .nii.gz or a DICOM series folder")
    parser.add_argument("--output", required=True, type=Path, help="label volume to write (.nii.gz), 0/1/2")


def run(args) -> int:
    config = args.run / "config.json"
    if not config.is_file():
        raise InputError(args.run, "not a run directory (no config.json)")
    paper = json.loads(config.read_text()).get("paper")
    if not paper:
        raise InputError(config, "no 'paper' key")
    if not str(args.output).endswith((".nii", ".nii.gz")):
        raise InputError(args.output, "output must end in .nii or .nii.gz")
    from liverseg.io.volumes import read_volume, write_label_volume

    volume = read_volume(args.input, kind="image")
    pipeline = importlib.import_module(f"experiments.{paper}.pipeline")
    labels = pipeline.predict_labels(args.run, volume)
    write_label_volume(volume.to_original(labels), volume.original_affine, args.output)
    counts = {name: int((labels == k).sum()) for k, name in ((1, "liver"), (2, "tumour"))}
    print(f"wrote {args.output}: liver {counts['liver']} voxels, tumour {counts['tumour']} voxels")
    return 0
