"""Bi's extra evaluation: Fig. 3 (one test slice: the source, the truth and every row's prediction) and
the slice-level lesion score of every row (`liverseg.evaluation.slice_scores`)."""
from __future__ import annotations

from pathlib import Path

from liverseg.io.run_layout import RunDir

from experiments.bi_cascaded_resnet.config import VARIANT_TITLES, VARIANTS

FIGURE = "fig3_side_by_side"
PANEL_ORDER = ("vgg_fcn", "resnet", "cascade", "cascade_ms")


def extra_evaluation(ctx) -> tuple[dict, list[Path]]:
    """Fig. 3 on the median test patient of the default variant, at its slice with the most lesion."""
    from liverseg.runner.predictions import slice_scores
    from liverseg.runner.reporting import variants_side_by_side

    cache, cfg, split, run_dir = ctx.cache, ctx.cfg, ctx.split, ctx.run_dir
    fig3, image = variants_side_by_side(cache, split, run_dir, {v: VARIANT_TITLES[v] for v in PANEL_ORDER},
                                        VARIANTS[0], RunDir(run_dir).figure(FIGURE), "Fig. 3", cfg.preprocess.window)
    rows = slice_scores(cache, split, run_dir, PANEL_ORDER)
    return {"fig3": fig3, "rows": rows, "scores": rows[VARIANTS[0]]}, [image]
