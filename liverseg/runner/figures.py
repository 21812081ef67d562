"""The figure every paper with several rows draws: one test slice, the source, the truth and every
variant's prediction side by side (Li Fig. 8, Bi Fig. 3), on the median case of the default variant."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np


def median_case(run_dir: Path, variant: str, cases: list[str], column: str = "liver_dice") -> str:
    """The test case with the median `column` of `variant` (a typical case, not the best)."""
    from liverseg.runner.predictions import per_case_table

    table = per_case_table(run_dir, variant).sort_values([column, "case"], kind="stable")
    return str(table.case.iloc[len(table) // 2]) if len(table) else cases[0]


def variants_side_by_side(cache, split: dict, run_dir: Path, titles: Mapping[str, str], default: str,
                          out_png: Path, figure: str, window) -> tuple[dict, Path]:
    """`figure` ("Fig. 8") on the median test case of `default`, at the slice with the most tumour (else
    liver) in truth and `default`'s prediction; `titles`: variant -> panel title, in panel order.
    Returns ({"case", "slice"}, the PNG)."""
    from liverseg.io.volumes import read_volume
    from liverseg.report.panels import plot_side_by_side
    from liverseg.report.plots import pick_slice
    from liverseg.runner.data import read_source_case
    from liverseg.runner.predictions import prediction_path

    case_id = median_case(run_dir, default, list(split["test"]))
    case = read_source_case(cache, case_id)
    preds = {v: read_volume(prediction_path(run_dir, v, case_id), kind="label").array for v in titles}
    truth = np.asarray(case.label.array)
    z = pick_slice(truth, preds[default])
    image = plot_side_by_side(case.image.array[..., z], truth[..., z], {titles[v]: p[..., z] for v, p in preds.items()},
                              out_png, title=f"{figure}: test patient {case_id}, slice {z}", window=window)
    return {"case": case_id, "slice": int(z)}, image


__all__ = ["median_case", "variants_side_by_side"]
