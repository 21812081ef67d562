"""One display convention for every slice figure: the report's overlays and panels and the notebooks'
slice browser, worst slices and same-slice figures draw an asymmetric phantom slice the same way,
radiologically (anterior up, the patient's right on the image left), with R / L / A / P markers."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from liverseg.report import display  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def asymmetric_slice():
    """An (X, Y) RAS slice: a bright 'liver' towards the patient's right (large x) and front (large y),
    a 'spine' at the back (small y) left of centre: no mirroring leaves it unchanged."""
    ct = np.full((40, 30), -100.0)
    ct[28:38, 18:28] = 150.0  # right anterior
    ct[14:18, 1:5] = 180.0  # posterior, a little to the patient's left
    labels = np.zeros(ct.shape, np.uint8)
    labels[28:38, 18:28] = 1
    labels[30:33, 20:23] = 2
    return ct, labels


def _markers(ax) -> dict[str, tuple[float, float]]:
    return {t.get_text(): t.get_position() for t in ax.texts if t.get_text() in "RLAP" and t.get_text()}


def test_radiological_puts_right_anterior_top_left():
    ct, _ = asymmetric_slice()
    image = display.radiological(ct)
    assert image.shape == (30, 40)  # rows = y, columns = x
    rows, cols = np.nonzero(image == 150.0)
    assert rows.max() < 15 and cols.max() < 15  # the right-anterior liver is in the top-left corner
    rows, cols = np.nonzero(image == 180.0)
    assert rows.min() >= 25 and cols.min() >= 20  # the posterior spine is at the bottom
    fig, ax = plt.subplots()
    display.show_ct(ax, ct)
    marks = _markers(ax)
    assert marks["R"][0] < 0.5 < marks["L"][0] and marks["A"][1] > 0.5 > marks["P"][1]
    plt.close(fig)


def _report_overlay(monkeypatch, tmp_path):
    from liverseg.report import plots

    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig) or Path(path))
    ct, labels = asymmetric_slice()
    plots.plot_overlay(ct, labels, labels, tmp_path / "o.png")
    return figures[0].axes[0]


def _notebook_cell(name: str, marker: str) -> str:
    cells = json.loads((REPO / "notebooks" / name).read_text())["cells"]
    found = ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and marker in "".join(c["source"])]
    assert found, f"{name}: no cell with {marker!r}"
    return found[0]


def test_report_and_notebook_slice_browser_draw_the_same_image(monkeypatch, tmp_path):
    report_ax = _report_overlay(monkeypatch, tmp_path)
    ct, labels = asymmetric_slice()
    # the notebook's own `show` (slice browser and worst slices), executed on the phantom slice
    cell = _notebook_cell("inspect_predictions.ipynb", "def show(")
    source = cell[cell.index("def show("):cell.index("\nCASE =")]
    namespace = {"plt": plt, "np": np, "show_slice": display.show_slice}
    exec(source, namespace)
    ax = namespace["show"](ct[:, :, None], labels[:, :, None], labels[:, :, None], 0, "phantom")
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), np.asarray(report_ax.images[0].get_array()))
    assert set(_markers(ax)) == set(_markers(report_ax)) == set("RLAP")
    plt.close("all")


def test_side_by_side_panels_use_the_convention(monkeypatch, tmp_path):
    from liverseg.report import panels

    figures = []
    monkeypatch.setattr(panels, "save_figure", lambda fig, path: figures.append(fig) or Path(path))
    ct, labels = asymmetric_slice()
    panels.plot_side_by_side(ct, labels, {"method": labels}, tmp_path / "p.png")
    for ax in figures[0].axes:
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()),
                                      display.radiological(np.clip(ct, -125, 125)))
        assert set(_markers(ax)) == set("RLAP")
    np.testing.assert_array_equal(np.asarray(figures[0].axes[2].images[1].get_array()), display.radiological(labels))


@pytest.mark.parametrize("name", ["inspect_predictions.ipynb", "compare.ipynb"])
def test_notebooks_draw_slices_only_through_the_helper(name):
    cells = json.loads((REPO / "notebooks" / name).read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert 'origin="lower"' not in code and ".T," not in code and ".T)" not in code
    if name == "inspect_predictions.ipynb":
        worst = _notebook_cell(name, "worst = ")
        assert "show(ct_w, truth_w, pred_w" in worst  # the worst slices go through `show`
    else:
        assert "show_slice(ax, ct[:, :, Z]" in _notebook_cell(name, "same_slice")


def test_locate_finds_a_relative_run_from_notebooks(tmp_path):
    from liverseg.runner.locate import locate

    run = tmp_path / "runs" / "gong" / "r1"
    run.mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    assert locate("runs/gong/r1", start=tmp_path / "notebooks").resolve() == run.resolve()
    assert locate("runs/gong/r1", start=tmp_path) == tmp_path / "runs/gong/r1"
    assert locate(str(run), start=tmp_path / "notebooks") == run
    assert locate("runs/none", start=tmp_path / "notebooks") == tmp_path / "notebooks" / "runs/none"
