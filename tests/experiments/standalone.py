"""Checks every paper's smoke run gets: its checkpoints load in a fresh interpreter with only
`import keras, liverseg` (no paper package, no custom_objects), and `liverseg export --format onnx`
gives networks whose ONNX Runtime outputs match Keras within 1e-4 on a real CT slice."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
LOAD_ALL = """
import json, sys
import keras, liverseg
loaded = {}
for path in sys.argv[1:]:
    model = keras.saving.load_model(path)  # compiled as saved: loss, metrics, optimizer too
    loaded[path] = [model.name, bool(model.compiled)]
print(json.dumps(loaded))
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONPATH")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def assert_checkpoints_stand_alone(run_dir: Path) -> None:
    """Every best.keras / last.keras of the run loads, compiled, in a subprocess started outside the
    project folder (so `experiments` is not importable) with only keras and liverseg imported."""
    files = sorted(str(p) for p in Path(run_dir).glob("*/*.keras"))
    assert any(f.endswith("best.keras") for f in files), f"no checkpoints in {run_dir}"
    out = subprocess.run([sys.executable, "-c", LOAD_ALL, *files], capture_output=True, text=True,
                         cwd=Path(run_dir).parent, env=_env(), timeout=600)
    assert out.returncode == 0, out.stderr.strip().splitlines()[-1:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert sorted(loaded) == files and all(compiled for _, compiled in loaded.values())


def real_slices(shared_data: Path, size: int, n: int = 1) -> np.ndarray:
    """`n` axial slices through the liver of the real sample volume-1, windowed and resized to
    `size` like a network input, (n, size, size, 1) float32 in [0, 1]."""
    import cv2
    import nibabel as nib

    image = np.asarray(nib.load(shared_data / "lits_sample" / "volume-1.nii.gz").dataobj, np.float32)
    label = np.asarray(nib.load(shared_data / "lits_sample" / "segmentation-1.nii.gz").dataobj)
    zs = np.argsort(-(label >= 1).sum(axis=(0, 1)), kind="stable")[:n]
    out = [(np.clip(image[..., z], -100.0, 200.0) + 100.0) / 300.0 for z in zs]
    return np.stack([cv2.resize(s, (size, size), interpolation=cv2.INTER_AREA) for s in out])[..., None]


def assert_onnx_matches_keras(run_dir: Path, shared_data: Path, out_dir: Path, tolerance: float = 1e-4) -> dict:
    """`liverseg export --run RUN --format onnx`, then every exported network on a real slice: ONNX
    Runtime (CPU) against the Keras model of the same predictor; returns {network: max |diff|}."""
    from liverseg.cli.main import main
    from liverseg.cli.predict import load_run
    from liverseg.runner.export import onnx_predict, onnx_session, predictor_networks

    assert main(["export", "--run", str(run_dir), "--format", "onnx", "--output", str(out_dir)]) == 0
    manifest = json.loads((out_dir / "export.json").read_text())
    spec, cfg = load_run(run_dir)
    assert manifest["variant"] == spec.default_variant
    networks = predictor_networks(spec.predictor(spec.context(cfg, run_dir), spec.default_variant))
    assert set(manifest["networks"]) == set(networks)
    diffs = {}
    for name, model in networks.items():
        h, w, c = manifest["networks"][name]["input_shape"]
        size = h
        x = np.repeat(real_slices(shared_data, size), c, axis=-1)
        expected = np.asarray(model.predict(x, verbose=0), np.float32)
        got = onnx_predict(onnx_session(out_dir / manifest["networks"][name]["file"]), x)
        assert got.shape == expected.shape, name
        diffs[name] = float(np.abs(got - expected).max())
        assert diffs[name] <= tolerance, (name, diffs[name])
    return diffs


def assert_savedmodel_matches_keras(run_dir: Path, shared_data: Path, out_dir: Path, tolerance: float = 1e-5) -> dict:
    """`liverseg export --run RUN --format savedmodel`, then every exported network's `serve`
    signature (TensorFlow's own loader, no Keras) on a real slice against the predictor's Keras model."""
    import tensorflow as tf

    from liverseg.cli.main import main
    from liverseg.cli.predict import load_run
    from liverseg.runner.export import predictor_networks

    assert main(["export", "--run", str(run_dir), "--format", "savedmodel", "--output", str(out_dir)]) == 0
    manifest = json.loads((out_dir / "export.json").read_text())
    spec, cfg = load_run(run_dir)
    networks = predictor_networks(spec.predictor(spec.context(cfg, run_dir), spec.default_variant))
    assert set(manifest["networks"]) == set(networks)
    diffs = {}
    for name, model in networks.items():
        h, _, c = manifest["networks"][name]["input_shape"]
        x = np.repeat(real_slices(shared_data, h), c, axis=-1)
        loaded = tf.saved_model.load(str(out_dir / manifest["networks"][name]["file"]))  # kept: it owns the variables
        got = loaded.serve(tf.constant(x))
        got = np.asarray(next(iter(got.values())) if isinstance(got, dict) else got)
        diffs[name] = float(np.abs(got - np.asarray(model.predict(x, verbose=0))).max())
        assert diffs[name] <= tolerance, (name, diffs[name])
    return diffs
