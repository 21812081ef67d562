"""Li's extra evaluation: Fig. 8 (one test slice, the source and the four networks' predictions side
by side) and the slice-level tumour score of every variant (`liverseg.runner.slice_scores`)."""
from __future__ import annotations

from pathlib import Path

from experiments.li_dalunet.config import TABLE_ORDER, VARIANT_TITLES

FIGURE = "fig8_side_by_side.png"


def extra_evaluation(ctx) -> tuple[dict, list[Path]]:
    """Fig. 8 on the median test patient's slice with the most tumour (else liver) in truth and prediction."""
    cache, cfg, split, run_dir = ctx.cache, ctx.cfg, ctx.split, ctx.run_dir
    from liverseg.runner.figures import variants_side_by_side

    fig8, image = variants_side_by_side(cache, split, run_dir, {v: VARIANT_TITLES[v] for v in TABLE_ORDER},
                                        "dalunet", run_dir / FIGURE, "Fig. 8", cfg.preprocess.window)
    from liverseg.runner.slice_scores import variant_scores

    rows = variant_scores(cache, split, run_dir, TABLE_ORDER)
    summary = {"fig8": fig8, "rows": rows, "scores": rows["dalunet"]}
    return summary, [image]
