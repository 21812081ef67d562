"""`train.precision`: the Keras dtype policy a stage trains under, on any backend.

Keras 3 `Model.compile` wraps the optimizer in a `LossScaleOptimizer` by itself when the model's
dtype policy is `mixed_float16` (keras/src/trainers/trainer.py, `auto_scale_loss=True`), on every
backend; bfloat16 needs no loss scaling. The final activation layer of a model is built with
`dtype="float32"` by the model builder so that losses and metrics see float32 values.
"""
from __future__ import annotations

from liverseg.errors import OptionError
from liverseg.train.devices import gpu_count

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def resolve_precision(name: str = "auto") -> str:
    """Dtype policy name for `train.precision`: "auto" is "mixed_float16" when the backend sees a
    GPU, else "float32"; "float32", "mixed_float16", "mixed_bfloat16" are passed through."""
    if name == "auto":
        return "mixed_float16" if gpu_count() else "float32"
    if name not in PRECISIONS:
        raise OptionError(f"train.precision: unknown precision {name!r} "
                          f"(expected auto, {', '.join(PRECISIONS)})")
    return name


__all__ = ["PRECISIONS", "resolve_precision"]
