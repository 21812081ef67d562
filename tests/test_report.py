"""Run reports and plots: valid PNGs, report tables, metrics JSON, slice and case choice."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from liverseg.report import tables as report
from liverseg.report import plots as viz
from liverseg.errors import InputError, LiversegError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    assert not list(path.parent.glob(".*.tmp"))


def test_plot_history_single_and_stages(tmp_path):
    h1 = tmp_path / "coarse.csv"
    h2 = tmp_path / "fine.csv"
    pd.DataFrame({"epoch": [0, 1, 2], "loss": [1.0, 0.7, 0.5], "dice": [0.1, 0.4, 0.6],
                  "val_loss": [1.1, 0.8, 0.6], "val_dice": [0.1, 0.3, 0.5]}).to_csv(h1, index=False)
    pd.DataFrame({"epoch": [0, 1], "loss": [0.9, 0.4], "val_loss": [1.0, 0.5], "learning_rate": [1e-3, 1e-4]}).to_csv(h2, index=False)
    assert_png(viz.plot_history(h1, tmp_path / "one.png", title="coarse"))
    assert_png(viz.plot_history([h1, h2], tmp_path / "two.png"))
    assert viz.history_panels(["epoch", "dice", "loss", "val_dice", "val_loss", "lr"]) == ["loss", "dice", "lr"]


def test_plot_history_bad_input(tmp_path):
    with pytest.raises(InputError, match="not found"):
        viz.plot_history(tmp_path / "missing.csv", tmp_path / "x.png")
    bad = tmp_path / "bad.csv"
    bad.write_text("loss,dice\n1,2\n")
    with pytest.raises(InputError, match="epoch"):
        viz.plot_history(bad, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_per_case_dice_and_overlay(tmp_path):
    per_case = pd.DataFrame({"case": ["a", "b", "c"], "liver_dice": [0.9, 0.95, 0.8], "tumour_dice": [0.5, np.nan, 0.7]})
    assert_png(viz.plot_per_case_dice(per_case, tmp_path / "dice.png"))
    ct = np.linspace(-1000, 400, 64 * 48).reshape(64, 48)
    truth = np.zeros((64, 48), np.uint8)
    truth[10:40, 10:30] = 1
    truth[20:25, 15:20] = 2
    pred = np.roll(truth, 3, axis=0)
    assert_png(viz.plot_overlay(ct, truth, pred, tmp_path / "ov.png", title="t"))
    assert_png(viz.plot_overlay(ct, np.zeros_like(truth), np.zeros_like(truth), tmp_path / "empty.png"))
    with pytest.raises(LiversegError):
        viz.plot_overlay(ct, truth[:10], pred, tmp_path / "bad.png")


def test_pick_slice():
    truth = np.zeros((8, 8, 6), np.uint8)
    pred = np.zeros_like(truth)
    assert viz.pick_slice(truth, pred) == 3  # nothing at all: middle slice
    truth[:, :, 1] = 1
    pred[:4, :, 4] = 1
    assert viz.pick_slice(truth, pred) == 1  # liver only: 64 voxels on slice 1 vs 32 on slice 4
    truth[2:4, 2:4, 5] = 2  # 4 tumour voxels
    truth[2:5, 2:4, 2] = 2  # 6 tumour voxels: the most
    pred[0, 0, 5] = 2
    assert viz.pick_slice(truth, pred) == 2
    pred[0, 0:2, 5] = 2  # slice 5: 4 truth + 2 pred = 6, tie with slice 2 -> lowest index
    assert viz.pick_slice(truth, pred) == 2
    pred[0, 0:3, 5] = 2
    assert viz.pick_slice(truth, pred) == 5


def test_write_report(tmp_path):
    (tmp_path / "figs").mkdir()
    img = viz.plot_per_case_dice(pd.DataFrame({"case": ["0"], "liver_dice": [0.9]}), tmp_path / "figs" / "dice.png")
    paper = [{"method": "U-Net", "tumour dice per case": 0.622}, {"method": "Gong et al.", "tumour dice per case": 0.665}]
    ours = [{"method": "Gong et al. (cpu, phantom)", "tumour dice per case": 0.51234, "liver dice": float("nan")}]
    path = report.write_report(tmp_path / "report.md", title="Gong et al.", paper_rows=paper, our_rows=ours,
                               notes=["profile cpu", "dataset phantom"], images=[img])
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "report.md" and text.startswith("# Gong et al.")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| source"))
    assert header == "| source | method | tumour dice per case | liver dice |"
    assert "| paper | U-Net | 0.6220 | — |" in lines
    assert "| paper | Gong et al. | 0.6650 | — |" in lines
    assert "| ours | Gong et al. (cpu, phantom) | 0.5123 | — |" in lines
    assert "- profile cpu" in lines and "- dataset phantom" in lines
    assert "![dice](figs/dice.png)" in lines


def test_write_metrics_round_trip(tmp_path):
    metrics = {"dice": 0.123456789, "nan": float("nan"), "inf": np.inf, "n": np.int64(3),
               "nested": {"a": [np.float32(0.5), None, np.nan]}, "arr": np.array([1.0, 2.0])}
    path = report.write_metrics(tmp_path / "metrics.json", metrics)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back == {"dice": 0.123457, "nan": None, "inf": None, "n": 3,
                    "nested": {"a": [0.5, None, None]}, "arr": [1.0, 2.0]}


def _volume(value: float):
    """A synthetic case whose CT encodes `value`, with a tumour on slice 3."""
    ct = np.full((16, 16, 5), value * 100.0)
    truth = np.zeros((16, 16, 5), np.uint8)
    truth[4:12, 4:12, 1:4] = 1
    truth[6:9, 6:9, 3] = 2
    return ct, truth, truth.copy()


def test_case_overlays_choose_best_median_worst(tmp_path):
    scores = {"c0": 0.5, "c1": 0.9, "c2": np.nan, "c3": 0.1, "c4": 0.7, "c5": 0.3}
    per_case = pd.DataFrame({"case": list(scores), "tumour_dice": list(scores.values()), "liver_dice": 0.9})
    loaded = []

    def load_case(case_id):
        loaded.append(case_id)
        return _volume(scores[case_id])

    paths = report.case_overlays(tmp_path, per_case, load_case)
    # valid scores sorted: 0.1 (c3), 0.3 (c5), 0.5 (c0), 0.7 (c4), 0.9 (c1); lower median = 0.5
    assert loaded == ["c1", "c0", "c3"]
    assert [p.name for p in paths] == ["overlay_best.png", "overlay_median.png", "overlay_worst.png"]
    for p in paths:
        assert_png(p)


def test_case_overlays_fall_back_to_liver_dice(tmp_path):
    per_case = pd.DataFrame({"case": [1, 2, 3, 4], "tumour_dice": [np.nan] * 4, "liver_dice": [0.8, 0.95, 0.6, 0.9]})
    used, picks = report.choose_cases(per_case)
    assert used == "liver_dice"
    assert [(n, c) for n, c, _ in picks] == [("best", "2"), ("median", "1"), ("worst", "3")]
    assert math.isclose(picks[1][2], 0.8)
    assert report.case_overlays(tmp_path, per_case.iloc[:0], lambda c: None) == []
