"""Bi et al. as the paper runner sees it (registered as `bi_cascaded_resnet` in the `liverseg.papers`
entry points)."""
from pathlib import Path

from liverseg.runner.spec import PaperSpec

from experiments.bi_cascaded_resnet import data, figures, paper, predict, stages
from experiments.bi_cascaded_resnet.config import PROFILES, VARIANTS, BiConfig, get_config

PAPER = PaperSpec(
    name="bi_cascaded_resnet",
    title=paper.TITLE,
    config_class=BiConfig,
    get_config=get_config,
    profiles=PROFILES,
    # 2.1: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    datasets=("phantom", "lits", "msd", "ircadb"),
    stages=stages.stages,
    split=data.choose_split,
    predictor=predict.predictor,
    variants=VARIANTS,  # "cascade_ms" first: the default variant
    variant_stages=lambda cfg, variant: (predict.STAGE_OF[variant],),
    claimed=paper.CLAIMED,
    paper_rows=paper.PAPER_ROWS,
    our_rows=paper.our_rows,
    notes=paper.notes,
    extra_evaluation=figures.extra_evaluation,
    expected_path=Path(__file__).with_name("expected_scores.json"),
    # the lesion's guard on the smoke profile is its slice specificity: a few dozen steps at 48 px learn
    # no phantom lesion (lesion Dice 0 in every seed, a band that would reach zero); see README
    expected_keys=("liver_dice_per_case", "liver_dice_global", "tumour_free_slice_specificity"),
)
