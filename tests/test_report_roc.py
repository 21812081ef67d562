"""Gruber's figures: restricted ROC curves and the probability histogram are written as PNG;
bad input is refused before anything is written."""
from __future__ import annotations

import numpy as np
import pytest

from liverseg.errors import OptionError
from liverseg.evaluation import restricted_auc, restricted_roc
from liverseg.report.roc import plot_probability_histogram, plot_restricted_roc

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000


def probability_maps():
    rng = np.random.default_rng(0)
    truth = rng.random((64, 64)) < 0.2
    maps = {f"alpha {a}": np.clip(rng.normal(0.3 + a * truth, 0.25), 0, 1) for a in (0.2, 0.5)}
    return truth, maps


def test_restricted_roc_plot_is_a_png(tmp_path):
    truth, maps = probability_maps()
    curves = {name: (*restricted_roc(p, truth)[:2], restricted_auc(p, truth)) for name, p in maps.items()}
    out = plot_restricted_roc(curves, tmp_path / "roc.png", title="restricted ROC")
    assert out == tmp_path / "roc.png"
    assert_png(out)
    assert [p.name for p in tmp_path.iterdir()] == ["roc.png"]  # no temporary file left


def test_probability_histogram_is_a_png(tmp_path):
    _, maps = probability_maps()
    maps["empty"] = np.zeros(10)  # nothing in (0.01, 0.99): an empty histogram, still plotted
    assert_png(plot_probability_histogram(maps, tmp_path / "hist.png"))
    assert_png(plot_probability_histogram(maps, tmp_path / "log.png", low=0.05, high=0.95, bins=20, log=True))


@pytest.mark.parametrize(
    "curves, message",
    [
        ({}, "no curves"),
        ({"a": ([0, 1], [0, 1])}, "'a' is not a"),
        ({"a": ([0, 0.5, 1], [0, 1], 0.7)}, "'a' has 3 fpr and 2 tpr"),
        ({"a": ([], [], 0.5)}, "'a' has 0 fpr"),
    ],
)
def test_restricted_roc_plot_bad_input(tmp_path, curves, message):
    with pytest.raises(OptionError, match=message):
        plot_restricted_roc(curves, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_probability_histogram_bad_input(tmp_path):
    with pytest.raises(OptionError, match="no probability maps"):
        plot_probability_histogram({}, tmp_path / "x.png")
    with pytest.raises(OptionError, match="low < high"):
        plot_probability_histogram({"a": np.ones(3) / 2}, tmp_path / "x.png", low=0.9, high=0.1)
    with pytest.raises(OptionError, match="bins >= 1"):
        plot_probability_histogram({"a": np.ones(3) / 2}, tmp_path / "x.png", bins=0)
    assert not (tmp_path / "x.png").exists()
