"""Liu et al. as the paper runner sees it (registered as `liu_crunet` in the `liverseg.papers` entry points)."""
from liverseg.runner.paper import Paper

from experiments.liu_crunet import data, figures, paper, predict, stages
from experiments.liu_crunet.config import VARIANTS, LiuConfig, get_config, variant_stage


class Liu(Paper):
    name = "liu_crunet"
    title = paper.TITLE
    config_class = LiuConfig
    get_config = staticmethod(get_config)
    # III-A: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    variants = VARIANTS  # "crunet_d" first: the default variant
    claimed = paper.CLAIMED
    structures = ("liver",)  # II: the liver only
    paper_rows = tuple(paper.PAPER_ROWS)
    overlay_column = "liver_dice"
    expected_keys = ("liver_dice_per_case", "liver_dice_global")
    predictor_class = predict.LiuPredictor
    our_rows, notes = staticmethod(paper.our_rows), staticmethod(paper.notes)
    extra_evaluation = staticmethod(figures.extra_evaluation)

    def stages(self, ctx):
        return stages.stages(ctx.cfg)

    def split(self, ctx, table):
        return data.choose_split(table, ctx.cfg, ctx.cfg.seed)

    def variant_stages(self, ctx, variant):
        return (variant_stage(variant),)


PAPER = Liu()
