"""Liu et al. as the paper runner sees it (registered as `liu_crunet` in the `liverseg.papers` entry points)."""
from pathlib import Path

from liverseg.runner.spec import PaperSpec

from experiments.liu_crunet import data, figures, paper, predict, stages
from experiments.liu_crunet.config import PROFILES, VARIANTS, LiuConfig, get_config, variant_stage

PAPER = PaperSpec(
    name="liu_crunet",
    title=paper.TITLE,
    config_class=LiuConfig,
    get_config=get_config,
    profiles=PROFILES,
    # III-A: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    datasets=("phantom", "lits", "msd", "ircadb"),
    stages=stages.stages,
    split=data.choose_split,
    predictor=predict.predictor,
    variants=VARIANTS,  # "crunet_d" first: the default variant
    variant_stages=lambda cfg, variant: (variant_stage(variant),),
    claimed=paper.CLAIMED,
    structures=("liver",),  # II: the liver only
    paper_rows=paper.PAPER_ROWS,
    our_rows=paper.our_rows,
    notes=paper.notes,
    extra_evaluation=figures.extra_evaluation,
    overlay_column="liver_dice",
    expected_path=Path(__file__).with_name("expected_scores.json"),
    expected_keys=("liver_dice_per_case", "liver_dice_global"),
)
