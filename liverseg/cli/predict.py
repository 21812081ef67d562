"""`liverseg predict --run RUN_DIR -i CT|FOLDER -o SEG.nii.gz|FOLDER [--variant V] [--statistics] ...`:
a trained run's whole pipeline on one CT or a folder of them (the run's paper found through the
registry; the work is `liverseg.runner.predict_cases`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from liverseg.errors import InputError, OptionError
from liverseg.io.run_layout import RunDir

DESCRIPTION = """\
Segment CT volumes with a trained run (liver 1, tumour 2).

-i/--input: a .nii / .nii.gz file, a DICOM series folder, a 3D-IRCADb patient folder
(PATIENT_DICOM/), or a folder holding any of these side by side. -o/--output: a file for one case
(.nii / .nii.gz, or .dcm with --output-type dicom-seg) or a folder. In a folder, volume-N is written
as segmentation-N.nii.gz, test-volume-N as test-segmentation-N.nii.gz, any other case as
<name>.nii.gz (<name>.dcm for a DICOM SEG); --lits-submission names every case
test-segmentation-N.nii, as the LiTS challenge expects. Labels are written in the input's own
geometry. Cases whose output exists are skipped (--overwrite redoes them). --statistics writes
statistics.csv and statistics.json in the output folder: per case liver volume (mL, tumours
included), tumour volume (mL), tumour count (3D connected components), tumour burden (tumour /
liver volume) and the mean HU of liver and tumour.
"""


def configure(parser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--run", required=True, type=Path, help="run directory written by `make reproduce-<paper>`")
    parser.add_argument("-i", "--input", required=True, type=Path,
                        help="CT file (.nii / .nii.gz), DICOM series folder, 3D-IRCADb patient folder, or a folder of cases")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="label file for one case (.nii.gz; .dcm with --output-type dicom-seg) or output folder")
    parser.add_argument("--variant", help="which of the run's variants predicts (default: the paper's method)")
    parser.add_argument("--output-type", choices=("nifti", "dicom-seg"), default="nifti",
                        help="nifti (default) or dicom-seg: a DICOM Segmentation object referencing the source "
                             "series (DICOM inputs only)")
    parser.add_argument("--save-probabilities", action="store_true",
                        help="also write <name>_probabilities.npz (the predictor's per-voxel probabilities in the "
                             "input's layout, their channel names and the affine)")
    parser.add_argument("--statistics", action="store_true",
                        help="write statistics.csv / statistics.json (volumes in mL, tumour count and burden, mean HU)")
    parser.add_argument("--lits-submission", action="store_true",
                        help="name the outputs test-segmentation-N.nii (LiTS challenge submission)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default=None,
                        help="run on the CPU, or refuse to start without a GPU (default: a GPU when there is one)")
    parser.add_argument("--overwrite", action="store_true", help="predict again the cases whose output exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def load_run(run_dir: Path):
    """(spec, config) of a run directory."""
    from liverseg.config import from_dict
    from liverseg.io.atomic import read_json
    from liverseg.registry import paper

    config = RunDir(run_dir).config
    if not Path(run_dir).is_dir():
        raise InputError(run_dir, "run directory not found")
    if not config.is_file():
        raise InputError(run_dir, "not a run directory (no config.json)")
    record = read_json(config)
    if not record.get("paper"):
        raise InputError(config, "no 'paper' key")
    spec = paper(record["paper"])
    return spec, from_dict(spec.config_class, record["config"])


def select_device(device: str | None) -> None:
    """--device cpu hides the GPUs from TensorFlow; --device gpu refuses to start without one."""
    if device is None:
        return
    import keras

    if keras.backend.backend() != "tensorflow":
        if device == "gpu":
            raise OptionError(f"--device gpu: only the TensorFlow backend is handled (KERAS_BACKEND is "
                              f"{keras.backend.backend()}); choose its device with that backend's own settings")
        return
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu":
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow already initialised its devices in this process
            if tf.config.get_visible_devices("GPU"):
                raise OptionError("--device cpu: TensorFlow already uses the GPU in this process; set "
                                  "CUDA_VISIBLE_DEVICES= instead") from None
    elif not gpus:
        raise OptionError("--device gpu: TensorFlow sees no GPU (install requirements-gpu.txt: make venv GPU=1)")


def run(args) -> int:
    from liverseg.runner.predict_cases import plan, predict_cases

    spec, cfg = load_run(args.run)
    variant = args.variant or spec.default_variant
    if variant not in spec.variants:
        raise OptionError(f"--variant {variant}: {spec.name} has {', '.join(spec.variants)}")
    jobs, folder = plan(args.input, args.output, output_type=args.output_type,
                        lits_submission=args.lits_submission, save_probabilities=args.save_probabilities)
    select_device(args.device)
    predict_cases(args.run, cfg, spec, variant, jobs, folder, output_type=args.output_type,
                  statistics=args.statistics, overwrite=args.overwrite, quiet=args.quiet)
    return 0
