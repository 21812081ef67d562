"""`liverseg export --run RUN_DIR [--variant V] --format onnx|savedmodel [--output DIR]`: the networks
of a run's predictor (default: the paper's method) as ONNX files or TensorFlow SavedModels, with
export.json naming each network's file and shapes (see liverseg/runner/export.py)."""
from __future__ import annotations

from pathlib import Path

from liverseg.errors import OptionError


def configure(parser) -> None:
    from liverseg.runner.export import FORMATS

    parser.add_argument("--run", required=True, type=Path, help="run directory written by `make reproduce-<paper>`")
    parser.add_argument("--variant", help="which of the run's variants (default: the paper's method)")
    parser.add_argument("--format", required=True, choices=sorted(FORMATS), help="onnx (ONNX Runtime) or savedmodel")
    parser.add_argument("--output", type=Path, help="folder to write (default: RUN/export/<variant>)")


def run(args) -> int:
    from liverseg.cli.predict import load_run
    from liverseg.runner.export import export_dir, export_predictor

    spec, cfg = load_run(args.run)
    variant = args.variant or spec.default_variant
    if variant not in spec.variants:
        raise OptionError(f"--variant {variant}: {spec.name} has {', '.join(spec.variants)}")
    out = args.output or export_dir(args.run, variant)
    predictor = spec.predictor(spec.context(cfg, args.run), variant)
    manifest = export_predictor(predictor, out, args.format,
                                {"paper": spec.name, "variant": variant, "run": str(Path(args.run).resolve())})
    names = ", ".join(f"{name} ({entry['file']})" for name, entry in manifest["networks"].items())
    print(f"wrote {out}: {args.format}, {len(manifest['networks'])} network(s): {names}")
    return 0
