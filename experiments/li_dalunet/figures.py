"""Li's extra evaluation: Fig. 8 (one test slice, the source and the four networks' predictions side
by side) and the slice-level tumour score of every variant (`slice_scores`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.li_dalunet.config import TABLE_ORDER, VARIANT_TITLES, LiConfig

FIGURE = "fig8_side_by_side.png"


def _pick_case(run_dir: Path, cases: list[str]) -> str:
    """The test patient with the median liver Dice of the default DALU-Net (a typical case, not the best)."""
    from liverseg.runner.predictions import per_case_table

    table = per_case_table(run_dir, "dalunet").sort_values(["liver_dice", "case"], kind="stable")
    return str(table.case.iloc[len(table) // 2]) if len(table) else cases[0]


def extra_evaluation(cache, cfg: LiConfig, split: dict, run_dir: Path) -> tuple[dict, list[Path]]:
    """Fig. 8 on the median test patient's slice with the most tumour (else liver) in truth and prediction."""
    from liverseg.io.volumes import read_volume
    from liverseg.report.panels import plot_side_by_side
    from liverseg.report.plots import pick_slice
    from liverseg.runner.data import read_source_case
    from liverseg.runner.predictions import prediction_path

    case_id = _pick_case(run_dir, list(split["test"]))
    case = read_source_case(cache, case_id)
    preds = {v: read_volume(prediction_path(run_dir, v, case_id), kind="label").array for v in TABLE_ORDER}
    truth = np.asarray(case.label.array)
    z = pick_slice(truth, preds["dalunet"])
    image = plot_side_by_side(case.image.array[..., z], truth[..., z],
                              {VARIANT_TITLES[v]: p[..., z] for v, p in preds.items()}, run_dir / FIGURE,
                              title=f"Fig. 8: test patient {case_id}, slice {z}", window=cfg.preprocess.window)
    from experiments.li_dalunet.slice_scores import variant_scores

    rows = variant_scores(cache, split, run_dir)
    summary = {"fig8": {"case": case_id, "slice": int(z)}, "rows": rows, "scores": rows["dalunet"]}
    return summary, [image]
