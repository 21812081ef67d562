"""A run that records itself: run.log beside the console, resume command, wall times, the report's
run record and volume-score table, training curves from epoch 1 with the best checkpoint marked."""
from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from liverseg.runner import run_log
from liverseg.runner.run_log import RunLog, StageTimes, plural, read_timings, resume_command


def test_console_lines_go_to_run_log_as_well(tmp_path, capsys):
    with RunLog(tmp_path):
        print("stage one: 1 epoch")
        sys.stdout.write("progress 10%\rprogress 100%\n")
        print("a warning", file=sys.stderr)
        sys.stdout.write("no newline at the end")
    out = capsys.readouterr()
    assert "stage one: 1 epoch" in out.out and "a warning" in out.err
    log = (tmp_path / "run.log").read_text().splitlines()
    assert log[0].split(" ", 2)[2].startswith("== session")
    body = [line.split(" ", 2)[2] for line in log[1:]]
    assert body == ["stage one: 1 epoch", "progress 100%", "a warning", "no newline at the end"]
    with RunLog(tmp_path):  # a resumed session appends
        print("second session")
    assert (tmp_path / "run.log").read_text().count("== session") == 2
    assert sys.stdout is not None and not isinstance(sys.stdout, run_log._LineWriter)


def test_plural():
    assert plural(1, "epoch") == "1 epoch" and plural(2, "epoch") == "2 epochs" and plural(0, "epoch") == "0 epochs"


def test_resume_command_adds_the_run_dir_once(monkeypatch, tmp_path):
    monkeypatch.setattr(run_log, "command_line", lambda argv=None: " ".join(argv))
    assert resume_command(tmp_path, ["liverseg", "reproduce", "gong"]) == f"liverseg reproduce gong --run-dir {tmp_path}"
    given = ["liverseg", "reproduce", "gong", "--run-dir", "R"]
    assert resume_command(tmp_path, given) == "liverseg reproduce gong --run-dir R"


def test_command_line_as_typed():
    assert run_log.command_line(["/usr/bin/liverseg", "reproduce", "gong", "--set", "a b"]) == \
        "liverseg reproduce gong --set 'a b'"


def test_stage_times_add_up_over_sessions(tmp_path):
    first = StageTimes(tmp_path)
    first.add("prepare", 2.0)
    first.add("train", 10.0)
    second = StageTimes(tmp_path)  # a resume
    second.add("train", 5.0)
    times = read_timings(tmp_path)
    assert times["stages"] == {"prepare": 2.0, "train": 15.0} and times["sessions"] == 2
    assert times["total_s"] >= 0


def test_report_run_record_and_volume_scores(tmp_path):
    from types import SimpleNamespace

    from liverseg.runner.reporting import run_record, volume_scores_table

    (tmp_path / "coarse").mkdir()
    pd.DataFrame({"epoch": [0, 1, 2], "loss": [3.0, 2.0, 1.0]}).to_csv(tmp_path / "coarse" / "history.csv", index=False)
    (tmp_path / "versions.json").write_text(json.dumps({"python": "3.11", "keras": "3.15.0", "tensorflow": "2.21.0",
                                                        "keras_backend": "tensorflow", "git": {"commit": "abc", "dirty": True}}))
    times = StageTimes(tmp_path)
    times.add("prepare", 61.0)
    times.add("coarse", 125.0)
    text = run_record(tmp_path, ["coarse"])
    assert "- Command: `" in text and "- Hardware: " in text and "keras 3.15.0" in text and "tensorflow 2.21.0" in text
    assert "(uncommitted changes)" in text
    assert "| coarse | 3 | 2:05 |" in text and "| prepare | — | 1:01 |" in text and "| all stages | 3 | 3:06 |" in text
    spec = SimpleNamespace(variants=("crop", "whole"), structures=("liver", "tumour"))
    summary = {v: {f"{s}_{k}": 0.5 for s in ("liver", "tumour")
                   for k in ("dice_per_case", "dice_global", "voe", "rvd", "assd", "msd")} for v in spec.variants}
    summary["whole"]["tumour_msd"] = float("inf")
    table = volume_scores_table(spec, summary).splitlines()
    assert table[0] == "| variant | structure | Dice per case | global Dice | VOE | RVD | ASSD (mm) | MSD (mm) |"
    assert len(table) == 2 + 4 and table[-1].startswith("| whole | tumour |") and table[-1].endswith("| — |")


def test_training_curves_start_at_epoch_1_and_mark_the_best_checkpoint(tmp_path, monkeypatch):
    from liverseg.report import plots

    stage = tmp_path / "coarse"
    stage.mkdir()
    history = pd.DataFrame({"epoch": [0, 1, 2], "loss": [3.0, 2.0, 2.5], "val_dice": [0.1, 0.2, 0.7]})
    history.to_csv(stage / "history.csv", index=False)
    (stage / "done.json").write_text(json.dumps({"monitor": "val_dice", "mode": "max"}))
    assert plots.best_epoch(history, stage / "history.csv") == (2, "val_dice")
    (stage / "done.json").write_text(json.dumps({"monitor": "loss", "mode": "min"}))
    assert plots.best_epoch(history, stage / "history.csv") == (1, "loss")
    seen = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, out: seen.append(fig) or out)
    plots.plot_history([stage / "history.csv"], tmp_path / "curves.png")
    axes = [ax for ax in seen[0].axes if ax.get_visible() and ax.lines]
    assert axes and all(ax.get_xlabel() == "epoch" and ax.get_ylabel() for ax in axes)
    xs = axes[0].lines[0].get_xdata()
    assert list(xs) == [1, 2, 3]
    marks = [line for line in axes[0].lines if "best checkpoint (epoch 2" in str(line.get_label())]
    assert marks and list(marks[0].get_xdata()) == [2, 2]


def test_probability_histograms_use_a_log_count_axis(tmp_path, monkeypatch):
    import numpy as np

    from liverseg.report import roc

    seen = []
    monkeypatch.setattr(roc, "save_figure", lambda fig, out: seen.append(fig) or out)
    roc.plot_probability_histogram({"a": np.linspace(0, 1, 101)}, tmp_path / "h.png")
    assert seen[0].axes[0].get_yscale() == "log"
