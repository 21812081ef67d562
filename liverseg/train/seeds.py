"""Seeds and deterministic kernels, per Keras backend."""
from __future__ import annotations

import random

import keras
import numpy as np

from liverseg.train.devices import backend, gpu_count, tensorflow


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy, the backend and Keras' global SeedGenerator (`keras.utils.set_random_seed`,
    which also seeds TensorFlow when it is installed, for tf.data pipelines, and torch on torch).

    With `deterministic`, and only when no GPU is visible:

    - TensorFlow: op determinism (`tf.config.experimental.enable_op_determinism`); two runs with
      the same seed on CPU then give bit-identical weights. It stays off on GPU, where some
      kernels (e.g. the gradients of resize and of scatter ops) have no deterministic
      implementation and would raise. Op determinism is process-wide and cannot be switched off.
    - JAX: nothing to switch: XLA on CPU is deterministic. On GPU determinism needs
      `XLA_FLAGS=--xla_gpu_deterministic_ops=true` in the environment before JAX starts.
    - torch: `torch.use_deterministic_algorithms(True, warn_only=True)` (a kernel without a
      deterministic version warns instead of failing).

    GPU runs are reproducible only up to floating-point reduction order.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if not deterministic:
        return
    name = backend()
    if name == "tensorflow" and not gpu_count():
        tensorflow().config.experimental.enable_op_determinism()
    elif name == "torch" and not gpu_count():
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


__all__ = ["set_seed"]
