"""`--set` overrides that shorten Gong's smoke profile for the tests that need its code path in a
subprocess (resume after SIGKILL, the JAX backend, two workers) and not its scores."""
from __future__ import annotations

GONG_STAGES = ("coarse", "fine", "fine_whole")


def gong_short(epochs: int, steps_per_epoch: int = 4, **stage_epochs: int) -> list[str]:
    """`epochs` per stage (or `coarse=...` etc.), `steps_per_epoch` training batches in each."""
    return [f"--set={s}_train.{key}={value}" for s in GONG_STAGES
            for key, value in (("epochs", stage_epochs.get(s, epochs)), ("steps_per_epoch", steps_per_epoch))]
