"""Every Keras object the library defines that a saved model can hold (layers, losses, metrics, the
optimizer and its schedule), registered under the `liverseg` package by importing their modules.

`import liverseg` imports this module as soon as Keras is imported (before or after liverseg), so a
run's `best.keras` / `last.keras` load with `keras.saving.load_model(path)` and nothing else: no
paper package, no `custom_objects`. The papers define no Keras objects of their own; a paper that
needs a new layer or loss adds it under `liverseg/nn/` and lists its module here.
"""
from __future__ import annotations

import liverseg.nn.deep_supervision  # noqa: F401  DeepSupervisionLoss
import liverseg.nn.frozen  # noqa: F401  Frozen
import liverseg.nn.losses  # noqa: F401  DiceLoss, TverskyLoss, MDiceLoss, BalancedCrossentropy, JointLoss, DiceBCELoss
import liverseg.nn.masking  # noqa: F401  ProbabilityMask, IntensityWindow
import liverseg.nn.metrics  # noqa: F401  DiceCoefficient, IoUScore
import liverseg.nn.morphology  # noqa: F401  BinaryMorphology
import liverseg.nn.upsample  # noqa: F401  BilinearUpsampling
import liverseg.nn.valid_unet  # noqa: F401  MirrorPad2D
import liverseg.train.optimizers  # noqa: F401  SGDWithL2
import liverseg.train.schedules  # noqa: F401  ConstantThenLinear

MODULES = ("liverseg.nn.deep_supervision", "liverseg.nn.frozen", "liverseg.nn.losses", "liverseg.nn.masking",
           "liverseg.nn.metrics", "liverseg.nn.morphology", "liverseg.nn.upsample", "liverseg.nn.valid_unet",
           "liverseg.train.optimizers", "liverseg.train.schedules")

__all__ = ["MODULES"]
