"""Li's extra evaluation: Fig. 8 (one test slice, the source and the four networks' predictions side
by side) and the slice-level tumour score of every variant (`liverseg.evaluation.slice_scores`)."""
from __future__ import annotations

from pathlib import Path

from liverseg.io.run_layout import RunDir

from experiments.li_dalunet.config import TABLE_ORDER, VARIANT_TITLES

FIGURE = "fig8_side_by_side"


def extra_evaluation(ctx) -> tuple[dict, list[Path]]:
    """Fig. 8 on the median test patient's slice with the most tumour (else liver) in truth and prediction."""
    from liverseg.runner.predictions import slice_scores
    from liverseg.runner.reporting import variants_side_by_side

    cache, cfg, split, run_dir = ctx.cache, ctx.cfg, ctx.split, ctx.run_dir
    fig8, image = variants_side_by_side(cache, split, run_dir, {v: VARIANT_TITLES[v] for v in TABLE_ORDER},
                                        "dalunet", RunDir(run_dir).figure(FIGURE), "Fig. 8", cfg.preprocess.window)
    rows = slice_scores(cache, split, run_dir, TABLE_ORDER)
    return {"fig8": fig8, "rows": rows, "scores": rows["dalunet"]}, [image]
