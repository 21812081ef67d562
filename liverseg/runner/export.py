"""A run's networks outside Keras: the default (or a named) variant's predictor, every Keras model it
holds written as ONNX (`tf2onnx`, run by ONNX Runtime) or as a TensorFlow SavedModel.

    RUN/export/<variant>/<network>.onnx  or  <network>/ (SavedModel)   one per network of the predictor
    RUN/export/<variant>/export.json     paper, variant, format, each network's file, input and output shapes

The networks are the `keras.Model` attributes of the predictor (`model`; Gong's `coarse` and `fine`; Li's
overlap `tile` for the plain U-Net): what the whole-volume pipeline runs, nothing of training. The
pre- and post-processing around them (windowing, resizing, thresholds, crops) stay in Python.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from liverseg.errors import InputError, OptionError
from liverseg.io.run_layout import RunDir

FORMATS = {"onnx": "onnx", "savedmodel": "tf_saved_model"}
MANIFEST = "export.json"


def export_dir(run_dir, variant: str) -> Path:
    """Where `liverseg export` writes a variant's networks by default."""
    return RunDir(run_dir).export(variant)


def predictor_networks(predictor) -> dict:
    """{attribute name: keras.Model} of a predictor, in attribute order."""
    import keras

    found = {name: value for name, value in vars(predictor).items() if isinstance(value, keras.Model)}
    if not found:
        raise OptionError(f"{type(predictor).__name__} holds no Keras network to export")
    return found


def _float32(model):
    """`model` itself when every layer computes in float32, else a float32 copy with its weights
    (Keras exports to ONNX only float32 models; a mixed-precision checkpoint is cast once here)."""
    import keras

    if all(getattr(layer.dtype_policy, "name", "float32") == "float32" for layer in _all_layers(model)):
        return model

    def cast(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") == "DTypePolicy":
                return {**obj, "config": {**obj.get("config", {}), "name": "float32"}}
            return {k: cast(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [cast(v) for v in obj]
        return obj

    config = cast(keras.saving.serialize_keras_object(model))
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights([w.astype("float32") for w in model.get_weights()])
    return copy


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        inner = getattr(layer, "network", None)  # liverseg.nn.Frozen
        if inner is not None and hasattr(inner, "layers"):
            yield from _all_layers(inner)


def export_shape(model, size: int | None) -> tuple:
    """The input shape exported: the model's own, free height and width fixed to `size` (the slice
    size the predictor feeds it; ONNX Runtime's SAME pooling fails on some free shapes)."""
    shape = tuple(model.inputs[0].shape)
    if size and len(shape) == 4:
        shape = (shape[0], shape[1] or int(size), shape[2] or int(size), shape[3])
    return shape


def export_network(model, path: Path, fmt: str, size: int | None = None) -> Path:
    """One Keras model as `path` (.onnx file or SavedModel folder), batch size free."""
    if fmt not in FORMATS:
        raise OptionError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    import keras

    model = _float32(model)
    # a loaded model was never called, so Keras cannot infer the signature: it is given
    spec = keras.InputSpec(shape=export_shape(model, size), dtype="float32", name=model.inputs[0].name)
    with warnings.catch_warnings():  # Keras' tf2onnx patch trips NumPy's np.object FutureWarning
        warnings.simplefilter("ignore", FutureWarning)
        model.export(str(path), format=FORMATS[fmt], verbose=False, input_signature=[spec])
    return path


def export_predictor(predictor, out_dir: Path, fmt: str, record: dict | None = None, size: int | None = None) -> dict:
    """Every network of `predictor` under `out_dir`; returns (and writes) the manifest. Free input
    sizes are fixed to `size`, by default the slice size of the predictor's `cfg.preprocess`."""
    from liverseg.io.atomic import atomic_write_json

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    if size is None:
        size = getattr(getattr(getattr(predictor, "cfg", None), "preprocess", None), "size", None)
    networks = {}
    for name, model in predictor_networks(predictor).items():
        target = out_dir / (f"{name}.onnx" if fmt == "onnx" else name)
        export_network(model, target, fmt, size)
        networks[name] = {"file": target.name, "keras_name": model.name,
                          "input_shape": list(export_shape(model, size)[1:]),
                          "output_shape": list(model.outputs[0].shape[1:]) if model.outputs else None}
    manifest = {**(record or {}), "format": fmt, "networks": networks}
    atomic_write_json(out_dir / MANIFEST, manifest)
    return manifest


def onnx_session(path, threads: int | None = None):
    """An ONNX Runtime CPU session of `path` (`threads` intra-op threads; None: its default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_predict(session, x):
    """The first output of an ONNX Runtime session on one float32 batch."""
    import numpy as np

    return session.run(None, {session.get_inputs()[0].name: np.asarray(x, np.float32)})[0]


__all__ = ["FORMATS", "export_dir", "predictor_networks", "export_network", "export_predictor",
           "onnx_session", "onnx_predict"]
