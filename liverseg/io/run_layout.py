"""Where every file of a run lives: `RunDir` and `StagePaths` are the only places that spell a run's
file names (the runner, training, inference, evaluation, reports, `liverseg compare`, `predict` and
`export`, and the paper packages all ask them)::

    RUN/
        config.json  versions.json  split.json  run.log  timings.json
        cache/                           the slice cache (a link to a shared one in a fold of a comparison)
        <stage>/                         StagePaths: best.keras  last.keras  history.csv  done.json
                                                     model_summary.txt  backup/  tensorboard/
        predictions/<variant>/           segmentation-N.nii.gz  records.json  done.json
        evaluation/<variant>/            per_case.csv  summary.json    (evaluation/<name>/: a paper's own)
        <name>.json                      a method's calibration (e.g. thresholds.json)
        report.md  metrics.json  training_curves.png  <figure>.png
        export/<variant>/                the exported networks and export.json
        done.json                        written last: the run is finished
        compared.json                    written last by `liverseg compare` in a compared run
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from liverseg.errors import OptionError

PER_CASE, SUMMARY = "per_case.csv", "summary.json"


def _plain(kind: str, name: str) -> str:
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise OptionError(f"{kind} {name!r}: must be a plain folder name")
    return name


@dataclass(frozen=True)
class StagePaths:
    """The files of `RUN/<stage>/`, written by `liverseg.train.fit.fit`."""

    name: str
    dir: Path

    @classmethod
    def of(cls, run_dir, stage: str) -> "StagePaths":
        return cls(stage, Path(run_dir) / _plain("stage", stage))

    best = property(lambda self: self.dir / "best.keras")
    last = property(lambda self: self.dir / "last.keras")
    history = property(lambda self: self.dir / "history.csv")
    done = property(lambda self: self.dir / "done.json")
    backup = property(lambda self: self.dir / "backup")
    summary = property(lambda self: self.dir / "model_summary.txt")
    tensorboard = property(lambda self: self.dir / "tensorboard")


@dataclass(frozen=True)
class RunDir:
    """The layout of one run directory (see the module doc). `RunDir(path)`; every attribute is a path."""

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    config = property(lambda self: self.path / "config.json")
    versions = property(lambda self: self.path / "versions.json")
    split = property(lambda self: self.path / "split.json")
    log = property(lambda self: self.path / "run.log")
    timings = property(lambda self: self.path / "timings.json")
    cache = property(lambda self: self.path / "cache")
    report = property(lambda self: self.path / "report.md")
    metrics = property(lambda self: self.path / "metrics.json")
    curves = property(lambda self: self.path / "training_curves.png")
    done = property(lambda self: self.path / "done.json")
    compared = property(lambda self: self.path / "compared.json")

    def calibration(self, name: str) -> Path:
        """What a method's `calibrate` step keeps for its predictor (`<name>.json`, e.g. Gruber's thresholds)."""
        return self.path / f"{_plain('calibration', name)}.json"

    def figure(self, name: str) -> Path:
        """A figure of the report (`<name>.png` beside report.md)."""
        return self.path / f"{_plain('figure', name)}.png"

    def stage(self, name: str) -> StagePaths:
        return StagePaths.of(self.path, name)

    def checkpoint(self, stage: str, which: str = "best") -> Path:
        """`best` or `last` checkpoint of a stage."""
        paths = self.stage(stage)
        return paths.best if which == "best" else paths.last

    def predictions(self, variant: str) -> Path:
        return self.path / "predictions" / _plain("variant", variant)

    def prediction(self, variant: str, number: str) -> Path:
        """The label volume of the case with LiTS number `number`."""
        return self.predictions(variant) / f"segmentation-{number}.nii.gz"

    def records(self, variant: str) -> Path:
        return self.predictions(variant) / "records.json"

    def predicted(self, variant: str) -> Path:
        """Written last by the inference of a variant: every test case is predicted."""
        return self.predictions(variant) / "done.json"

    def evaluation(self, name: str) -> Path:
        """`evaluation/<variant>/` (or a paper's own evaluation, e.g. `slices`)."""
        return self.path / "evaluation" / _plain("evaluation", name)

    def per_case(self, variant: str) -> Path:
        return self.evaluation(variant) / PER_CASE

    def summary(self, variant: str) -> Path:
        return self.evaluation(variant) / SUMMARY

    def export(self, variant: str) -> Path:
        return self.path / "export" / _plain("variant", variant)

    def is_done(self) -> bool:
        return self.done.is_file()

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class FoldsDir:
    """The layout of a cross-validation (`liverseg reproduce --folds K`, `liverseg compare --folds K`)::

        DIR/folds.json  cache/ (or caches/<paper>/cache/ in a comparison)  fold-<k>/  folds.csv  folds_summary.csv
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    folds = property(lambda self: self.path / "folds.json")
    table = property(lambda self: self.path / "folds.csv")
    summary = property(lambda self: self.path / "folds_summary.csv")

    def fold(self, k: int) -> Path:
        return self.path / f"fold-{int(k)}"


@dataclass(frozen=True)
class CompareDir:
    """The layout of `liverseg compare --out DIR` (one fold's folder with folds has the same `runs/`)::

        DIR/split.json  runs/<paper>/ (RunDirs)  report.md  metrics.json  per_case.csv  <figure>.png
        DIR/folds.json  caches/<paper>/  fold-<k>/runs/<paper>/      with --folds K
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    split = property(lambda self: self.path / "split.json")
    report = property(lambda self: self.path / "report.md")
    metrics = property(lambda self: self.path / "metrics.json")
    per_case = property(lambda self: self.path / PER_CASE)

    def run(self, paper: str) -> Path:
        return self.path / "runs" / _plain("paper", paper)

    def shared_cache(self, paper: str) -> Path:
        """The folder whose `cache/` a paper's fold runs share."""
        return self.path / "caches" / _plain("paper", paper)

    def figure(self, name: str) -> Path:
        return self.path / f"{_plain('figure', name)}.png"

    def folds(self) -> FoldsDir:
        return FoldsDir(self.path)


def run_dir_of(path) -> RunDir:
    """`path` as a `RunDir` (a RunDir is returned as it is)."""
    return path if isinstance(path, RunDir) else RunDir(Path(path))


__all__ = ["RunDir", "StagePaths", "FoldsDir", "CompareDir", "run_dir_of", "PER_CASE", "SUMMARY"]
