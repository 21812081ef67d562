"""Li et al. as the paper runner sees it (registered as `li_dalunet` in the `liverseg.papers` entry points)."""
from pathlib import Path

from liverseg.runner.spec import PaperSpec

from experiments.li_dalunet import data, figures, paper, predict, stages
from experiments.li_dalunet.config import PROFILES, VARIANTS, LiConfig, get_config

PAPER = PaperSpec(
    name="li_dalunet",
    title=paper.TITLE,
    config_class=LiConfig,
    get_config=get_config,
    profiles=PROFILES,
    # III-A: 3D-IRCADb-01. LiTS (and MSD Task03_Liver, LiTS repackaged) holds those 20 patients too.
    datasets=("phantom", "ircadb", "lits", "msd"),
    stages=stages.stages,
    split=data.choose_split,
    predictor=predict.predictor,
    variants=VARIANTS,  # "dalunet" first: the default variant
    variant_stages=lambda cfg, variant: (variant,),
    claimed=paper.CLAIMED,
    paper_rows=paper.PAPER_ROWS,
    our_rows=paper.our_rows,
    notes=paper.notes,
    extra_evaluation=figures.extra_evaluation,
    overlay_column="liver_dice",
    expected_path=Path(__file__).with_name("expected_scores.json"),
    expected_keys=("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global",
                   "tumour_free_slice_specificity"),
)
