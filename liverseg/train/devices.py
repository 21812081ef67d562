"""Which Keras backend runs, and how many GPUs it sees, without importing TensorFlow needlessly.

TensorFlow is imported only when Keras runs on the TensorFlow backend (`tensorflow()`), so the
training package works with `KERAS_BACKEND=jax` or `torch` on a machine without TensorFlow.
"""
from __future__ import annotations

import importlib

import keras


def backend() -> str:
    """The Keras backend of this process: "tensorflow", "jax", "torch" or "numpy"."""
    return keras.backend.backend()


def tensorflow():
    """The `tensorflow` module; only on the TensorFlow backend (a RuntimeError on any other)."""
    if backend() != "tensorflow":
        raise RuntimeError(f"TensorFlow is not used on the {backend()} backend")
    return importlib.import_module("tensorflow")


def gpu_count() -> int:
    """Number of GPUs the backend sees: TensorFlow's physical GPUs, `jax.devices("gpu")`, or
    `torch.cuda.device_count()`; 0 on the numpy backend and when the backend has no GPU support."""
    name = backend()
    if name == "tensorflow":
        return len(tensorflow().config.list_physical_devices("GPU"))
    if name == "jax":
        import jax

        try:
            return len(jax.devices("gpu"))
        except RuntimeError:  # no GPU platform in this jaxlib, or none visible
            return 0
    if name == "torch":
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    return 0


__all__ = ["backend", "tensorflow", "gpu_count"]
