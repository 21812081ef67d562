"""Execute a notebook of `notebooks/` against a run or a comparison, as a user's Jupyter would."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def execute_notebook(name: str, **env: str) -> list[dict]:
    """Run every cell of notebooks/<name> with `env` set for the kernel; the outputs of all code cells.
    A cell that raises fails the call (nbclient's CellExecutionError names the cell)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def figures_drawn(outputs: list[dict]) -> int:
    """PNG images among the outputs (matplotlib figures and displayed files)."""
    return sum("image/png" in o.get("data", {}) for o in outputs if o.get("output_type") in ("display_data", "execute_result"))


def text_of(outputs: list[dict]) -> str:
    parts = [o.get("text", "") for o in outputs if o.get("output_type") == "stream"]
    parts += [o.get("data", {}).get("text/plain", "") for o in outputs if o.get("output_type") in ("display_data", "execute_result")]
    return "\n".join(parts)


def check_inspection_notebook(run_dir: Path) -> None:
    """inspect_predictions.ipynb on a finished run: it names the run's paper, stages and variants and
    draws a training curve per stage plus the slice browser, the variants' slice and the worst slices."""
    import json

    outputs = execute_notebook("inspect_predictions.ipynb", LIVERSEG_RUN=str(run_dir), TF_CPP_MIN_LOG_LEVEL="3")
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = text_of(outputs)
    paper = json.loads((Path(run_dir) / "config.json").read_text())["paper"]
    stages = sorted(p.parent.name for p in Path(run_dir).glob("*/history.csv"))
    variants = sorted(p.parent.name for p in Path(run_dir).glob("evaluation/*/per_case.csv"))
    assert f"paper: {paper} " in text
    assert all(repr(s) in text for s in stages) and all(repr(v) in text for v in variants)
    assert figures_drawn(outputs) >= len(stages) + 3
