"""Gong et al. as the paper runner sees it (registered as `gong` in the `liverseg.papers` entry points)."""
from pathlib import Path

from liverseg.runner.spec import PaperSpec

from experiments.gong import cascade, data, paper, stages
from experiments.gong.config import PROFILES, GongConfig, get_config

PAPER = PaperSpec(
    name="gong",
    title=paper.TITLE,
    config_class=GongConfig,
    get_config=get_config,
    profiles=PROFILES,
    # 3: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    datasets=("phantom", "lits", "msd", "ircadb"),
    stages=stages.stages,
    split=data.choose_split,
    predictor=cascade.predictor,
    variants=tuple(cascade.VARIANTS),  # "crop" (the method) first: the default variant
    variant_stages=lambda cfg, variant: ("coarse", cascade.VARIANTS[variant]),
    claimed=paper.CLAIMED,
    paper_rows=[*paper.PAPER_RESULTS, paper.PAPER_ABLATION_ROW],
    our_rows=paper.our_rows,
    notes=paper.notes,
    expected_path=Path(__file__).with_name("expected_scores.json"),
)
