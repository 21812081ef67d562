"""Gruber et al. as the paper runner sees it (registered as `gruber` in the `liverseg.papers` entry points)."""
from pathlib import Path

from liverseg.runner.spec import PaperSpec

from experiments.gruber import data, paper, predict, slices, stages
from experiments.gruber.config import PROFILES, GruberConfig, get_config

PAPER = PaperSpec(
    name="gruber",
    title=paper.TITLE,
    config_class=GruberConfig,
    get_config=get_config,
    profiles=PROFILES,
    # 3.1: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    datasets=("phantom", "lits", "msd", "ircadb"),
    stages=stages.stages,
    split=data.choose_split,
    predictor=predict.predictor,
    variants=predict.VARIANTS,  # "sequential" first: the default variant
    variant_stages=lambda cfg, variant: (predict.variant_stage(cfg, variant),),
    claimed=paper.CLAIMED,
    paper_rows=paper.PAPER_ROWS,
    our_rows=paper.our_rows,
    notes=paper.notes,
    calibrate=slices.calibrate,
    extra_evaluation=slices.extra_evaluation,
    expected_path=Path(__file__).with_name("expected_scores.json"),
    expected_keys=("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global",
                   "slice_liver_iou", "slice_tumour_iou", "train_slice_tumour_iou"),
)
