"""`liverseg predict --run RUN_DIR --input CT --output SEG.nii.gz [--variant V]`: a trained run's whole
pipeline on one CT (the run's paper found through the registry)."""
from __future__ import annotations

from pathlib import Path

from liverseg.errors import InputError, OptionError


def configure(parser) -> None:
    parser.add_argument("--run", required=True, type=Path, help="run directory written by `make reproduce-<paper>`")
    parser.add_argument("--input", required=True, type=Path, help="CT as .nii / .nii.gz or a DICOM series folder")
    parser.add_argument("--output", required=True, type=Path, help="label volume to write (.nii.gz), 0/1/2")
    parser.add_argument("--variant", help="which of the run's variants predicts (default: the paper's method)")


def load_run(run_dir: Path):
    """(spec, config) of a run directory."""
    from liverseg.config import from_dict
    from liverseg.io.atomic import read_json
    from liverseg.registry import paper

    config = run_dir / "config.json"
    if not config.is_file():
        raise InputError(run_dir, "not a run directory (no config.json)")
    record = read_json(config)
    if not record.get("paper"):
        raise InputError(config, "no 'paper' key")
    spec = paper(record["paper"])
    return spec, from_dict(spec.config_class, record["config"])


def run(args) -> int:
    if not str(args.output).endswith((".nii", ".nii.gz")):
        raise InputError(args.output, "output must end in .nii or .nii.gz")
    spec, cfg = load_run(args.run)
    variant = args.variant or spec.default_variant
    if variant not in spec.variants:
        raise OptionError(f"--variant {variant}: {spec.name} has {', '.join(spec.variants)}")
    from liverseg.io.volumes import read_volume, write_label_volume

    from liverseg.runner.trained_on import warn_if_trained_on

    volume = read_volume(args.input, kind="image")
    warn_if_trained_on(args.run, volume)
    labels = spec.predictor(args.run, cfg, variant)(volume).labels
    write_label_volume(volume.to_original(labels), volume.original_affine, args.output)
    counts = {name: int((labels == k).sum()) for k, name in ((1, "liver"), (2, "tumour"))}
    print(f"wrote {args.output}: liver {counts['liver']} voxels, tumour {counts['tumour']} voxels")
    return 0
