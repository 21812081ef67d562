"""The folder of one training stage: its files, the skip and resume decisions, the done marker.

    run_dir/<stage>/
        best.keras  last.keras  history.csv  done.json  model_summary.txt  backup/  tensorboard/

`done.json` is written when the stage has finished: epochs, final metrics, the best monitored
value and `weights_sha256` (`liverseg.train.distribution.weights_sha256` of the final model).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from liverseg.config import TrainConfig
from liverseg.errors import OptionError
from liverseg.io.atomic import atomic_write_json, read_json
from liverseg.io.run_layout import StagePaths
from liverseg.train.callbacks import read_backup_state
from liverseg.train.history import clean_history, read_history


@dataclass
class StageResult:
    """What `fit()` leaves for the next stage: checkpoints, per-epoch history and how it ran.

    `resumed_from` is the 1-based number of the first epoch run after a resume (None when the
    stage started fresh or was skipped); `weights_sha256` the digest of the final weights (from
    done.json when skipped; None for a stage finished before digests were recorded)."""

    stage: str
    best_path: Path
    last_path: Path
    history: pd.DataFrame
    resumed_from: int | None
    skipped: bool
    weights_sha256: str | None = None


def check_options(train: TrainConfig, has_validation: bool) -> None:
    """OptionErrors for a monitor that cannot work."""
    if not has_validation and train.monitor.startswith("val_"):
        raise OptionError(f"train.monitor={train.monitor!r} needs validation data")
    if train.monitor_mode not in ("min", "max"):
        raise OptionError(f"train.monitor_mode={train.monitor_mode!r}: expected min or max")


def finished_stage(paths: StagePaths) -> StageResult | None:
    """The result of a stage already done (its done.json and best.keras exist), else None."""
    if not (paths.done.exists() and paths.best.exists()):
        return None
    print(f"skipping {paths.name}: already done", flush=True)
    done = read_json(paths.done)  # a damaged marker is reported, not silently trusted
    return StageResult(paths.name, paths.best, paths.last, read_history(paths.history), None, True,
                       done.get("weights_sha256"))


def resume_state(paths: StagePaths, source: StagePaths) -> dict | None:
    """The backup state to resume from, read in `source` (the chief's stage folder; `paths`
    itself outside multi-worker runs), with `paths.history` cut to the finished epochs."""
    state = read_backup_state(source.backup)
    finished = int(state["epoch"]) if state else 0
    if state and source.dir != paths.dir and source.history.exists() and not paths.history.exists():
        shutil.copyfile(source.history, paths.history)  # a worker continues the chief's history
    clean_history(paths.history, finished)
    if state:
        print(f"resuming {paths.name} from epoch {finished + 1}", flush=True)
    return state


def best_value(state: dict | None, checkpoint) -> float | None:
    """Best monitored value: the checkpoint's, or the backup's when training was not run again."""
    value = checkpoint.best
    if state and state.get("stopped"):
        value = state.get("callbacks", {}).get("best_checkpoint", {}).get("best")
    return None if value is None else float(value)


def finish_stage(paths: StagePaths, train: TrainConfig, best: float | None, digest: str,
                 resumed_from: int | None) -> StageResult:
    """Write done.json, print the weights digest, remove the backup; the stage's result."""
    clean_history(paths.history, 1 << 30)
    history = read_history(paths.history)
    final = history.iloc[-1].to_dict() if len(history) else {}
    if "epoch" in final:
        final["epoch"] = int(final["epoch"])
    atomic_write_json(paths.done, {
        "stage": paths.name, "epochs": len(history), "final": final,
        "monitor": train.monitor, "mode": train.monitor_mode, "best": best,
        "weights_sha256": digest,
    })
    print(f"stage {paths.name}: weights sha256 {digest}", flush=True)
    shutil.rmtree(paths.backup, ignore_errors=True)
    return StageResult(paths.name, paths.best, paths.last, history, resumed_from, False, digest)


__all__ = [
    "StageResult", "StagePaths", "check_options", "finished_stage", "resume_state", "best_value",
    "finish_stage",
]
