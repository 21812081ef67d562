"""The run directory's layout has one owner (`liverseg.io.run_layout`): its paths, its refusals, and no
file name of a run spelled anywhere else in the library, the paper packages or the benchmarks."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from liverseg.errors import OptionError
from liverseg.io.run_layout import CompareDir, FoldsDir, RunDir, StagePaths

REPO = Path(__file__).resolve().parents[1]
OWNER = REPO / "liverseg" / "io" / "run_layout.py"
# every file name of a run, and the folders below it, as code would spell them
RUN_NAMES = re.compile(r'"(best|last)\.keras"|"(done|split|config|versions|metrics|summary|records|timings|compared|folds)'
                       r'\.json"|"(report\.md|run\.log|per_case\.csv|history\.csv|folds\.csv|folds_summary\.csv|'
                       r'model_summary\.txt)"|/ "(predictions|evaluation|cache|runs|caches|export|tensorboard|backup)"')


def test_a_run_directory_names_every_file_in_one_place(tmp_path):
    run = RunDir(tmp_path)
    assert run.config == tmp_path / "config.json" and run.done == tmp_path / "done.json"
    assert run.checkpoint("coarse") == tmp_path / "coarse" / "best.keras"
    assert run.checkpoint("coarse", "last") == tmp_path / "coarse" / "last.keras"
    assert run.stage("fine") == StagePaths("fine", tmp_path / "fine")
    assert run.prediction("crop", "7") == tmp_path / "predictions" / "crop" / "segmentation-7.nii.gz"
    assert run.per_case("crop") == tmp_path / "evaluation" / "crop" / "per_case.csv"
    assert run.summary("slices") == tmp_path / "evaluation" / "slices" / "summary.json"
    assert run.figure("fig8_side_by_side") == tmp_path / "fig8_side_by_side.png"
    assert run.calibration("thresholds") == tmp_path / "thresholds.json"
    assert CompareDir(tmp_path).run("gong") == tmp_path / "runs" / "gong"
    assert FoldsDir(tmp_path).fold(3) == tmp_path / "fold-3"
    assert not run.is_done()
    run.done.write_text("{}")
    assert run.is_done()


@pytest.mark.parametrize("name", ["", "..", "a/b", "."])
def test_a_name_that_would_leave_the_run_directory_is_refused(tmp_path, name):
    for make in (lambda: RunDir(tmp_path).stage(name), lambda: RunDir(tmp_path).predictions(name),
                 lambda: RunDir(tmp_path).evaluation(name), lambda: CompareDir(tmp_path).run(name)):
        with pytest.raises(OptionError, match="plain folder name"):
            make()


def _spelled(text: str) -> list[str]:
    return [m.group(0) for m in RUN_NAMES.finditer(text)]


def test_the_pattern_finds_a_spelled_run_file_name():
    # the check is real: the ways the code used to spell a run's files are found
    assert _spelled('load_model(run_dir / stage / "best.keras")') == ['"best.keras"']
    assert _spelled('run_dir / "evaluation" / variant') == ['/ "evaluation"']
    assert _spelled('progress.begin("evaluation")') == []


def test_no_file_name_of_a_run_is_spelled_outside_its_layout():
    offenders = []
    for top in ("liverseg", "experiments", "data_prep", "benchmarks"):
        for path in sorted((REPO / top).rglob("*.py")):
            if path == OWNER:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.lstrip().startswith("#") and _spelled(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
